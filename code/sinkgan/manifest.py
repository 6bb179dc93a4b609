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
from .rundir import sitting_commits

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
    commits = sitting_commits(summary)
    return "+".join(commits) if len(commits) > 1 else summary.get("commit")


def manifest_rows(study) -> list[dict]:
    """Every training run of ``study`` (a :class:`sinkgan.study.Study`), then its SiNG experiments."""
    rows = [manifest_row(run_id, spec.run_dir / "summary.json", spec.config.iterations)
            for run_id, spec in study.runs().items()]
    for experiment, steps in sing_experiments(study).items():
        rows.append(manifest_row(f"sing/{experiment}", study.results / "sing" / experiment / "summary.json", steps))
    return rows


def sing_configs(study) -> dict:
    """The resolved config of each SiNG experiment the scale runs (config/sing.yaml lists the scales
    that have them); none where the study has no sing.yaml or the scale no SiNG entry."""
    import yaml

    from .sing_experiments import load_sing_config

    path = study.root / "config" / "sing.yaml"
    if not path.is_file():
        return {}
    spec = yaml.safe_load(path.read_text())
    if study.scale_name not in spec.get("scales", {}):
        return {}
    return {exp: load_sing_config(exp, study.scale_name, path) for exp in spec["experiments"]}


def sing_experiments(study) -> dict[str, int]:
    """The SiNG experiments the scale runs, with their planned steps."""
    return {exp: cfg.steps for exp, cfg in sing_configs(study).items()}


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


# ----------------------------------------------------------------- the README's view of the manifest
#: the loss level a table reports: the mean over the run's last LOSS_TAIL logged iterations (a single
#: iteration's loss swings by an order of magnitude on the ResNet runs)
LOSS_TAIL = 200
RESULTS_MD_COLUMNS = ("run", "figures", "state", "trained on", "wall (min)", "s / iteration (median)",
                      f"G / D loss (mean of last {LOSS_TAIL})", "FID / KID (last point)")


def run_figures(study, figures: list[str] | None = None) -> dict[str, list[str]]:
    """``{run id: the figures that draw it}`` in the study's order (of ``figures``; default every
    figure of the scale), each figure named once."""
    users: dict[str, list[str]] = {}
    for fig in figures or study.figures():
        for spec in study.figure_runs(fig):
            if fig not in users.setdefault(spec.run_id, []):
                users[spec.run_id].append(fig)
    return users


def seconds_per_iteration(log_file: Path) -> float | None:
    """The median time of one iteration from a run's ``log.csv`` (its ``wall_seconds`` column, the
    time since the sitting started): the median of the gaps between logged rows, each divided by
    the iterations between them.  Pauses, a resumed sitting's restart and a few slow iterations
    (checkpoints, samples) do not move it, unlike wall time over iterations."""
    import csv
    import statistics

    if not log_file.is_file():
        return None
    with log_file.open(newline="") as fh:
        rows = [(int(r["iteration"]), float(r["wall_seconds"])) for r in csv.DictReader(fh) if r.get("wall_seconds")]
    rates = [(t1 - t0) / (i1 - i0) for (i0, t0), (i1, t1) in zip(rows, rows[1:]) if i1 > i0 and t1 > t0]
    return statistics.median(rates) if rates else None


def tail_mean_losses(log_file: Path, tail: int = LOSS_TAIL) -> tuple[float, float] | None:
    """``(mean G loss, mean D loss)`` over the last ``tail`` rows of a run's ``log.csv``."""
    import csv

    if not log_file.is_file():
        return None
    with log_file.open(newline="") as fh:
        rows = list(csv.DictReader(fh))[-tail:]
    if not rows:
        return None
    return (sum(float(r["g_loss"]) for r in rows) / len(rows), sum(float(r["d_loss"]) for r in rows) / len(rows))


def _fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def _quality_cell(quality_file: Path) -> str:
    if not quality_file.is_file():
        return "not measured"
    q = json.loads(quality_file.read_text())
    return (f"{q['fid']:.1f} / {q['kid_mean']:.3f} ± {q['kid_std']:.3f} "
            f"({q['n_samples']:,} samples vs {q['n_real']:,} real, iteration {q['iterations']})")


def _sing_loss_cell(summary: dict) -> str:
    parts = []
    for key, res in (summary.get("results") or {}).items():
        solver = key.rsplit("/", 1)[-1]
        parts.append(f"{solver} {res['first_loss']:.4g} → {res['final_loss']:.4g}")
    return "; ".join(parts) or "—"


def results_table_md(study) -> str:
    """The manifest as the README's Markdown table (``sinkgan study manifest --markdown``): every run
    of the scale and what its committed files say (state, machine, wall time, the median time of an
    iteration, the loss level at the end, FID/KID where measured).  Read from the run directories
    only, so the README cannot state a number the results do not hold (tests/test_readme.py)."""
    figures = run_figures(study)
    figures.update({f"sing/{exp}": [cfg.figure] for exp, cfg in sing_configs(study).items()})
    twins = study.twins()
    lines = ["| " + " | ".join(RESULTS_MD_COLUMNS) + " |", "|" + "---|" * len(RESULTS_MD_COLUMNS)]
    rows = manifest_rows(study)
    for row in rows:
        run_id = row["run_id"]
        folder = study.results / run_id  # a SiNG experiment's id is sing/<experiment>: its folder too
        cells = {"run": f"`{run_id}`", "figures": ", ".join(figures.get(run_id, [])) or "—"}
        if row["finished"] != "yes":
            cells["state"] = f"not trained (copy of `{twins[run_id]}` once that is)" if run_id in twins else "not trained"
        elif row["copied_from"] not in (None, MISSING):
            cells["state"] = f"copy of `{row['copied_from']}`"
        else:
            cells["state"] = f"{row['iterations']} iterations, commit {row['commit']}"
            cells["trained on"] = row["device"]
            wall = row["wall_seconds"]
            if wall is not None:
                cells["wall (min)"] = format(wall / 60, ".0f" if wall >= 600 else ".1f")
            if run_id.startswith("sing/"):
                summary = json.loads((folder / "summary.json").read_text())
                cells[f"G / D loss (mean of last {LOSS_TAIL})"] = _sing_loss_cell(summary)
            else:
                cells["s / iteration (median)"] = _fmt(seconds_per_iteration(folder / "log.csv"), ".2f")
                losses = tail_mean_losses(folder / "log.csv")
                cells[f"G / D loss (mean of last {LOSS_TAIL})"] = ("—" if losses is None
                                                                   else f"{losses[0]:.3g} / {losses[1]:.3g}")
        if row["finished"] == "yes" and not run_id.startswith("sing/"):
            cells["FID / KID (last point)"] = _quality_cell(folder / "quality.json")
        lines.append("| " + " | ".join(cells.get(c, "—") for c in RESULTS_MD_COLUMNS) + " |")
    finished = sum(1 for row in rows if row["finished"] == "yes")
    lines.append(f"\n{finished} of {len(rows)} runs finished.")
    return "\n".join(lines) + "\n"
