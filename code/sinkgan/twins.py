"""Twin runs: a run of the study that trains exactly what an earlier run trains is copied, not retrained.

On stand-in data a Cats run and a CelebA run with the same settings train the same network on
the same images from the same seed (``config/study.yaml``: both stand on ``fashion-rgb`` at the
``small`` scale), so their resolved configurations differ in the run's name alone and training is
deterministic (``tests/test_train.py``).  Training the second one would spend its GPU time (9 of
the ``small`` scale's 28 ResNet runs) on numbers already known.  Instead the DAG copies the first
run's results into the second's folder (rules ``copy_twin`` and ``copy_twin_quality``, localrules
that run ``sinkgan study copy-twin``; ``sinkgan train-study`` of a twin copies too):

* the training outputs (``log.csv``, samples, weights, snapshots, the checkpoints), as they are;
* ``config.yaml``: the configuration the first run trained with, under the twin's name, and its
  ``provenance:`` with ``copied_from: <run id>``;
* ``summary.json`` (written last, the completion marker): the first run's, with the twin's name and
  ``copied_from`` (``stands_in_for`` is the stand-in data set's, the same for both);
* ``quality.json``: the first run's measurement with ``copied_from``.

The first run in the study's order is the one trained (its *original*); every figure that draws a
twin says so (:func:`sinkgan.plotting.twin_notes`), the manifest names the original of every copy
and counts its time once, and ``sinkgan study cost`` does not cost a copy.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Mapping

from . import atomic
from .config import atomic_write_yaml, validate
from .rundir import CHECKPOINT, CONFIG, QUALITY, SUMMARY, read_config, read_json, read_summary

#: Files and folders of a run directory that are copied as they are (everything training writes
#: but ``config.yaml`` and ``summary.json``, which name the run; the measurements have their own rule).
TRAINING_OUTPUTS = ("log.csv", "generator.pt", "discriminator.pt", "samples", "snapshots", str(Path(CHECKPOINT).parent))


def training_key(cfg) -> tuple:
    """What a run's results depend on (:meth:`~sinkgan.config.TrainConfig.result_settings`), its
    name aside: two runs with the same key train the same numbers."""
    values = cfg.result_settings() if hasattr(cfg, "result_settings") else dict(cfg)
    return tuple(sorted((k, repr(v)) for k, v in values.items() if k != "name"))


def originals(configs: Mapping[str, object]) -> dict[str, str]:
    """``{twin run id: original run id}`` for ``configs`` (run id -> resolved config, in the study's
    order): each run whose :func:`training_key` an earlier run has, mapped to the first such run."""
    first: dict[tuple, str] = {}
    twins = {}
    for run_id, cfg in configs.items():
        original = first.setdefault(training_key(cfg), run_id)
        if original != run_id:
            twins[run_id] = original
    return twins


def _copy(src: Path, dst: Path) -> None:
    """``src`` (a file or a folder) to ``dst``, replacing what ``dst`` held (nothing, where ``src`` is absent)."""
    if dst.is_dir():
        shutil.rmtree(dst)
    else:
        dst.unlink(missing_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst)
    elif src.is_file():
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def copy_training(original_dir: str | Path, twin_dir: str | Path, twin_cfg) -> Path:
    """Copy a finished run's training results into the folder of its twin (``twin_cfg``);
    ``summary.json`` last.  The module docstring
    says what is copied and what is rewritten.  Returns the twin's summary path.

    Refused (``FileNotFoundError``) while the original has not finished; ``ValueError`` where the
    configuration the original trained with is not the twin's but for the name and how it computed
    (a stale run: retrain the original).
    """
    original_dir, twin_dir = Path(original_dir), Path(twin_dir)
    summary = read_summary(original_dir)  # FileNotFoundError naming how to train it
    trained = dict(read_config(original_dir) or {})
    provenance = dict(trained.pop("provenance", {}))
    original_id = trained.get("name", original_dir.name)
    trained_cfg = validate(type(twin_cfg), trained)
    if training_key(trained_cfg) != training_key(twin_cfg):
        mine, theirs = twin_cfg.result_settings(), trained_cfg.result_settings()
        differ = sorted(k for k in mine if k != "name" and mine[k] != theirs.get(k))
        raise ValueError(f"{original_dir / CONFIG} does not train what {twin_cfg.name} trains "
                         f"(fields {', '.join(differ)} differ); retrain {original_id} first")
    (twin_dir / SUMMARY).unlink(missing_ok=True)  # unfinished until the copy is complete
    for name in TRAINING_OUTPUTS:
        _copy(original_dir / name, twin_dir / name)
    atomic_write_yaml(twin_dir / CONFIG, {**trained, "name": twin_cfg.name,
                                          "provenance": {**provenance, "copied_from": original_id}})
    atomic.atomic_write_json(twin_dir / SUMMARY, {**summary, "name": twin_cfg.name, "copied_from": original_id})
    return twin_dir / SUMMARY


def copy_quality(original_dir: str | Path, twin_dir: str | Path, original_id: str, out: str | Path | None = None) -> Path:
    """The original's ``quality.json`` as the twin's, with ``copied_from``."""
    original_dir, twin_dir = Path(original_dir), Path(twin_dir)
    quality = read_json(original_dir / QUALITY)
    if quality is None:
        raise FileNotFoundError(f"{original_dir / QUALITY} does not exist; measure {original_id} first")
    out = Path(out) if out is not None else twin_dir / QUALITY
    atomic.atomic_write_json(out, {**quality, "copied_from": original_id})
    return out
