"""Atomic writes: the one way every module writes a file (a leaf module: it imports nothing from sinkgan).

Everything goes through a temporary file in the same folder followed by ``os.replace``, so a
crash never leaves a half-written file that looks complete; a SIGKILL between the two leaves
only a temporary ``.<name>.*.tmp``, which :func:`remove_stale_temporaries` deletes when the run
directory is next opened.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are shared like any file
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj, strict: bool = False) -> None:
    """``strict=True`` refuses NaN and infinities (``ValueError``): the bare tokens are not JSON."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=not strict) + "\n")


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files an interrupted :func:`atomic_write_bytes` left in ``folder``.

    Only safe while no other process writes into ``folder`` (a run holds its directory's lock).
    """
    folder = Path(folder)
    stale = sorted(folder.glob(".*.tmp")) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def atomic_torch_save(path: str | Path, obj) -> None:
    import torch  # here, so that writing text or JSON does not import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())
