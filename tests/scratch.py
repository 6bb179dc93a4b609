"""Scratch copies of the repository for tests that run the whole DAG (smoke build, SLURM)."""
import os
import shutil
import subprocess
from pathlib import Path

from sinkgan.provenance import git_commit

REPO = Path(__file__).resolve().parents[1]


def copy_worktree(dst: Path) -> Path:
    """Tracked files plus untracked files that git does not ignore (the working tree a user has)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, check=True, timeout=60).stdout.decode()
    for rel in sorted(set(filter(None, out.split("\0")))):
        src = REPO / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    return dst


def scratch_env(scratch: Path, base=None) -> dict:
    """Environment in which the copy works on itself: its code, its results, and the commit it was copied
    from (the copy has no .git; every figure and result must still name the code version)."""
    env = {k: v for k, v in (base if base is not None else os.environ).items() if k != "SINKGAN_ROOT"}
    env.update(PYTHONPATH=str(scratch / "code"), SINKGAN_ROOT=str(scratch), SINKGAN_COMMIT=git_commit())
    return env
