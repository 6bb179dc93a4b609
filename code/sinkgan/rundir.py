"""The one reader of a run directory ``results/<scale>/<run_id>/`` (its layout: ``docs/CONTRACT.md``).

Training (:mod:`sinkgan.train`) writes a run directory; everything that reads one -- figures,
the claims, the measurements, the SiNG encoder, a resume -- reads it through this module, so a
file's name, its columns and what its absence means are defined once:

* ``summary.json`` is written last, so its absence means the run is missing or unfinished
  (:func:`read_summary` says how to produce it);
* ``config.yaml`` is the resolved :class:`~sinkgan.config.TrainConfig` plus ``provenance:``;
* ``log.csv`` has the columns :data:`LOG_COLUMNS`;
* ``generator.pt`` / ``discriminator.pt`` hold ``{"state_dict", "config"}``; a file that cannot be
  read, or whose state does not fit the network of the run's config, is a :class:`CheckpointError`
  naming the file.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

SUMMARY = "summary.json"
CONFIG = "config.yaml"
LOG = "log.csv"
TRAIN_LOG = "train.log"  # every sitting's printed lines (sinkgan.joblog)
GENERATOR = "generator.pt"
DISCRIMINATOR = "discriminator.pt"
CHECKPOINT = "checkpoints/last.pt"
FINAL_SAMPLES = "samples/final.png"
SNAPSHOTS = "snapshots"
QUALITY = "quality.json"
SSIM = "tracking/ssim.csv"
RATE = "tracking/rate.json"

#: Columns of ``log.csv``: one row per generator iteration.
LOG_COLUMNS = ("iteration", "gen_updates", "critic_updates", "g_loss", "d_loss", "wall_seconds")


class CheckpointError(ValueError):
    """A checkpoint or network file cannot be read, or does not fit the network of the run's config."""


def checkpoint_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT


def _missing_run(run_dir: Path) -> FileNotFoundError:
    summary = run_dir / SUMMARY
    return FileNotFoundError(f"run {run_dir} has no {SUMMARY} (missing or unfinished); "
                             f"train it first, e.g. `snakemake --cores 2 {summary}`")


def read_summary(run_dir: str | Path, required: bool = True) -> dict | None:
    """``summary.json`` of a finished run; absent: ``FileNotFoundError`` (``required``) or ``None``."""
    run_dir = Path(run_dir)
    data = read_json(run_dir / SUMMARY)
    if data is None and required:
        raise _missing_run(run_dir)
    return data


def sitting_commits(summary: dict) -> list[str]:
    """The commit of each sitting of a finished run (``summary.json`` ``sittings``), in order, a
    repeat of the one before merged (``?`` where a sitting recorded none); ``[]`` for a summary
    without sittings."""
    commits: list[str] = []
    for sitting in summary.get("sittings") or []:
        commit = str(sitting.get("commit") or "?")
        if not commits or commits[-1] != commit:
            commits.append(commit)
    return commits


def read_json(path: str | Path) -> dict | None:
    """A JSON file, or ``None`` where it does not exist; malformed JSON is a ``ValueError`` naming it."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from None


def read_config(run_dir: str | Path) -> dict | None:
    """``config.yaml`` as written (resolved fields and ``provenance:``), or ``None`` where absent."""
    path = Path(run_dir) / CONFIG
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else None


def train_config(run_dir: str | Path):
    """``config.yaml`` as a checked :class:`~sinkgan.config.TrainConfig` (its data set need not be present)."""
    from .config import load_config

    return load_config(Path(run_dir) / CONFIG, check_data=False)


def read_csv(path: str | Path, columns=()):
    """A CSV file as a DataFrame holding ``columns``, or ``None`` where it does not exist."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        return None
    frame = pd.read_csv(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected {list(columns)}")
    return frame


def read_log(run_dir: str | Path, required: bool = True):
    """``log.csv`` with its :data:`LOG_COLUMNS` checked; absent: ``FileNotFoundError`` (``required``) or ``None``."""
    path = Path(run_dir) / LOG
    frame = read_csv(path, LOG_COLUMNS)
    if frame is None and required:
        raise FileNotFoundError(f"{path} does not exist")
    return frame


# --------------------------------------------------------------------------- network files


def read_torch_file(path: str | Path, device="cpu", weights_only: bool = True, keys=()) -> dict:
    """``torch.load`` of a dict holding ``keys``; any failure is one :class:`CheckpointError` naming ``path``."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist")
    try:
        blob = torch.load(path, map_location=device, weights_only=weights_only)
    except Exception as err:  # truncated (EOFError), corrupt (UnpicklingError), empty, not a torch file
        detail = (str(err).strip().splitlines() or ["no detail"])[0]
        raise CheckpointError(f"{path} is unreadable ({type(err).__name__}: {detail}); "
                              f"it is corrupt, truncated or not written by sinkgan") from None
    missing = [k for k in keys if not isinstance(blob, dict) or k not in blob]
    if missing:
        raise CheckpointError(f"{path} is not a sinkgan file of this kind: it lacks {', '.join(map(repr, missing))}")
    return blob


def load_state_dict_into(net, state_dict, path: str | Path, what: str) -> None:
    """``net.load_state_dict`` with a one-line "architecture mismatch" error instead of a key dump."""
    expected = net.state_dict()
    if not isinstance(state_dict, dict):
        raise CheckpointError(f"{path}: its {what} state is a {type(state_dict).__name__}, not a state dict")
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    reshaped = [k for k in expected if k in state_dict
                and getattr(state_dict[k], "shape", None) != expected[k].shape]
    if missing or unexpected or reshaped:
        first = (missing + unexpected + reshaped)[0]
        raise CheckpointError(
            f"{path}: architecture mismatch: its {what} state does not fit the network of the run's config "
            f"({len(missing)} missing, {len(unexpected)} unexpected, {len(reshaped)} reshaped tensors; first: {first!r})")
    net.load_state_dict(state_dict)


def load_generator(run_dir: str | Path, device="cpu"):
    """The final generator of a finished run (``generator.pt``), in eval mode: ``(G, cfg)``."""
    from .models import build_generator, data_channels

    run_dir = Path(run_dir)
    cfg = train_config(run_dir)
    G = build_generator(cfg.arch, data_channels(cfg.dataset), z_dim=cfg.z_dim, ngf=cfg.ngf).to(device)
    _load_final(G, run_dir / GENERATOR, cfg, device, "generator")
    return G.eval(), cfg


def load_networks(run_dir: str | Path, device="cpu"):
    """Both final networks of a finished run (``generator.pt``, ``discriminator.pt``), eval mode: ``(G, D, cfg)``."""
    from .models import build_networks

    run_dir = Path(run_dir)
    cfg = train_config(run_dir)
    G, D = build_networks(cfg, device)
    for net, name, what in ((G, GENERATOR, "generator"), (D, DISCRIMINATOR, "discriminator")):
        _load_final(net, run_dir / name, cfg, device, what)
    return G.eval(), D.eval(), cfg


def _load_final(net, path: Path, cfg, device, what: str) -> None:
    """Load ``generator.pt`` / ``discriminator.pt`` into ``net`` built from the run's ``config.yaml``."""
    if not path.exists() and (path.parent / SUMMARY).exists():
        raise CheckpointError(
            f"{path}: missing from a finished run: final weights are committed at the smoke scale only "
            f"(.gitignore), so they exist only where the run was trained; to measure it here, retrain it "
            f"(the DAG does: `snakemake <its quality.json>` retrains a run whose weights are missing)")
    blob = read_torch_file(path, device, keys=("state_dict",))
    saved_arch = (blob.get("config") or {}).get("arch")
    if saved_arch is not None and saved_arch != cfg.arch:
        raise CheckpointError(f"{path}: architecture mismatch: the {what} was trained with arch={saved_arch}, "
                              f"but {path.parent / CONFIG} says arch={cfg.arch}")
    load_state_dict_into(net, blob["state_dict"], path, what)
