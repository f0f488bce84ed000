"""Stage `train`: Algorithm 1 of the paper with the optimiser of the released code.

Two readings of Algorithm 1 (param ``update``):

- ``simultaneous`` (default; goodfeli/adversarial): every iteration draws one minibatch and one
  noise batch; the last of the k discriminator steps and the generator step share that forward
  pass (G's loss reuses the same dropout-perturbed D(G(z))) and both updates are applied
  together. With k = 1 this is exactly the released code.
- ``alternating`` (Algorithm 1 read literally): k discriminator steps, then one generator step on
  fresh noise against the updated discriminator.

Objectives (recipe, "released training code"): D minimises 0.5 (BCE(D(x), 1) + BCE(D(G(z)), 0));
G minimises BCE(D(G(z)), 1) ("non_saturating", section 3) or log(1 - D(G(z))) ("minimax",
equation 1). Optimiser: v <- m v - lr g; theta <- theta + v, with lr_t = max(lr0 / 1.000004^t,
1e-6) after t steps of that net and m rising linearly 0.5 -> 0.7 from epoch 1 to 250.

A second phase (TFD, tfd_pretrain/train.yaml) puts new layers in front of the trained generator
and trains on with a fresh discriminator, fresh optimisers and the schedules restarted, as a new
Pylearn2 run would. Pylearn2's max_col_norm (TFD) rescales every dense layer's incoming weight
vectors to norm <= c after each update. The number of epochs per phase is ``train.epochs`` (the
paper's schedule) or ``train.cpu_epochs`` (reduced, same nets), see ``schedule`` in params.yaml.

An epoch is one pass of the discriminator over the training set (N / batch D steps, N / (batch k)
G steps). Every ``eval_every`` epochs the validation Parzen score (sigma cross-validated on the
validation slice) is logged, and the generator with the best one is kept: model selection never
sees the test set.

Runs survive (README, Reliability): at the end of every epoch the whole state (G, D, both
optimisers' velocities and step counts, every RNG state, the best-so-far record, the logged
history) goes atomically into checkpoints/<dataset>/, which DVC neither tracks nor deletes. A
rerun with the same params, data and training code resumes there and ends bit-identical to an
uninterrupted run; anything else starts fresh and says why. The stage's outputs (models/,
metrics/.../train/) are replaced only when training finishes, so a failed or interrupted run
leaves the previous ones as they were. Ctrl-C (or SIGTERM, or DVC dying under it) stops at the
end of the current step, with the last epoch's checkpoint to resume from.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import select
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from pipeline import checkpoints, code, parzen_window, streams
from pipeline.artifacts import load_processed
from pipeline.errors import Interrupted, PipelineError
from pipeline.models import (
    Discriminator,
    Generator,
    constrained_weights,
    sample_noise,
    save_generator,
)
from pipeline.params import DatasetParams, Params, TrainSpec, as_dict
from pipeline.paths import Paths, atomic_dir, md5sum


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


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PipelineError("params.yaml: 'device' is 'cuda' but no CUDA device is available")
    return torch.device(name)


class Trainer:
    """The state of one run: nets, optimisers, data on the device, RNG, step counters."""

    def __init__(
        self, params: Params, ds: DatasetParams, train: Tensor, device, image_shape
    ) -> None:
        self.params, self.ds, self.device = params, ds, torch.device(device)
        check_precision(params.precision, self.device)
        self.image_shape = image_shape
        seeds = streams.seeds(params.seed)  # one independent stream per purpose
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

    def epoch(self, epoch: int, progress: bool = False) -> dict[str, float]:
        """One pass of D over the training set; returns the epoch's mean losses and accuracies.
        `progress`: a bar with elapsed time and ETA on a terminal (nothing otherwise)."""
        k, update, loss_kind = self.params.k, self.params.update, self.params.generator_loss
        precision = self.params.precision
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
        bar = tqdm(range(n_batches), f"epoch {epoch}", leave=False, unit="step",
                   disable=None if progress else True)  # fmt: skip
        for i in bar:
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
        self.G.eval()
        rng = streams.generator(self.params.seed, "eval", self.device)
        return self.G(sample_noise(self.ds.model, n, rng, self.device))


STATE = "state.pt"  # in checkpoints/<dataset>/, beside generator_best/pretrained.pt and live/


def fingerprint(meta: dict, data: Path, device: torch.device) -> dict:
    """What a checkpoint must share with a run to be resumed by it."""
    return {
        "params": json.loads(json.dumps(meta)),
        "data": md5sum(data),
        "training code": {name: md5sum(code.ROOT / name) for name in code.closure(__name__)},
        "device": device.type,
    }


def resumable(path: Path, identity: dict, fresh: bool, name: str) -> dict | None:
    """The saved state at `path` if this run continues it, else None (and says why)."""
    if not path.is_file():
        return None
    if fresh:
        print(f"{name}: starting fresh (--fresh); discarding {path}", flush=True)
        return None
    saved = checkpoints.load(path, f"delete it, or run `python -m pipeline train {name} --fresh`")
    theirs = saved.get("identity", {})
    changed = [key for key, value in identity.items() if theirs.get(key) != value]
    if changed:
        print(f"{name}: starting fresh: the {' and '.join(changed)} differ from those of the "
              f"checkpoint at epoch {saved['done']} ({path})", flush=True)  # fmt: skip
        return None
    return saved


@contextmanager
def exclusive(directory: Path, name: str) -> Iterator[None]:
    """An exclusive lock on `directory` while training: a second `train <name>` (say, beside a
    trainer left running by a killed `dvc repro`) stops instead of writing over it."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PipelineError(
                f"{directory}: another `train {name}` is running on it; wait for it or stop it"
            ) from None
        yield
    finally:
        os.close(fd)


SHELLS = frozenset({"sh", "dash", "bash", "zsh", "fish", "ksh", "mksh"})


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def dvc_process() -> int:
    """The process that runs this stage: the first ancestor that is not the shell DVC runs the
    command through (bash replaces itself with the command; dash, /bin/sh when $SHELL is unset,
    stays in between). 1 when that process has died already (we were handed to init)."""
    pid = os.getppid()
    while pid > 1 and Path(f"/proc/{pid}/comm").read_text().strip() in SHELLS:
        pid = parent_of(pid)
    return pid


@contextmanager
def on_exit_of(pid: int, act: Callable[[], None]) -> Iterator[None]:
    """Call `act` (from a thread) when process `pid` exits, or at once when it has already."""
    watched = None
    if pid > 1:
        with suppress(ProcessLookupError):
            watched = os.pidfd_open(pid)
    if watched is None:
        act()
        yield
        return
    wake, waker = os.pipe()

    def wait() -> None:
        if watched in select.select([watched, wake], [], [])[0]:
            act()

    thread = threading.Thread(target=wait, name=f"watch {pid}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        os.write(waker, b"\0")
        thread.join()
        for fd in (watched, wake, waker):
            os.close(fd)


@contextmanager
def stop_on_signals(trainer: Trainer) -> Iterator[None]:
    """Ctrl-C and SIGTERM make the trainer stop at the end of its current step (a second one
    stops it at once). Under DVC (Linux), the death of `dvc` does too, so no trainer outlives
    the command that started it."""

    def ask(signum, frame) -> None:
        trainer.stop = signal.Signals(signum).name
        signal.signal(signum, signal.SIG_DFL)

    def orphaned() -> None:
        trainer.stop = "the death of dvc"

    previous = {s: signal.signal(s, ask) for s in (signal.SIGINT, signal.SIGTERM)}
    under_dvc = bool(os.environ.get("DVC_STAGE")) and sys.platform == "linux"
    try:
        with on_exit_of(dvc_process(), orphaned) if under_dvc else nullcontext():
            yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def log_epoch(live, stats: dict, last: bool) -> None:
    for name, value in stats.items():
        live.log_metric(name, value, plot=name not in ("epoch_seconds", "phase"))
    if not last:
        live.next_step()


def run(params: Params, ds: DatasetParams, fresh: bool = False) -> None:
    from dvclive import Live

    paths = Paths(ds.name)
    device = pick_device(params.device)
    schedule = params.resolved_schedule(device.type == "cuda")
    phases = ds.train.schedule(schedule)
    data = load_processed(ds.name)
    trainer = Trainer(params, ds, torch.from_numpy(data.train), device, data.image_shape)
    valid = torch.from_numpy(data.valid(0)[: ds.parzen.valid]).to(device)
    meta = {
        "dataset": as_dict(ds),
        "k": params.k,
        "update": params.update,
        "generator_loss": params.generator_loss,
        "seed": params.seed,
        "precision": params.precision,
        "schedule": schedule,
        "epochs": list(phases),
    }
    total = sum(phases)
    ckpt = paths.checkpoints
    with exclusive(ckpt, ds.name), stop_on_signals(trainer):
        identity = fingerprint(meta, paths.processed, device)
        saved = resumable(ckpt / STATE, identity, fresh, ds.name)
        done, seconds, history = 0, 0.0, []  # epochs finished, their wall time, their stats
        best = {"valid_ll": -math.inf, "epoch": 0, "sigma": float("nan")}
        if saved is None:
            for old in ckpt.iterdir():
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        else:
            trainer.load_state_dict(saved["trainer"])
            done, seconds = saved["done"], saved["seconds"]
            history, best = saved["history"], saved["best"]
            print(f"{ds.name}: resuming after epoch {done} of {total} ({ckpt / STATE})", flush=True)
        with (
            Live(str(ckpt / "live"), dvcyaml=None, save_dvc_exp=False, report=None) as live,
            tqdm(total=total, initial=done, desc=ds.name, unit="epoch", disable=None) as bar,
        ):
            live.step = 1  # dvclive's step is the epoch over all phases, counted from 1
            for step, stats in enumerate(history, 1):  # the log so far, as it was written
                log_epoch(live, stats, last=step == total)
            step = 0  # epochs over all phases
            for phase, epochs in enumerate(phases):
                final = phase == len(phases) - 1
                for epoch in range(1, epochs + 1):  # momentum schedule restarts with each phase
                    step += 1
                    if step <= done:
                        continue
                    tick = time.perf_counter()
                    if phase > 0 and epoch == 1:
                        save_generator(trainer.G, meta, ckpt / "generator_pretrained.pt")
                        trainer.extend_generator()
                    stats = {"phase": phase, **trainer.epoch(epoch, progress=True)}
                    stats["epoch_seconds"] = time.perf_counter() - tick
                    if epoch % ds.train.eval_every == 0 or epoch == epochs:
                        samples = trainer.samples(ds.parzen.samples)
                        chosen = parzen_window.select_sigma(valid, samples, ds.parzen)
                        stats["valid_parzen"] = float(chosen.valid_ll.max())
                        stats["valid_sigma"] = chosen.sigma
                        if final and stats["valid_parzen"] > best["valid_ll"]:
                            best = {"valid_ll": stats["valid_parzen"], "epoch": step,
                                    "sigma": chosen.sigma}  # fmt: skip
                            save_generator(trainer.G, {**meta, **best}, ckpt / "generator_best.pt")
                    history.append(stats)
                    log_epoch(live, stats, last=step == total)
                    seconds += time.perf_counter() - tick
                    checkpoints.save(
                        {"identity": identity, "done": step, "trainer": trainer.state_dict(),
                         "best": best, "history": history, "seconds": seconds},
                        ckpt / STATE,
                    )  # fmt: skip
                    bar.update()
                    bar.write(
                        f"{ds.name} epoch {step}/{total} "
                        + " ".join(f"{k}={v:.4g}" for k, v in stats.items()),
                        file=sys.stdout,
                    )
                    sys.stdout.flush()  # a log file or pipe sees each epoch as it ends
            live.summary.update(
                {
                    "best_epoch": best["epoch"],
                    "best_valid_parzen": best["valid_ll"],
                    "best_valid_sigma": best["sigma"],
                    "epochs": total,
                    "schedule": schedule,
                    "precision": params.precision,
                    "train_seconds": seconds,
                    "device": str(device),
                    # the rest of the run record (artifacts.RUN_KEYS): what table and figures
                    # caption the numbers with, never read back from params.yaml
                    "k": params.k,
                    "update": params.update,
                    "generator_loss": params.generator_loss,
                    "seed": params.seed,
                    "phases": list(phases),
                    "code": code.version(__name__),
                }
            )
        # training finished: replace the previous outputs, each directory in one move
        with atomic_dir(paths.models) as models:
            for name in ("generator_best.pt", "generator_pretrained.pt"):
                if (ckpt / name).is_file():
                    shutil.copyfile(ckpt / name, models / name)
            last = {"epoch": total, "valid_ll": history[-1]["valid_parzen"]}
            save_generator(trainer.G, {**meta, **last}, models / "generator_last.pt")
        with atomic_dir(paths.train_log) as log:
            shutil.copytree(ckpt / "live", log, dirs_exist_ok=True)
