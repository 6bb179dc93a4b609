"""A Snakemake lock left by a killed run, and how the workflow takes it over (code/rules/common.smk)."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def release_stale_lock(workdir):
    """Remove .snakemake/locks/ when no other Snakemake process works in `workdir` (Linux /proc).

    A SIGKILLed run leaves its lock behind and Snakemake cannot tell it from a live one, so
    rerunning the same command would stop with LockException until `--unlock`.  A lock is stale
    exactly when no process that holds it is alive: the same rule as the run-directory lock of
    `sinkgan train`.  Where /proc is missing nothing is removed."""
    locks, proc = Path(workdir) / ".snakemake" / "locks", Path("/proc")
    if not locks.is_dir() or not any(locks.iterdir()) or not proc.is_dir():
        return
    me, here = os.getpid(), Path(workdir).resolve()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in (me, os.getppid()):
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            if b"snakemake" in cmd and Path(os.readlink(entry / "cwd")).resolve() == here:
                return  # a live Snakemake (or one of its jobs) works here: the lock is real
        except OSError:
            continue
    for lock in locks.iterdir():
        lock.unlink(missing_ok=True)
    print(f"Removed a stale Snakemake lock left by a killed run ({locks}).", file=sys.stderr)
