"""Algorithm 1 of the paper with the optimiser of the released code: one run (one seed) of G
against D, epoch by epoch, with its validation scores and model selection. The stage that runs
it, for every seed, is pipeline/train.py; what a checkpoint must share with a run to resume it
includes this module's code (and that of what it imports; train.NOT_COMPUTING).

Two readings of Algorithm 1 (param ``update``):

- ``simultaneous`` (default; goodfeli/adversarial): every iteration draws one minibatch and one
  noise batch; the last of the k discriminator steps and the generator step share that forward
  pass (G's loss reuses the same dropout-perturbed D(G(z))) and both updates are applied
  together. With k = 1 this is exactly the released code.
- ``alternating`` (Algorithm 1 read literally): k discriminator steps, then one generator step on
  fresh noise against the updated discriminator. Each net's learning rate decays with its own
  step count, so with k > 1 G's decays k times slower; the release's only k > 1 code
  (``adversarial/sgd.py``, ``discriminator_steps``) decays one rate per minibatch for both
  nets. Any k > 1 here is this project's generalisation, not the release's.

Objectives (recipe, "released training code"): D minimises 0.5 (BCE(D(x), 1) + BCE(D(G(z)), 0));
G minimises BCE(D(G(z)), 1) ("non_saturating", section 3) or log(1 - D(G(z))) ("minimax",
equation 1). Optimiser: v <- m v - lr g; theta <- theta + v, with lr_t = max(lr0 / 1.000004^t,
1e-6) after t steps of that net and m rising linearly 0.5 -> 0.7 from epoch 1 to 250.

A second phase (TFD, tfd_pretrain/train.yaml) puts new layers in front of the trained generator
and trains on with a fresh discriminator, fresh optimisers and the schedules restarted, as a new
Pylearn2 run would. Pylearn2's max_col_norm (TFD) rescales every dense layer's incoming weight
vectors to norm <= c after each update.

An epoch is one pass of the discriminator over the training set (N / batch D steps, N / (batch k)
G steps). Every ``eval_every`` epochs the validation Parzen score (sigma cross-validated on the
validation slice), and the samples' spread, are logged, and the generator with the best score
is kept, one that does not look collapsed beating any that does (stopping.better): model
selection never sees the test set. A run that meets the collapse rule, or whose score has not
improved for ``patience`` evaluations (stopping.py), stops there. Random numbers come from one
independent stream per purpose (streams.py).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from pipeline import checkpoints, fused, machine, parzen_window, stopping, streams
from pipeline.models import (
    Discriminator,
    Generator,
    constrained_weights,
    draw_samples,
    sample_noise,
    save_generator,
)
from pipeline.params import DatasetParams, Params, TrainSpec
from pipeline.plumbing import progress
from pipeline.plumbing.errors import Interrupted, PipelineError

STATE = "state.pt"  # a run's checkpoint, in its folder beside generator_*.pt and live/


def momentum_at(epoch: int, spec: TrainSpec) -> float:
    """m_e = m0 + (m1 - m0) min(e - 1, E - 1) / (E - 1), epochs counted from 1 (Pylearn2
    MomentumAdjustor: start=1, saturate=E)."""
    m0, m1 = spec.momentum
    span = max(spec.momentum_epochs - 1, 1)
    return m0 + (m1 - m0) * min(epoch - 1, span) / span


def learning_rate_at(step: int, spec: TrainSpec) -> float:
    """lr after `step` SGD steps: max(lr0 / decay^step, lr_min) (Pylearn2 ExponentialDecay)."""
    return max(spec.lr / spec.lr_decay**step, spec.lr_min)


class Momentum:
    """Classical momentum with the learning rate inside the velocity: v <- m v - lr g;
    theta <- theta + v (Pylearn2 SGD + MomentumAdjustor). Counts its own steps for the lr decay.
    With `max_col_norm`, each weight matrix in `constrained` then has every row rescaled by
    min(|w|, c) / (1e-7 + |w|) (Pylearn2 max_col_norm; a row here is a column there)."""

    def __init__(
        self,
        tensors: list[Tensor],
        spec: TrainSpec,
        max_col_norm: float | None = None,
        constrained: list[Tensor] = (),
    ) -> None:
        self.tensors, self.spec, self.steps = tensors, spec, 0
        self.velocity = [torch.zeros_like(t) for t in tensors]
        self.max_col_norm = max_col_norm
        self.constrained = list(constrained) if max_col_norm is not None else []

    @torch.no_grad()
    def step(self, grads: tuple[Tensor, ...], momentum: float) -> None:
        lr = learning_rate_at(self.steps, self.spec)
        torch._foreach_mul_(self.velocity, momentum)
        torch._foreach_add_(self.velocity, grads, alpha=-lr)
        torch._foreach_add_(self.tensors, self.velocity)
        for w in self.constrained:
            norms = w.norm(dim=1, keepdim=True)
            w.mul_(norms.clamp(max=self.max_col_norm) / (1e-7 + norms))
        self.steps += 1

    def state_dict(self) -> dict:
        return {"velocity": self.velocity, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for v, saved in zip(self.velocity, state["velocity"], strict=True):
                v.copy_(saved)
        self.steps = state["steps"]


def discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
    """0.5 (BCE(D(x), 1) + BCE(D(G(z)), 0)) on logits."""
    return 0.5 * (F.softplus(-real).mean() + F.softplus(fake).mean())


def generator_loss(fake: Tensor, kind: str) -> Tensor:
    """non_saturating: -log D(G(z)); minimax: log(1 - D(G(z))) (equation 1)."""
    if kind == "non_saturating":
        return F.softplus(-fake).mean()
    return -F.softplus(fake).mean()


def autocast(device: torch.device, precision: str):
    """bf16: matrix products and convolutions of the forward pass (and so of its backward) in
    bfloat16 under torch.autocast; weights, gradients, the momentum update and the losses stay
    float32. fp32: a disabled autocast, which changes nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def check_precision(precision: str, device: torch.device) -> None:
    """bf16 only where the hardware has it: a CUDA GPU with bf16, or a CPU whose oneDNN build
    has bf16 kernels (AVX512-BF16/AMX; emulated with AVX-512 otherwise)."""
    if precision != "bf16":
        return
    if device.type == "cuda":
        ok = torch.cuda.is_bf16_supported()
    else:
        ok = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    if not ok:
        raise PipelineError(
            f"params.yaml: 'precision' is 'bf16' but {device.type} has no bfloat16 support here;"
            " expected 'fp32' on this machine"
        )


def check_kernels(params: Params, ds: DatasetParams) -> None:
    """kernels: fused only where fused.py has them: a fully connected discriminator, the
    simultaneous update, fp32."""
    if params.kernels != "fused":
        return
    lacking = (
        "the alternating update"
        if params.update != "simultaneous"
        else "bf16"
        if params.precision != "fp32"
        else f"{ds.name}'s convolutional discriminator"
        if ds.model.discriminator.conv
        else None
    )
    if lacking:
        raise PipelineError(
            f"{params.file}: 'kernels' is 'fused', which has no kernels for {lacking}; "
            "expected 'eager'"
        )


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PipelineError("params.yaml: 'device' is 'cuda' but no CUDA device is available")
    return torch.device(name)


class Trainer:
    """The state of one run: nets, optimisers, data on the device, RNG, step counters."""

    def __init__(
        self, params: Params, ds: DatasetParams, train: Tensor, device, image_shape, seed: int
    ) -> None:
        self.params, self.ds, self.device = params, ds, torch.device(device)
        check_precision(params.precision, self.device)
        check_kernels(params, ds)
        self.image_shape, self.seed = image_shape, seed
        seeds = streams.seeds(seed)  # one independent stream per purpose
        self.init = torch.Generator().manual_seed(seeds["init"])  # nets are built on the CPU
        self.shuffle = torch.Generator(device=device).manual_seed(seeds["shuffle"])
        self.noise_rng = torch.Generator(device=device).manual_seed(seeds["noise"])
        torch.manual_seed(seeds["dropout"])  # the global generator: F.dropout's masks only
        self.data = train.to(device)
        self.stop: str | None = None  # set by a signal: stop at the end of the current step
        two_phase = ds.model.generator.extend is not None
        with streams.drawing_from(self.init):
            self.G = Generator(ds.model, image_shape, extended=not two_phase).to(device)
        self.G.init_output_bias(self.data.mean(0))
        self.phase = 0
        self.start_phase()

    def start_phase(self) -> None:
        """A fresh discriminator and fresh optimisers (schedules from step 0) for the current G."""
        spec = self.ds.model
        with streams.drawing_from(self.init):
            self.D = Discriminator(spec, self.image_shape).to(self.device)
        constrained_g, constrained_d = constrained_weights(self.G), constrained_weights(self.D)
        self.opt_g = Momentum(
            list(self.G.parameters()), self.ds.train, spec.max_col_norm, constrained_g
        )
        self.opt_d = Momentum(
            list(self.D.parameters()), self.ds.train, spec.max_col_norm, constrained_d
        )
        self.d_steps = 0  # discriminator steps so far; a generator step follows every k-th

    def extend_generator(self) -> None:
        """TFD's second phase: new layers in front of the pretrained G, then a fresh D."""
        with streams.drawing_from(self.init):
            self.G = self.G.extended(self.ds.model, self.image_shape)
        self.phase += 1
        self.start_phase()

    def state_dict(self) -> dict:
        """Everything the next epoch depends on: nets, optimisers, counters and RNG states."""
        cuda = self.device.type == "cuda"
        return {
            "phase": self.phase,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "d_steps": self.d_steps,
            "init": self.init.get_state(),
            "shuffle": self.shuffle.get_state(),
            "noise": self.noise_rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if cuda else None,
        }

    def load_state_dict(self, state: dict) -> None:
        while self.phase < state["phase"]:  # the extended G (and its fresh D) of a later phase
            self.extend_generator()
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.d_steps = state["d_steps"]
        self.init.set_state(state["init"])
        self.shuffle.set_state(state["shuffle"])
        self.noise_rng.set_state(state["noise"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)

    def noise(self, n: int) -> Tensor:
        return sample_noise(self.ds.model, n, self.noise_rng, self.device)

    def epoch(self, epoch: int, show: bool = False) -> dict[str, float]:
        """One pass of D over the training set; returns the epoch's mean losses and accuracies.
        `show`: a bar with elapsed time and ETA on a terminal (nothing otherwise)."""
        k, update, loss_kind = self.params.k, self.params.update, self.params.generator_loss
        precision = self.params.precision
        fused_kernels = self.params.kernels == "fused"
        m = momentum_at(epoch, self.ds.train)
        B = self.ds.train.batch_size
        n_batches = len(self.data) // B
        perm = torch.randperm(len(self.data), generator=self.shuffle, device=self.device)
        G_params, D_params = self.opt_g.tensors, self.opt_d.tensors
        self.G.train()
        self.D.train()
        # on-device accumulators: no host sync inside the loop
        totals = torch.zeros(4, device=self.device)  # loss_d, acc_real, acc_fake, loss_g
        g_steps = 0
        for i in progress.steps(n_batches, f"epoch {epoch}", show):
            if self.stop:
                raise Interrupted(
                    f"{self.ds.name}: stopped by {self.stop} in epoch {epoch} of phase "
                    f"{self.phase + 1} (step {i} of {n_batches}); rerun to resume from the "
                    "checkpoint of the last finished epoch"
                )
            x = self.data[perm[i * B : (i + 1) * B]]
            with_g = self.d_steps % k == k - 1
            share = with_g and update == "simultaneous"
            z = self.noise(B)
            if fused_kernels:  # one D pass over [x; G(z)], its backward written out
                with torch.set_grad_enabled(share):
                    fake = self.G(z)
                step = fused.discriminator_pass(self.D, x, fake, loss_kind if share else None)
                real_logit, fake_logit = step.real_logit, step.fake_logit
                loss_d = discriminator_loss(real_logit, fake_logit)
                self.opt_d.step(step.grads, m)
                if share:
                    loss_g = generator_loss(fake_logit, loss_kind)
                    self.opt_g.step(torch.autograd.grad(fake, G_params, step.to_fake), m)
            else:
                with autocast(self.device, precision):
                    with torch.set_grad_enabled(share):
                        fake = self.G(z)
                    real_logit = self.D(x).float()
                    fake_logit = self.D(fake if share else fake.detach()).float()
                loss_d = discriminator_loss(real_logit, fake_logit)
                grads_d = torch.autograd.grad(loss_d, D_params, retain_graph=share)
                if share:  # same forward pass and minibatch; apply both updates together
                    loss_g = generator_loss(fake_logit, loss_kind)
                    grads_g = torch.autograd.grad(loss_g, G_params)
                    self.opt_d.step(grads_d, m)
                    self.opt_g.step(grads_g, m)
                else:
                    self.opt_d.step(grads_d, m)
                    if with_g:  # alternating: fresh noise against the updated discriminator
                        with autocast(self.device, precision):
                            logit = self.D(self.G(self.noise(B))).float()
                        loss_g = generator_loss(logit, loss_kind)
                        self.opt_g.step(torch.autograd.grad(loss_g, G_params), m)
            self.d_steps += 1
            with torch.no_grad():
                totals[0] += loss_d
                totals[1] += (real_logit > 0).float().mean()
                totals[2] += (fake_logit < 0).float().mean()
                if with_g:
                    totals[3] += loss_g
                    g_steps += 1
        loss_d, acc_real, acc_fake, loss_g = totals.tolist()  # the epoch's one host sync
        if not (math.isfinite(loss_d) and math.isfinite(loss_g)):
            raise PipelineError(
                f"{self.ds.name}: training diverged in epoch {epoch} of phase "
                f"{self.phase + 1} (mean losses D {loss_d}, G {loss_g}); stopped without "
                "saving this epoch's generator"
            )
        return {
            "loss_d": loss_d / n_batches,
            "loss_g": loss_g / max(g_steps, 1),
            "acc_real": acc_real / n_batches,
            "acc_fake": acc_fake / n_batches,
            "momentum": m,
            "lr": learning_rate_at(self.opt_d.steps, self.ds.train),
        }

    @torch.no_grad()
    def samples(self, n: int) -> Tensor:
        """n samples of G without dropout, from the `eval` stream's first draws (the same z at
        every validation score)."""
        rng = streams.generator(self.seed, "eval", self.device)
        return draw_samples(self.G, self.ds.model, n, rng, self.device)


def log_epoch(live, stats: dict, last: bool) -> None:
    for name, value in stats.items():
        live.log_metric(name, value, plot=name not in ("epoch_seconds", "phase"))
    if not last:
        live.next_step()


def spread(images: Tensor) -> float:
    """Mean over pixels of the standard deviation across `images` (stopping.py)."""
    return float(images.float().std(0).mean())


def fit(
    trainer: Trainer,
    phases: tuple[int, ...],
    valid: Tensor,
    meta: dict,
    folder: Path,
    identity: dict,
    resumed: dict | None,
    report: progress.Report,
    show: bool = False,
) -> dict:
    """Train `trainer` for `phases` (epochs per phase) from `resumed` (a checkpoint of this run,
    or None), saving the whole state atomically in `folder` after every epoch, the best
    generator as generator_best.pt, the last as generator_last.pt and the log in live/. Stops
    early when the run collapses or stops improving (stopping.py). After each epoch `report`
    gets an "epoch" event (plumbing/progress.py); `show`: a bar over each epoch's steps.
    Returns the run's summary."""
    from dvclive import Live

    ds = trainer.ds
    valid_spread = spread(valid)
    plan = [(phase, epoch) for phase, n in enumerate(phases) for epoch in range(1, n + 1)]
    total, final = len(plan), len(phases) - 1
    done, seconds, history = 0, 0.0, []  # epochs finished, their wall time, their stats
    best = {"valid_ll": -math.inf, "epoch": 0, "sigma": float("nan")}
    machines: list[dict] = []  # where its epochs were trained, in order (machine.py)
    if resumed is not None:
        trainer.load_state_dict(resumed["trainer"])
        done, seconds = resumed["done"], resumed["seconds"]
        history, best = resumed["history"], resumed["best"]
        machines = resumed.get("machines", [])  # none in checkpoints older than the record
    here = machine.describe(trainer.device)
    # the collapse rule sees the last phase only (an earlier one ends with a fresh D anyway)
    in_final = [s if s.get("phase") == final else {} for s in history]
    collapsed = stopping.collapsed(in_final, ds.train.collapse)
    plateaued = stopping.no_improvement(in_final, best["epoch"], ds.train)
    with Live(str(folder / "live"), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        live.step = 1  # dvclive's step is the epoch over all phases, counted from 1
        for step, stats in enumerate(history, 1):  # the log so far, as it was written
            log_epoch(live, stats, last=step in (total, collapsed, plateaued))
        for step, (phase, epoch) in enumerate(plan, 1):  # momentum restarts with each phase
            if step <= done or collapsed or plateaued:
                continue
            tick = time.perf_counter()
            if not machines or machines[-1] != here:
                machines.append(here)
            if phase > 0 and epoch == 1:
                save_generator(trainer.G, meta, folder / "generator_pretrained.pt")
                trainer.extend_generator()
            stats = {"phase": phase, **trainer.epoch(epoch, show=show)}
            stats["epoch_seconds"] = time.perf_counter() - tick
            if epoch % ds.train.eval_every == 0 or epoch == phases[phase]:
                samples = trainer.samples(ds.parzen.samples)
                chosen = parzen_window.select_sigma(valid, samples, ds.parzen)
                stats["valid_parzen"] = float(chosen.valid_ll.max())
                stats["valid_sigma"] = chosen.sigma
                stats["spread"] = spread(samples) / valid_spread
                best_stats = history[best["epoch"] - 1] if best["epoch"] else None
                if phase == final and stopping.better(stats, best_stats, ds.train.collapse):
                    best = {"valid_ll": stats["valid_parzen"], "epoch": step, "sigma": chosen.sigma}
                    save_generator(trainer.G, {**meta, **best}, folder / "generator_best.pt")
            history.append(stats)
            in_final.append(stats if phase == final else {})
            collapsed = stopping.collapsed(in_final, ds.train.collapse)
            plateaued = stopping.no_improvement(in_final, best["epoch"], ds.train)
            log_epoch(live, stats, last=step in (total, collapsed, plateaued))
            seconds += time.perf_counter() - tick
            checkpoints.save(
                {
                    "identity": identity,
                    "done": step,
                    "trainer": trainer.state_dict(),
                    "best": best,
                    "history": history,
                    "seconds": seconds,
                    "machines": machines,
                },
                folder / STATE,
            )
            stopping_for = "collapse" if collapsed else "no improvement" if plateaued else None
            report(
                {
                    "event": "epoch",
                    "step": step,
                    "total": total,
                    "stats": stats,
                    "stopping": stopping_for,
                    "best_epoch": best["epoch"],
                }
            )
        summary = {
            "best_epoch": best["epoch"],
            "best_valid_parzen": best["valid_ll"],
            "best_valid_sigma": best["sigma"],
            "epochs_run": len(history),
            "collapsed": collapsed is not None,
            "collapse_epoch": collapsed,
            "plateau_epoch": plateaued,
            "train_seconds": seconds,
            "machines": machines,
        }
        live.summary.update(summary)
    last = {"epoch": len(history), "valid_ll": history[-1]["valid_parzen"]}
    save_generator(trainer.G, {**meta, **last}, folder / "generator_last.pt")
    return summary
