"""Where does CIFAR-10's fully connected run leave finite range with the released init? Its first
steps replayed one by one with the pipeline's own `Trainer`, in float32 (as trained) or float64,
logging after every step each layer's weight, gradient and velocity norms, the losses and D's
logits on the real and the generated minibatch.

    python -m studies.fc_start [--steps 200] [--dtype float64] [--irange 0.5] [--seed 0]
                               [--out metrics/studies/fc-start/float64.csv]
                               [--every 50] [--grids DIR]

`--irange` sets G's output layer's init (the release's .5; params.yaml's deviation .05). The run
stops at the first step whose losses or weights are not finite, and names the layer that left
finite range first. A float64 replay that stays finite where float32 does not would point at
rounding; one that diverges at the same step points at the recipe's dynamics. `--steps` may run
past epoch 1, as `train` would. `--every N` also writes the samples' spread (relative to the
validation images', as `train` logs it) every N steps to <out>-spread.csv, from 1,000 fixed
draws of z that leave the run's own random streams alone; `--grids DIR` saves 20 of those
samples at each epoch's end (DIR/step-<n>.png).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from pipeline import params as P
from pipeline.adversarial import Trainer, spread
from pipeline.artifacts import load_processed
from pipeline.datasets import SOURCES
from pipeline.images import for_display
from pipeline.models import sample_noise
from pipeline.paths import write_csv
from pipeline.stages.sample import grid, save_png
from studies.steps import first_steps

LOOK = 1000  # fixed draws of z for the spread; the first 20 make the grids


class Log:
    """One row per step: the losses, D's logits, and per layer |W|, |grad|, |velocity|."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.row: dict = {}
        self.real_loss = math.nan  # D's loss on the real minibatch of the current step
        self.first_bad: str | None = None

    def logits(self, module, inputs, output) -> None:
        """D's forward hook: the first call of a step sees the real minibatch, the second the
        generated one (the simultaneous update)."""
        kind = "real" if "real_logit" not in self.row else "fake"
        z = output.detach().double()
        self.row[f"{kind}_logit"] = float(z.mean())
        self.row[f"{kind}_logit_sd"] = float(z.std())
        if kind == "real":
            self.real_loss = float(F.softplus(-z).mean())
        else:
            self.row["loss_d"] = 0.5 * (self.real_loss + float(F.softplus(z).mean()))
            self.row["loss_g"] = float(F.softplus(-z).mean())

    def watch(self, opt, net: torch.nn.Module, tag: str) -> None:
        names = [name for name, _ in net.named_parameters()]
        inner = opt.step

        def step(grads, momentum) -> None:
            inner(grads, momentum)
            for name, w, g, v in zip(names, opt.tensors, grads, opt.velocity, strict=True):
                w_norm, g_norm, v_norm = (float(t.detach().norm()) for t in (w, g, v))
                values = {"w": w_norm, "grad": g_norm, "v": v_norm}
                for what, value in values.items():
                    self.row[f"{tag}.{name} |{what}|"] = value
                    if not math.isfinite(value) and self.first_bad is None:
                        self.first_bad = f"{tag}.{name} ({what})"

        opt.step = step

    def end_step(self, step: int) -> None:
        self.rows.append({"step": step, **self.row})
        self.row = {}


def replay(
    trainer: Trainer,
    log: Log,
    steps: int,
    valid: torch.Tensor,
    every: int = 0,
    grids: Path | None = None,
) -> tuple[int, list[tuple[int, float]]]:
    """Train `trainer` for `steps` G updates, `log` taking a row per step, until the last or a
    non-finite one; every `every` steps the spread of G's samples of LOOK fixed draws of z
    relative to `valid`'s, and at each epoch's end a grid of 20 of them in `grids`. Returns the
    steps done and the (step, spread) pairs."""
    ds = trainer.ds
    z = sample_noise(ds.model, LOOK, torch.Generator().manual_seed(0), trainer.device)
    per_epoch = len(trainer.data) // ds.train.batch_size
    shape = SOURCES[ds.source].image_shape
    spreads: list[tuple[int, float]] = []
    if grids is not None:
        grids.mkdir(parents=True, exist_ok=True)

    def look() -> torch.Tensor:
        with torch.no_grad():
            was = trainer.G.training
            trainer.G.eval()
            samples = trainer.G(z)
            trainer.G.train(was)
        return samples

    valid_spread = spread(valid)

    def logged(done: int) -> bool:
        log.end_step(done)
        measure = every and done % every == 0
        show = grids is not None and done % per_epoch == 0
        samples = look() if measure or show else None
        if measure:
            spreads.append((done, spread(samples) / valid_spread))
        if show:
            shown = samples[:20].double().numpy()
            image = grid(for_display(shown, SOURCES[ds.source].display), 4, 5, shape)
            save_png(grids / f"step-{done}.png", image)
        return done >= steps or log.first_bad is not None

    done = first_steps(trainer, logged, epochs=math.ceil(steps / per_epoch))
    return done, spreads


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studies.fc_start", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dataset", default="cifar10_fc")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--irange", type=float, default=0.5, help="G's output layer's irange")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--every", type=int, default=0, help="steps between spreads (0: none)")
    parser.add_argument("--grids", type=Path, help="a folder for 20 samples at each epoch's end")
    args = parser.parse_args()
    torch.set_default_dtype(getattr(torch, args.dtype))
    params = P.load()
    ds = params.dataset(args.dataset)
    generator = dataclasses.replace(ds.model.generator, output_irange=args.irange)
    ds = dataclasses.replace(ds, model=dataclasses.replace(ds.model, generator=generator))
    data = load_processed(ds.name)
    train = torch.from_numpy(data.train).to(torch.get_default_dtype())
    trainer = Trainer(params, ds, train, "cpu", data.image_shape, args.seed)
    log = Log()
    trainer.D.register_forward_hook(log.logits)
    log.watch(trainer.opt_d, trainer.D, "D")
    log.watch(trainer.opt_g, trainer.G, "G")

    valid = torch.from_numpy(data.valid(0)[: ds.parzen.valid]).to(train.dtype)
    done, spreads = replay(trainer, log, args.steps, valid, args.every, args.grids)
    print(f"{ds.name}, {args.dtype}, G output irange {args.irange}, seed {args.seed}")
    print("| step | loss D | loss G | D logit, real | generated | largest |W| in G | in D |")
    print("|---|---|---|---|---|---|---|")
    for row in log.rows:
        if row["step"] % 10 and row is not log.rows[-1]:
            continue
        biggest = {
            tag: max((v for k, v in row.items() if k.startswith(tag) and "|w|" in k), default=0)
            for tag in ("G.", "D.")
        }
        cells = [row.get(k, math.nan) for k in ("loss_d", "loss_g", "real_logit", "fake_logit")]
        cells += [biggest["G."], biggest["D."]]
        print(f"| {row['step']} | " + " | ".join(f"{c:.4g}" for c in cells) + " |")
    print(f"first non-finite: {log.first_bad or 'none'} (after {done} steps)")
    for step, value in spreads:
        print(f"spread at step {step}: {value:.3f}")
    if args.out:
        fields = sorted({k for row in log.rows for k in row}, key=lambda k: (k != "step", k))
        write_csv(args.out, fields, log.rows)
        if spreads:
            rows = [{"step": step, "spread": value} for step, value in spreads]
            write_csv(args.out.with_name(f"{args.out.stem}-spread.csv"), ["step", "spread"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
