"""The figure notebooks, run from the command line against real results, rebuild the figures the
Snakemake rule produced, byte for byte.

For every losses/samples figure whose ``figures/<fig>.pdf`` exists and whose runs are finished
(``results/<scale>/<run>/summary.json``) at some scale, ``python code/notebooks/<kind>.py`` with
``FIGURE=<fig> SCALE=<scale> FIGURE_OUT=<tmp>`` must write the same bytes. ``figures/<fig>.pdf``
has no scale in its name, so every scale with complete runs is tried and one must match.
Figures that have not been built are skipped (build them with ``snakemake --cores 2 all``).
The root is the repository (or ``$SINKGAN_ROOT``).
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sinkgan import plotting
from sinkgan.study import SCALES, Study

REPO = Path(__file__).resolve().parents[1]
ROOT = plotting.repo_root()
NOTEBOOKS = {"losses": REPO / "code" / "notebooks" / "losses.py", "samples": REPO / "code" / "notebooks" / "samples.py"}
_STUDY = Study.load("smoke", root=ROOT)
FIGURES = [(fig, kind) for kind in NOTEBOOKS for fig in _STUDY.figures(kind)]


@functools.lru_cache(maxsize=None)
def _study(scale: str) -> Study:
    return Study.load(scale, root=ROOT)


def _complete_scales(fig: str) -> list[str]:
    """Scales at which every run of ``fig`` has finished under ``ROOT/results/<scale>/``."""
    out = []
    for scale in SCALES:
        try:
            specs = _study(scale).figure_runs(fig)
        except Exception:  # a scale that cannot be resolved here cannot have produced the figure
            continue
        if specs and all((ROOT / "results" / scale / s.run_id / "summary.json").is_file() for s in specs):
            out.append(scale)
    return out


@pytest.mark.parametrize("fig, kind", FIGURES)
def test_cli_rebuilds_the_rule_output(fig, kind, tmp_path):
    built = ROOT / "figures" / f"{fig}.pdf"
    if not built.is_file():
        pytest.skip(f"{built} not built (snakemake --cores 2 {built.relative_to(ROOT)})")
    scales = _complete_scales(fig)
    if not scales:
        pytest.skip(f"no scale has all runs of {fig} under {ROOT / 'results'}")
    tried = []
    for scale in scales:
        out = tmp_path / f"{fig}.{scale}.pdf"
        env = {**os.environ, "FIGURE": fig, "SCALE": scale, "FIGURE_OUT": str(out), "SINKGAN_ROOT": str(ROOT)}
        proc = subprocess.run([sys.executable, str(NOTEBOOKS[kind])], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, f"{NOTEBOOKS[kind].name} FIGURE={fig} SCALE={scale} failed:\n{proc.stderr}"
        if out.read_bytes() == built.read_bytes():
            return
        tried.append(scale)
    pytest.fail(f"{built} differs from what `FIGURE={fig} SCALE=<{'|'.join(tried)}> python "
                f"code/notebooks/{kind}.py` writes: stale figure or non-deterministic output; rebuild it "
                f"with `snakemake --cores 2 --forcerun plot_{kind} {built.relative_to(ROOT)}` and rerun")
