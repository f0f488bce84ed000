"""kernels: fused (pipeline/fused.py): D's pass over [x; G(z)] with its backward written out
computes the eager step's gradients, and does the eager step's products."""

import dataclasses

import pytest
import torch

from bench.kernels import record_step
from pipeline import fused, models
from pipeline.adversarial import Trainer, discriminator_loss, generator_loss
from pipeline.models import Discriminator
from pipeline.plumbing.errors import PipelineError

B = 6


def tiny_discriminator(tiny, dtype) -> Discriminator:
    torch.manual_seed(0)
    D = Discriminator(tiny.dataset("mnist").model, (28, 28)).to(dtype)
    with torch.no_grad():
        for p in D.parameters():  # away from irange .005's near-ties and near-zero gradients
            p.normal_(0, 0.05)
    return D


def masks_for(D: Discriminator, x: torch.Tensor) -> list[torch.Tensor]:
    """One dropout multiplier per layer input, 2B rows each, as fused.dropout_mask draws them."""
    widths = [x.shape[1], *(layer.units for layer in D.maxouts)]
    return [
        fused.dropout_mask(x.new_empty(2 * len(x), w), k)
        for w, k in zip(widths, D.keep, strict=True)
    ]


def eager_gradients(D, x, fake, masks, kind):
    """The eager step's two autograd passes, D run on x and on fake separately with the rows of
    `masks` that fused gives each half."""
    halves = {"real": [m[:B] for m in masks], "fake": [m[B:] for m in masks]}

    def run(inputs, half):
        queue = iter(halves[half])
        original = models.F.dropout
        models.F.dropout = lambda h, p, training: h * next(queue)
        try:
            return D(inputs)
        finally:
            models.F.dropout = original

    real, fake_logit = run(x, "real"), run(fake, "fake")
    loss_d = discriminator_loss(real, fake_logit)
    grads_d = torch.autograd.grad(loss_d, list(D.parameters()), retain_graph=True)
    (to_fake,) = torch.autograd.grad(generator_loss(fake_logit, kind), fake)
    return grads_d, to_fake


@pytest.mark.parametrize("kind", ["non_saturating", "minimax"])
def test_the_written_out_backward_is_autograd_s_in_float64(tiny, kind):
    D = tiny_discriminator(tiny, torch.float64)
    x = torch.rand(B, 784, dtype=torch.float64)
    fake = torch.rand(B, 784, dtype=torch.float64, requires_grad=True)
    masks = masks_for(D, x)
    step = fused.discriminator_pass(D, x, fake, kind, masks)
    grads_d, to_fake = eager_gradients(D, x, fake, masks, kind)
    for ours, theirs in zip(step.grads, grads_d, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(step.to_fake, to_fake, rtol=1e-12, atol=1e-15)


def test_one_fused_step_agrees_with_the_eager_step_to_float32_rounding(tiny):
    D = tiny_discriminator(tiny, torch.float32)
    x, fake = torch.rand(B, 784), torch.rand(B, 784, requires_grad=True)
    masks = masks_for(D, x)
    step = fused.discriminator_pass(D, x, fake, "non_saturating", masks)
    grads_d, to_fake = eager_gradients(D, x, fake, masks, "non_saturating")
    for ours, theirs in [*zip(step.grads, grads_d, strict=True), (step.to_fake, to_fake)]:
        scale = float(theirs.abs().max())
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5 * scale)


def test_a_discriminator_only_step_gives_no_gradient_for_g(tiny):
    D = tiny_discriminator(tiny, torch.float32)
    x, fake = torch.rand(B, 784), torch.rand(B, 784)
    step = fused.discriminator_pass(D, x, fake, None)
    assert step.to_fake is None and len(step.grads) == len(list(D.parameters()))


def test_the_fused_step_does_the_eager_step_s_products(tiny):
    """Batched, not fewer: the same multiply-adds (bench's FLOP counter), in fewer calls."""
    ds = tiny.dataset("mnist")
    data = torch.rand(ds.train.batch_size, 784)
    counts = {}
    for kernels in ("eager", "fused"):
        trainer = Trainer(
            dataclasses.replace(tiny, kernels=kernels), ds, data, "cpu", (28, 28), seed=0
        )
        counts[kernels] = record_step(lambda trainer=trainer: trainer.epoch(1))
    (flops_eager, calls_eager), (flops_fused, calls_fused) = counts["eager"], counts["fused"]
    assert flops_fused == flops_eager and len(calls_fused) < len(calls_eager)


def test_fused_kernels_train_an_epoch_with_k_2(tiny):
    ds = tiny.dataset("mnist")
    params = dataclasses.replace(tiny, kernels="fused", k=2)
    trainer = Trainer(params, ds, torch.rand(4 * ds.train.batch_size, 784), "cpu", (28, 28), 0)
    stats = trainer.epoch(1)
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.values())


@pytest.mark.parametrize(
    "change, section, lacking",
    [
        ({"update": "alternating"}, "mnist", "the alternating update"),
        ({"precision": "bf16"}, "mnist", "bf16"),
        ({}, "cifar10_conv", "cifar10_conv's convolutional discriminator"),
    ],
)
def test_fused_kernels_refuse_what_they_have_none_for(tiny_all, change, section, lacking):
    params = dataclasses.replace(tiny_all, kernels="fused", **change)
    ds = params.dataset(section)
    with pytest.raises(
        PipelineError, match=f"'kernels' is 'fused', which has no kernels for {lacking}"
    ):
        Trainer(params, ds, torch.rand(ds.train.batch_size, 3072), "cpu", (3, 32, 32), 0)


def test_a_fused_run_never_resumes_an_eager_checkpoint_and_eager_records_stay_as_they_were(tiny):
    from pipeline.stages.train import trajectory

    ds = tiny.dataset("mnist")
    eager = trajectory(tiny, ds, 0, (2,))
    fused_run = trajectory(dataclasses.replace(tiny, kernels="fused"), ds, 0, (2,))
    assert "kernels" not in eager and fused_run == {**eager, "kernels": "fused"}


def test_the_dropout_mask_keeps_a_share_keep_of_units_scaled_by_1_over_keep():
    torch.manual_seed(0)
    mask = fused.dropout_mask(torch.empty(1000, 1000), 0.8)
    assert set(mask.unique().tolist()) == {0.0, 1.25}
    assert abs(float((mask > 0).float().mean()) - 0.8) < 0.002  # 5 SE of 1e6 draws
    assert fused.dropout_mask(torch.empty(3, 3), 1.0) is None


def test_captions_and_table_notes_say_fused_kernels_only_where_a_run_used_them():
    from pipeline.artifacts import arithmetic

    assert arithmetic({"precision": "fp32"}) == "fp32"  # records from before `kernels`: eager
    assert arithmetic({"precision": "fp32", "kernels": "fused"}) == "fp32, fused kernels"
