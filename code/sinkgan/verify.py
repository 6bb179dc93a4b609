"""Retrain committed runs and compare: do the committed results reproduce on this machine?

For each selected run directory ``results/<scale>/<run>/`` the run is retrained from its recorded
``config.yaml`` (into a scratch folder, never over the committed files), with the thread count it
recorded, and its ``log.csv`` losses are compared with the committed ones::

    python -m sinkgan.verify --scale smoke               # a few runs (default 2, spread over the study)
    python -m sinkgan.verify --scale smoke --runs all     # every run of the scale
    python -m sinkgan.verify --scale smoke RUN_ID ...     # named runs
    make verify-results SCALE=smoke RUNS=3
    python -m sinkgan.verify --scale small --iterations 20 RUN_ID   # its first 20 iterations only

``--iterations N`` retrains a run's first N iterations and compares them with the first N rows of
its log: the iteration count only bounds the loop (it is a resumable setting: the batches, latents
and updates of iteration i do not depend on it), so a prefix checks a run that takes hours to
retrain, in minutes.

Verdicts per run: ``equal`` (every logged loss identical as written, 9 significant digits),
``within tolerance`` (max relative difference <= ``--rtol``, default 1e-4: the order of float
reductions differs between CPU instruction sets and thread counts), ``different``.  A verdict also
names the first iteration whose losses differ and by how much: a difference that starts at float32
rounding (<= ``ROUNDING``, 1e-5, relative) and grows is two machines' kernels rounding differently,
amplified by training (nearby GAN trajectories drift apart), not another computation, which would
differ at once.  The recorded
and observed provenance (commit, torch, threads, CPU kernels, training-data hash) are printed side
by side, so a difference names its likely cause.  Exit status 1 if any run is different.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

#: the relative size of a first difference that float32 rounding can explain (a few ulps, 2**-23 ~ 1.2e-7
#: each, summed over a loss's reductions)
ROUNDING = 1e-5

#: provenance keys shown side by side (recorded in config.yaml vs observed in the retrained run)
PROVENANCE_KEYS = ("commit", "torch", "threads", "cpu_model", "cpu_capability", "device", "data_sha256", "memory_format")


@dataclass
class Verdict:
    run: str
    status: str  # equal | within tolerance | different
    max_rel_diff: float
    rows: int
    recorded: dict
    observed: dict
    first_difference: tuple[int, float] | None = None  # (iteration, relative difference), None if none


def relative_differences(recorded: pd.DataFrame, observed: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(iterations, |a - b| / |a|)`` over the iterations both ``log.csv`` tables hold: one row per
    iteration, one column per loss (g_loss, d_loss), ``a`` the recorded loss."""
    both = recorded.merge(observed, on="iteration", suffixes=("_a", "_b"))
    a = both[["g_loss_a", "d_loss_a"]].to_numpy(np.float64)
    b = both[["g_loss_b", "d_loss_b"]].to_numpy(np.float64)
    return both.iteration.to_numpy(), np.abs(a - b) / np.maximum(np.abs(a), 1e-12)


def first_difference(recorded: pd.DataFrame, observed: pd.DataFrame) -> tuple[int, float] | None:
    """``(iteration, max relative difference of its g_loss/d_loss)`` of the first row of two
    ``log.csv`` tables that differ (over the rows both have), or None."""
    iterations, rel = relative_differences(recorded, observed)
    worst = rel.max(axis=1, initial=0.0)
    differing = np.flatnonzero(worst > 0)
    return (int(iterations[differing[0]]), float(worst[differing[0]])) if differing.size else None


def compare_logs(recorded: pd.DataFrame, observed: pd.DataFrame, rtol: float) -> tuple[str, float]:
    """``(status, max relative difference)`` of the g_loss/d_loss columns of two ``log.csv`` tables."""
    if list(recorded.iteration) != list(observed.iteration):
        return "different", float("inf")
    _, rel = relative_differences(recorded, observed)
    if not rel.any():
        return "equal", 0.0
    rel = float(rel.max())
    return ("within tolerance" if rel <= rtol else "different"), rel


def verify_run(run_dir: Path, rtol: float = 1e-4, scratch: Path | None = None,
               iterations: int | None = None) -> Verdict:
    """Retrain ``run_dir`` from its ``config.yaml`` in ``scratch`` and compare the losses (with
    ``iterations``: of its first that many iterations, or all it ran if fewer)."""
    import torch

    from .config import TrainConfig, validate
    from .train import train

    recorded_cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    recorded_prov = dict(recorded_cfg.pop("provenance", {}) or {})
    # retrain in the layout it trained in (runs from before the memory_format switch ran contiguous)
    recorded_prov.setdefault("memory_format", "contiguous")
    if iterations is not None:
        recorded_cfg["iterations"] = min(int(iterations), int(recorded_cfg["iterations"]))
    cfg = validate(TrainConfig, {**recorded_cfg, "memory_format": recorded_prov["memory_format"]})
    threads = recorded_prov.get("threads") or _threads_from_device(recorded_prov.get("device", ""))
    old_threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(dir=scratch, prefix=f"verify-{run_dir.name[:40]}-") as tmp:
        try:
            if threads:
                torch.set_num_threads(int(threads))
            train(cfg, Path(tmp) / "run", progress=False, scale=recorded_prov.get("scale"))
        finally:
            torch.set_num_threads(old_threads)
        observed_cfg = yaml.safe_load((Path(tmp) / "run" / "config.yaml").read_text())
        observed = pd.read_csv(Path(tmp) / "run" / "log.csv")
    recorded_log = pd.read_csv(run_dir / "log.csv")
    recorded_log = recorded_log[recorded_log.iteration <= cfg.iterations]
    status, rel = compare_logs(recorded_log, observed, rtol)
    observed_prov = observed_cfg.get("provenance", {})
    pick = lambda d: {k: d.get(k) for k in PROVENANCE_KEYS}  # noqa: E731
    return Verdict(run_dir.name, status, rel, len(observed), pick(recorded_prov), pick(observed_prov),
                   first_difference(recorded_log, observed))


def _threads_from_device(device: str) -> int | None:
    """Older runs recorded threads only inside the device text: ``cpu (x86_64, 2 cores, 1 threads)``."""
    import re

    m = re.search(r"(\d+) threads", device)
    return int(m.group(1)) if m else None


def select_runs(results: Path, names: list[str], count: str) -> list[Path]:
    """Named runs, or ``count`` runs (``all`` or a number) spread evenly over the finished ones."""
    finished = sorted(p.parent for p in results.glob("*/summary.json"))
    if names:
        missing = [n for n in names if not (results / n / "summary.json").is_file()]
        if missing:
            raise SystemExit(f"verify: no finished run {', '.join(missing)} under {results}")
        return [results / n for n in names]
    if not finished:
        raise SystemExit(f"verify: no finished run under {results}")
    if count == "all":
        return finished
    k = int(count)
    if k < 1:
        raise SystemExit(f"verify: --runs {count} is out of range; allowed: all or an integer >= 1")
    idx = np.unique(np.linspace(0, len(finished) - 1, num=min(k, len(finished))).round().astype(int))
    return [finished[i] for i in idx]


def report(verdicts: list[Verdict]) -> str:
    lines = []
    for v in verdicts:
        lines.append(f"{v.status:>17}  {v.run}  ({v.rows} rows, max relative difference {v.max_rel_diff:.3g})")
        if v.first_difference is not None:
            it, rel = v.first_difference
            why = (": float32 rounding, grown by training (compare the machines below)" if rel <= ROUNDING
                   else ": larger than float32 rounding")
            lines.append(f"                   first difference at iteration {it}, {rel:.2g} relative{why}")
        for k in PROVENANCE_KEYS:
            rec, obs = v.recorded.get(k), v.observed.get(k)
            mark = " " if rec == obs else "*"
            lines.append(f"   {mark} {k:>15}: recorded {rec!s:<30} observed {obs}")
    counts = {s: sum(v.status == s for v in verdicts) for s in ("equal", "within tolerance", "different")}
    lines.append("verify-results: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines)


def configure(ap: argparse.ArgumentParser) -> None:
    """The options of ``sinkgan verify-results`` (and ``python -m sinkgan.verify``)."""
    ap.add_argument("run_ids", nargs="*", help="run ids under results/<scale>/ (default: --runs of them)")
    ap.add_argument("--scale", default="smoke", help="which committed results (results/<scale>/); default smoke")
    ap.add_argument("--runs", default="2", help="how many runs to retrain when none is named: an integer >= 1 or 'all'")
    ap.add_argument("--iterations", type=int, default=None,
                    help="retrain only each run's first N iterations and compare those rows (an integer >= 1; "
                         "default: the whole run)")
    ap.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance of 'within tolerance' (default 1e-4)")


def run(a) -> int:
    """Retrain the selected runs, print each verdict and the counts; 1 if any run is different."""
    from .provenance import repo_root

    if not a.rtol >= 0:
        raise SystemExit(f"verify: --rtol {a.rtol} is out of range; allowed [0, inf)")
    if a.iterations is not None and a.iterations < 1:
        raise SystemExit(f"verify: --iterations {a.iterations} is out of range; allowed: an integer >= 1")
    runs = select_runs(repo_root() / "results" / a.scale, a.run_ids, a.runs)
    verdicts = []
    for run_dir in runs:
        verdicts.append(verify_run(run_dir, a.rtol, iterations=a.iterations))
        print(report(verdicts[-1:]).rsplit("\n", 1)[0], flush=True)
    print(report(verdicts).rsplit("\n", 1)[1])
    return 1 if any(v.status == "different" for v in verdicts) else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sinkgan.verify", description=__doc__.split("\n")[0])
    configure(ap)
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
