"""``results/<scale>/MANIFEST``: one line per run of a scale's study, finished or not.

A scale's study may be trained in several sittings, on several machines (the small scale: a
borrowed GPU, or the fig04/fig05 pair on a CPU).  The manifest is the table of contents a reader
checks first: for every training run and SiNG experiment of the scale, whether it has finished,
how many iterations it ran (of how many planned), the commit and device that made it (a run
resumed under other code: every sitting's commit, in order, joined by ``+``), its wall
time and GPU-seconds, and the fingerprint of its training images.  A twin (:mod:`sinkgan.twins`)
is a copy of the run it trains the same as: its line names that run under ``copied_from`` and
shows no time of its own (the original's line counts it once).  It is rewritten from the
runs' own ``summary.json`` files (``sinkgan study manifest --scale S``, and by
``tools/gpu_sitting.py`` after every sitting), so it never disagrees with them.

Format: tab-separated, one header line, then the runs in the study's order::

    run_id  finished  iterations  commit  device  wall_seconds  gpu_seconds  data_sha256  copied_from
"""
from __future__ import annotations

import json
from pathlib import Path

from . import atomic

COLUMNS = ("run_id", "finished", "iterations", "commit", "device", "wall_seconds", "gpu_seconds", "data_sha256",
           "copied_from")
MISSING = "-"


def _cell(value) -> str:
    if value is None or value == "":
        return MISSING
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value).replace("\t", " ").replace("\n", " ")


def manifest_row(run_id: str, summary_file: Path, planned: int | None) -> dict:
    """The manifest line of one run from its ``summary.json`` (absent: an unfinished run)."""
    planned_text = str(planned) if planned is not None else MISSING
    if not summary_file.is_file():
        return {"run_id": run_id, "finished": "no", "iterations": f"{MISSING}/{planned_text}",
                **{c: MISSING for c in COLUMNS[3:]}}
    s = json.loads(summary_file.read_text())
    copied = s.get("copied_from")
    return {"run_id": run_id, "finished": "yes", "iterations": f"{s.get('iterations', MISSING)}/{planned_text}",
            "commit": _commits(s), "device": s.get("device"),
            "wall_seconds": None if copied else s.get("wall_seconds"), "gpu_seconds": None if copied else s.get("gpu_seconds"),
            "data_sha256": s.get("data_sha256"), "copied_from": copied}


def _commits(summary: dict) -> str | None:
    """The commit that made a run; for a run trained in sittings under several commits, each in turn
    (``a+b``; an unknown one, from before sittings were recorded, as ``?``)."""
    commits = []
    for sitting in summary.get("sittings") or []:
        commit = sitting.get("commit") or "?"
        if not commits or commits[-1] != commit:
            commits.append(commit)
    return "+".join(commits) if len(commits) > 1 else summary.get("commit")


def manifest_rows(study) -> list[dict]:
    """Every training run of ``study`` (a :class:`sinkgan.study.Study`), then its SiNG experiments."""
    rows = [manifest_row(run_id, spec.run_dir / "summary.json", spec.config.iterations)
            for run_id, spec in study.runs().items()]
    for experiment, steps in sing_experiments(study).items():
        rows.append(manifest_row(f"sing/{experiment}", study.results / "sing" / experiment / "summary.json", steps))
    return rows


def sing_experiments(study) -> dict[str, int]:
    """The SiNG experiments the scale runs (config/sing.yaml lists the scales that have them), with
    their planned steps."""
    import yaml

    from .sing_experiments import load_sing_config

    path = study.root / "config" / "sing.yaml"
    if not path.is_file():
        return {}
    spec = yaml.safe_load(path.read_text())
    if study.scale_name not in spec.get("scales", {}):
        return {}
    return {exp: load_sing_config(exp, study.scale_name, path).steps for exp in spec["experiments"]}


def format_manifest(rows: list[dict]) -> str:
    lines = ["\t".join(COLUMNS)] + ["\t".join(_cell(row.get(c)) for c in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def write_manifest(study, path: str | Path | None = None) -> tuple[Path, list[dict]]:
    """Write (atomically) the manifest of ``study`` to ``path`` (default results/<scale>/MANIFEST);
    returns the path and the rows written."""
    path = Path(path) if path is not None else study.results / "MANIFEST"
    rows = manifest_rows(study)
    atomic.atomic_write_text(path, format_manifest(rows))
    return path, rows
