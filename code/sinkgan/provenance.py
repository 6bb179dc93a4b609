"""Where a result came from: code version, library versions, device."""
from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def repo_root() -> Path:
    """The tree that ``config/``, ``results/`` and ``figures/`` are read from and written to.

    ``$SINKGAN_ROOT`` if set; else the current directory when it holds ``config/study.yaml``
    (Snakemake runs every job from the workflow's folder, so a copy of the repository works
    on itself even with the package installed from elsewhere); else the repository that
    holds this file.
    """
    env = os.environ.get("SINKGAN_ROOT")
    if env:
        return Path(env).resolve()
    cwd = Path.cwd()
    if (cwd / "config" / "study.yaml").is_file():
        return cwd.resolve()
    return REPO_ROOT


@functools.lru_cache(maxsize=1)
def git_commit(short: bool = True) -> str:
    """The checked-out commit, with ``+dirty`` if tracked files differ; ``unknown`` outside git.

    ``SINKGAN_COMMIT`` overrides it (for copies of the tree without ``.git``).
    """
    if os.environ.get("SINKGAN_COMMIT"):
        return os.environ["SINKGAN_COMMIT"]
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short" if short else "--verify", "HEAD"],
            cwd=repo_root(), capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "code", "config", "Snakefile"],
            cwd=repo_root(), capture_output=True, text=True, timeout=10,
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@functools.lru_cache(maxsize=1)
def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """The CPU's model name (``model name`` in ``/proc/cpuinfo``, else ``platform.processor()`` where
    it says more than the architecture), or ``None``.  Two machines that both read ``x86_64, 2
    cores`` can differ severalfold in speed: a CPU result names its CPU as a GPU result its GPU."""
    try:
        for line in Path(cpuinfo).read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return " ".join(value.split())
    except OSError:
        pass
    processor = platform.processor()
    return processor if processor and processor != platform.machine() else None


def device_name(device) -> str:
    """The GPU's name; on a CPU ``cpu (<model>, <arch>, <n> cores, <k> threads)``, the model where known."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = cpu_model()
    named = f"{model}, " if model else ""
    return f"cpu ({named}{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def provenance(device="cpu") -> dict:
    """What decides a run's numbers besides its config: code version, library and kernel versions,
    device, thread count (CPU reductions depend on it) and the CPU instruction set the kernels use."""
    import numpy
    import torch

    return {
        "commit": git_commit(),
        "torch": str(torch.__version__),
        "numpy": str(numpy.__version__),
        "python": platform.python_version(),
        "device": device_name(device),
        "host": platform.node(),
        "threads": torch.get_num_threads(),
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
    }


@functools.lru_cache(maxsize=1)
def nvidia_driver() -> str | None:
    """The NVIDIA driver version (``nvidia-smi``), or ``None`` where there is none."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0].strip() if out.returncode == 0 and lines else None


#: set by tools/gpu_sitting.py: how many jobs shared the one GPU (``--resources gpu=K``)
GPU_JOBS_ENV = "SINKGAN_GPU_JOBS"


def device_time(device, wall_seconds: float) -> dict:
    """What a finished job records about the accelerator it held: CUDA and driver versions and its
    GPU-seconds (its wall time on the GPU, which ``gpu_jobs_sharing`` jobs may have shared; ``None``
    on a CPU)."""
    import torch

    on_gpu = torch.device(device).type == "cuda"
    return {
        "cuda": torch.version.cuda if on_gpu else None,
        "driver": nvidia_driver() if on_gpu else None,
        "gpu_seconds": float(wall_seconds) if on_gpu else None,
        "gpu_jobs_sharing": int(os.environ.get(GPU_JOBS_ENV, "1")) if on_gpu else None,
    }


def tensor_sha256(t) -> str:
    """SHA-256 of a tensor's bytes (contiguous, on the CPU): the training images' fingerprint."""
    import hashlib

    return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
