"""The machine a run ran on: the CPU's model, the instruction sets its kernels can use, and the
libraries' versions. The same code, data and seed give the same bits on the same kind of CPU and
different bits on another, whose kernels round differently (docs/results.md), so a record of
a run names its machine."""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

# the instruction sets that decide which kernels PyTorch, oneDNN and MKL pick
ISA = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")


def _cpuinfo() -> tuple[str, set[str]]:
    """(model name, flags) from /proc/cpuinfo; the platform's name and no flags elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), set()
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    name = model.group(1).strip() if model else platform.machine()
    return name, set(flags.group(1).split()) if flags else set()


def emulated_bf16(device: torch.device | str = "cpu") -> str | None:
    """Why bf16 would be emulated here, or None: on a CPU without AVX512-BF16 or AMX, oneDNN runs
    bfloat16 products with AVX-512 conversions, slower than fp32 (docs/speed.md)."""
    model, flags = _cpuinfo()
    if str(device).startswith("cuda") or flags & {"avx512_bf16", "amx_bf16"}:
        return None
    return (
        f"{model} has no hardware bfloat16 (avx512_bf16 or amx_bf16): bf16 is emulated, "
        "0.33-0.42x the speed of fp32 on an AVX-512 Xeon without it (docs/speed.md); "
        "fp32 is faster here"
    )


def in_words(m: dict) -> str:
    """A machine in a few words: "AMD EPYC (AVX512, bf16)", or the GPU's name."""
    if "gpu" in m:
        return m["gpu"]
    extra = ", bf16" if "avx512_bf16" in m["isa"] else ""
    return f"{m['cpu']} ({m['torch_cpu_capability']}{extra})"


def trained_on(machines: Iterable[dict]) -> str:
    """Where runs trained, in words, each machine once ("on AMD EPYC (AVX512, bf16)"); "machine
    not recorded" for none (records made before runs recorded it)."""
    found = dict.fromkeys(in_words(m) for m in machines)
    return f"on {' and '.join(found)}" if found else "machine not recorded"


def of_run(run: dict) -> list[dict]:
    """The machines a run record's seeds trained on, seed after seed."""
    return [m for r in run["seeds"].values() for m in r.get("machines", [])]


def describe(device: torch.device | str = "cpu") -> dict:
    """The CPU (or GPU) and the versions a run's numbers depend on."""
    model, flags = _cpuinfo()
    found = {
        "cpu": model,
        "isa": [name for name in ISA if name in flags],
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": str(torch.__version__),  # a TorchVersion: checkpoints hold plain data
        "numpy": np.__version__,
    }
    if torch.device(device).type == "cuda":
        found["gpu"] = torch.cuda.get_device_name(torch.device(device))
        found["cuda"] = torch.version.cuda
    return found
