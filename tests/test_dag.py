"""The Snakemake DAG (targets go before --config, which swallows every following word): every target resolves at every scale; the whole smoke DAG builds from a
clean copy; changing one experiment reruns only what it affects; notebooks redraw the same file.

The smoke build runs once per session in a scratch copy of the repository (tracked and
untracked-not-ignored files, with the committed results/smoke removed so that everything is
really trained) and prints how long it took.
"""
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from scratch import copy_worktree, scratch_env
from sinkgan.study import SCALES, Study

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _snakemake(args, cwd, timeout=900, check=True):
    env = scratch_env(Path(cwd)) if Path(cwd) != ROOT else {k: v for k, v in os.environ.items() if k != "SINKGAN_ROOT"}
    proc = subprocess.run(SNAKEMAKE + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def all_targets(scale):
    study = Study.load(scale, root=ROOT)
    return [f"figures/{f}.pdf" for f in study.spec["figures"]] + [f"figures/{t}.tex" for t in study.spec["tables"]]


@pytest.mark.parametrize("scale", SCALES)
def test_every_target_resolves_at_every_scale(scale):
    proc = _snakemake([*all_targets(scale), "figures/sing71.pdf", "figures/sing72.pdf", "figures/sing73.pdf",
                       "paper/main.pdf", "-n", "--cores", "2", "--config", f"scale={scale}"], cwd=ROOT)
    assert "Nothing to be done" in proc.stdout + proc.stderr or "Job stats" in proc.stdout + proc.stderr


def test_unknown_scale_is_refused():
    proc = _snakemake(["all", "-n", "--config", "scale=huge"], cwd=ROOT, check=False)
    assert proc.returncode != 0 and "scale" in proc.stdout + proc.stderr and "smoke" in proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def smoke_tree(tmp_path_factory, pytestconfig):
    """A scratch copy of the repository where the whole smoke DAG was built from nothing."""
    tree = copy_worktree(tmp_path_factory.mktemp("dag") / "repo")
    shutil.rmtree(tree / "results" / "smoke", ignore_errors=True)
    for pdf in (tree / "figures").glob("*"):
        if pdf.name != ".gitkeep":
            pdf.unlink()
    # the data cache is shared with the main tree so that CI builds the stand-ins once
    (tree / "data").symlink_to(ROOT / "data") if (ROOT / "data").exists() else None
    start = time.perf_counter()
    _snakemake(["all", "--cores", "2", "--config", "scale=smoke"], cwd=tree, timeout=1800)
    took = time.perf_counter() - start
    line = f"smoke DAG (all figures and tables, from nothing): {took:.0f} s on {os.cpu_count()} cores (target: <= 600 s)"
    print("\n" + line)
    pytestconfig.sinkgan_timings = [*getattr(pytestconfig, "sinkgan_timings", []), line]
    return tree


@pytest.mark.dag
def test_smoke_dag_builds_every_figure_and_table(smoke_tree):
    for target in all_targets("smoke") + ["figures/sing71.pdf", "figures/sing72.pdf", "figures/sing73.pdf"]:
        path = smoke_tree / target
        assert path.is_file() and path.stat().st_size > 1000, target
    study = Study.load("smoke", root=smoke_tree)
    for run_id, spec in study.runs().items():
        summary = yaml.safe_load((spec.run_dir / "summary.json").read_text())
        assert summary["scale"] == "smoke" and summary["dataset_is_standin"], run_id
        assert summary["iterations"] == spec.config.iterations


@pytest.mark.dag
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed")
def test_every_figure_is_stamped_with_scale_data_and_commit(smoke_tree):
    for pdf in sorted((smoke_tree / "figures").glob("fig*.pdf")):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        flat = " ".join(text.split())
        assert "smoke" in flat, pdf.name
        assert re.search(r"stand-?in", flat, re.I), f"{pdf.name} does not name its stand-in data"
        assert re.search(r"\b[0-9a-f]{7}\b", flat), f"{pdf.name} carries no commit"


@pytest.mark.dag
def test_rebuild_from_cached_results_trains_nothing(smoke_tree):
    proc = _snakemake(["all", "-n", "--cores", "2", "--config", "scale=smoke"], cwd=smoke_tree)
    assert "rule train:" not in proc.stdout


@pytest.mark.dag
def test_changing_one_hyperparameter_reruns_only_its_run(smoke_tree):
    study_file = smoke_tree / "config" / "study.yaml"
    original = study_file.read_text()
    changed = original.replace('{label: "Cats, eps = 0.01", dataset: cats, eps: 0.01, batch_size: 64}',
                               '{label: "Cats, eps = 0.01", dataset: cats, eps: 0.02, batch_size: 64}')
    assert changed != original
    try:
        study_file.write_text(changed)
        proc = _snakemake(["all", "-n", "--cores", "2", "--config", "scale=smoke"], cwd=smoke_tree)
    finally:
        study_file.write_text(original)
    trained = re.findall(r"rule train:.*?wildcards: run_id=(\S+)", proc.stdout, re.S)
    assert len(trained) == 1 and "eps0.02" in trained[0], trained
    plotted = set(re.findall(r"wildcards: fig=(fig\d\d)", proc.stdout))
    assert plotted == {"fig13"}, plotted


@pytest.mark.dag
@pytest.mark.parametrize("notebook,figure", [("losses.py", "fig04"), ("samples.py", "fig05"), ("losses.py", "fig17"),
                                             ("samples.py", "fig20"), ("fig10_quality.py", "fig10"),
                                             ("fig21_ssim.py", "fig21"), ("fig22_rate.py", "fig22")])
def test_notebook_from_command_line_makes_the_rules_file(smoke_tree, tmp_path, notebook, figure):
    out = tmp_path / f"{figure}.pdf"
    env = {**scratch_env(smoke_tree), "FIGURE": figure, "SCALE": "smoke", "FIGURE_OUT": str(out)}
    subprocess.run([sys.executable, str(smoke_tree / "code" / "notebooks" / notebook)], env=env, check=True,
                   capture_output=True, cwd=smoke_tree, timeout=300)
    assert out.read_bytes() == (smoke_tree / "figures" / f"{figure}.pdf").read_bytes()


@pytest.mark.dag
@pytest.mark.latex
@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed (make system-deps)")
def test_paper_builds_at_smoke_scale(smoke_tree):
    _snakemake(["paper/main.pdf", "--cores", "2", "--config", "scale=smoke"], cwd=smoke_tree, timeout=900)
    pdf = smoke_tree / "paper" / "main.pdf"
    assert pdf.is_file() and pdf.stat().st_size > 10000
    claims = yaml.safe_load((smoke_tree / "results" / "smoke" / "claims.json").read_text())
    assert claims
