"""The figure notebooks, run from the command line against real results, rebuild the figures the
Snakemake rule produced, byte for byte.

For every losses/samples figure whose ``figures/<scale>/<fig>.pdf`` exists and whose runs are finished
(``results/<scale>/<run>/summary.json``) at some scale, ``python code/notebooks/<kind>.py`` with
``FIGURE=<fig> SCALE=<scale> FIGURE_OUT=<tmp>`` must write the same bytes. ``figures/<scale>/<fig>.pdf``
is compared with the notebook run at its own scale.
Figures that have not been built are skipped (build them with ``snakemake --cores 2 all``).
The root is the repository (or ``$SINKGAN_ROOT``).
"""
from __future__ import annotations

import filecmp
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
    scales = [s for s in _complete_scales(fig) if (ROOT / "figures" / s / f"{fig}.pdf").is_file()]
    if not scales:
        pytest.skip(f"no scale has both figures/<scale>/{fig}.pdf and all its runs under {ROOT / 'results'}")
    for scale in scales:
        built = ROOT / "figures" / scale / f"{fig}.pdf"
        out = tmp_path / f"{fig}.{scale}.pdf"
        env = {**os.environ, "FIGURE": fig, "SCALE": scale, "FIGURE_OUT": str(out), "SINKGAN_ROOT": str(ROOT)}
        proc = subprocess.run([sys.executable, str(NOTEBOOKS[kind])], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, f"{NOTEBOOKS[kind].name} FIGURE={fig} SCALE={scale} failed:\n{proc.stderr}"
        assert filecmp.cmp(out, built, shallow=False), (  # a bool: pytest diffs no 40 kB of bytes
            f"{built} differs from what `FIGURE={fig} SCALE={scale} python code/notebooks/{kind}.py` writes: stale "
            f"figure or non-deterministic output; rebuild it with `snakemake {built.relative_to(ROOT)} --cores 2 "
            f"--forcerun plot_{kind} --config scale={scale}` and rerun")
