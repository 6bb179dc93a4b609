"""Atomic writes and checkpoint loading.

Everything a run writes goes through a temporary file in the same folder followed by
``os.replace``, so a crash never leaves a half-written file that looks complete.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import torch
import yaml


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


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def atomic_write_yaml(path: str | Path, obj) -> None:
    atomic_write_text(path, yaml.safe_dump(obj, sort_keys=False))


def atomic_torch_save(path: str | Path, obj) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def checkpoint_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints" / "last.pt"


def _config_of(run_dir: Path):
    from .config import load_config

    return load_config(run_dir / "config.yaml", check_data=False)


def load_generator(run_dir: str | Path, device="cpu"):
    """The final generator of a finished run (``generator.pt``), in eval mode: ``(G, cfg)``."""
    from .models import build_generator
    from .train import data_channels

    run_dir = Path(run_dir)
    blob = torch.load(run_dir / "generator.pt", map_location=device, weights_only=True)
    cfg = _config_of(run_dir)
    G = build_generator(cfg.arch, data_channels(cfg.dataset), z_dim=cfg.z_dim, ngf=cfg.ngf).to(device)
    G.load_state_dict(blob["state_dict"])
    return G.eval(), cfg


def load_networks(run_dir: str | Path, device="cpu"):
    """Both final networks of a finished run (``generator.pt``, ``discriminator.pt``), eval mode: ``(G, D, cfg)``."""
    from .train import build_networks

    run_dir = Path(run_dir)
    cfg = _config_of(run_dir)
    G, D = build_networks(cfg, device)
    for net, name in ((G, "generator.pt"), (D, "discriminator.pt")):
        net.load_state_dict(torch.load(run_dir / name, map_location=device, weights_only=True)["state_dict"])
    return G.eval(), D.eval(), cfg
