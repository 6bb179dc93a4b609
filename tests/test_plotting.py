"""Figure code (sinkgan.plotting, code/notebooks/{losses,samples}.py) on fabricated run directories.

No training: a fixture writes, for a figure's runs (from the real config/study.yaml), the files a
finished run has (log.csv, samples/final.png, summary.json, config.yaml) into a temporary root, and
the notebooks are run against it with SINKGAN_ROOT.
"""
from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sinkgan import plotting
from sinkgan.study import Study

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = {"losses": REPO / "code" / "notebooks" / "losses.py", "samples": REPO / "code" / "notebooks" / "samples.py"}
SCALE = "smoke"
FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fabricate_run(run_dir: Path, spec, scale: str, seed: int, rows: int = 30) -> None:
    """Write the files of a finished run for ``spec`` (a RunSpec) into ``run_dir``."""
    rng = np.random.default_rng(seed)
    (run_dir / "samples").mkdir(parents=True, exist_ok=True)
    it = np.arange(1, rows + 1)
    pd.DataFrame({
        "iteration": it, "gen_updates": it, "critic_updates": it * spec.config.n_critic,
        "g_loss": 5 * np.exp(-it / 10) + 0.2 * rng.standard_normal(rows),
        "d_loss": -5 * np.exp(-it / 10) + 0.2 * rng.standard_normal(rows),
        "wall_seconds": it * 0.5,
    }).to_csv(run_dir / "log.csv", index=False)
    channels = 1 if spec.config.arch == "dcgan" else 3
    grid = rng.integers(0, 256, size=(8 * 34 + 2, 8 * 34 + 2, channels), dtype=np.uint8)
    Image.fromarray(grid.squeeze(-1) if channels == 1 else grid).save(run_dir / "samples" / "final.png")
    paper = spec.overrides["dataset"]
    summary = {
        "dataset": spec.config.dataset, "dataset_is_standin": spec.config.dataset != paper,
        "stands_in_for": paper if spec.config.dataset != paper else None, "scale": scale,
        "iterations": spec.config.iterations, "gen_updates": rows, "critic_updates": rows * spec.config.n_critic,
        "final_g_loss": 0.0, "final_d_loss": 0.0, "wall_seconds": 1.0, "device": "cpu",
        "commit": FAKE_COMMIT, "torch": "test",
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    (run_dir / "config.yaml").write_text(f"name: {spec.run_id}\narch: {spec.config.arch}\n")


@pytest.fixture
def results_root(tmp_path):
    """A root with the repository's config/ and fabricated results/<scale>/ runs for every
    losses/samples figure; returns (root, fabricate(fig) -> list of RunSpec)."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    study = Study.load(SCALE, root=tmp_path)
    done: set[str] = set()

    def fabricate(fig: str):
        specs = study.figure_runs(fig)
        for i, spec in enumerate(specs):
            if spec.run_id not in done:
                fabricate_run(tmp_path / "results" / SCALE / spec.run_id, spec, SCALE, seed=i)
                done.add(spec.run_id)
        return specs

    return tmp_path, fabricate


def run_notebook(kind: str, fig: str, root: Path, out: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FIGURE": fig, "SCALE": SCALE, "SINKGAN_ROOT": str(root)}
    env.pop("FIGURE_OUT", None)
    if out is not None:
        env["FIGURE_OUT"] = str(out)
    return subprocess.run([sys.executable, str(NOTEBOOKS[kind])], env=env, capture_output=True, text=True,
                          timeout=120, cwd=root)


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


# ------------------------------------------------------------------------------ notebooks, end to end

@pytest.mark.parametrize("fig, kind", [("fig11", "losses"), ("fig20", "samples")])
def test_notebook_writes_stamped_deterministic_pdf(results_root, fig, kind):
    root, fabricate = results_root
    specs = fabricate(fig)
    first = run_notebook(kind, fig, root)
    assert first.returncode == 0, first.stderr
    pdf = root / "figures" / f"{fig}.pdf"
    assert pdf.is_file() and pdf.stat().st_size > 1000
    assert pdf.read_bytes().startswith(b"%PDF")
    assert b"CreationDate" not in pdf.read_bytes()
    assert not list(pdf.parent.glob(".*.tmp")), "temporary file left behind"
    again = run_notebook(kind, fig, root, out=root / "again.pdf")
    assert again.returncode == 0, again.stderr
    assert (root / "again.pdf").read_bytes() == pdf.read_bytes(), "two executions differ"
    if shutil.which("pdftotext"):
        text = " ".join(pdf_text(pdf).split())
        assert "scale: smoke" in text
        assert "STAND-IN for" in text
        assert FAKE_COMMIT[:12] in text
        for spec in specs:
            assert spec.label in text


@pytest.mark.parametrize("fig", [f for f in Study.load(SCALE).figures("losses") + Study.load(SCALE).figures("samples")])
def test_every_losses_and_samples_figure_draws(results_root, monkeypatch, fig):
    """Every figure of these kinds runs in-process; the figure object carries the stamp and labels."""
    root, fabricate = results_root
    specs = fabricate(fig)
    kind = Study.load(SCALE, root=root).figure(fig)["kind"]
    monkeypatch.setenv("SINKGAN_ROOT", str(root))
    monkeypatch.setenv("FIGURE", fig)
    monkeypatch.setenv("SCALE", SCALE)
    monkeypatch.delenv("FIGURE_OUT", raising=False)
    captured = {}

    def fake_save(figure, path):
        captured["texts"] = [t.get_text() for t in figure.findobj(plt.Text)]
        captured["path"] = Path(path)
        captured["n_axes"] = len(figure.axes)
        plt.close(figure)

    monkeypatch.setattr(plotting, "save_pdf", fake_save)
    runpy.run_path(str(NOTEBOOKS[kind]), run_name="__main__")
    texts = " ".join(captured["texts"])
    assert captured["path"] == root / "figures" / f"{fig}.pdf"
    stamp = [t for t in captured["texts"] if t.startswith("scale: smoke")]
    assert len(stamp) == 1 and "STAND-IN for" in stamp[0]
    for spec in specs:
        assert spec.label in texts
    if kind == "samples":
        assert captured["n_axes"] == len(specs)
    else:
        datasets = {spec.overrides["dataset"] for spec in specs}
        assert captured["n_axes"] == 2 * len(datasets)  # G and D per paper data set


def test_jupyter_execution_gives_the_same_bytes(results_root, monkeypatch):
    """Executed as a notebook (jupytext -> nbclient, python3 kernel) the file is the CLI's, byte for byte."""
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    root, fabricate = results_root
    fabricate("fig13")
    cli = run_notebook("losses", "fig13", root, out=root / "cli.pdf")
    assert cli.returncode == 0, cli.stderr
    for key, value in {"FIGURE": "fig13", "SCALE": SCALE, "SINKGAN_ROOT": str(root),
                       "FIGURE_OUT": str(root / "jupyter.pdf")}.items():
        monkeypatch.setenv(key, value)
    nb = jupytext.read(NOTEBOOKS["losses"])
    assert nb.cells[0].cell_type == "markdown" and "How to run" in nb.cells[0].source
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                            resources={"metadata": {"path": str(root)}}).execute()
    assert any(o.get("output_type") == "display_data" for o in nb.cells[-1].outputs), "figure not shown inline"
    assert (root / "jupyter.pdf").read_bytes() == (root / "cli.pdf").read_bytes()


def test_notebook_refuses_wrong_kind(results_root):
    root, fabricate = results_root
    fabricate("fig05")
    proc = run_notebook("losses", "fig05", root)
    assert proc.returncode != 0 and "'samples' figure" in proc.stderr


def test_missing_run_names_it(results_root):
    root, _ = results_root
    proc = run_notebook("losses", "fig04", root)
    assert proc.returncode != 0 and "summary.json" in proc.stderr


# ------------------------------------------------------------------------------ helpers

def _summary(**kw):
    base = dict(dataset="photos-standin", dataset_is_standin=True, stands_in_for="celeba", scale="smoke",
                iterations=12, gen_updates=12, commit=FAKE_COMMIT + "+dirty")
    return {**base, **kw}


def test_stamp_text_names_standins_iterations_and_commit():
    text = plotting.stamp_text("smoke", [_summary(), _summary(stands_in_for="cats", iterations=24),
                                         _summary(dataset="mnist5k", dataset_is_standin=False, stands_in_for=None)])
    assert "photos-standin (STAND-IN for CelebA, Cats)" in text
    assert "mnist5k" in text and "mnist5k (" not in text
    assert "iterations: 12-24" in text
    assert FAKE_COMMIT[:12] + "+dirty" in text and FAKE_COMMIT not in text


def test_stamp_text_rejects_mixed_scales_and_missing_fields():
    with pytest.raises(ValueError, match="scale"):
        plotting.stamp_text("small", [_summary()])
    bad = _summary()
    del bad["commit"]
    with pytest.raises(ValueError, match="commit"):
        plotting.stamp_text("smoke", [bad])
    with pytest.raises(ValueError):
        plotting.stamp_text("smoke", [])


def test_save_pdf_is_byte_identical(tmp_path):
    paths = []
    for name in ("a.pdf", "b.pdf"):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [1, 0, 1], label="curve")
        plotting.stamp(fig, "smoke", [_summary()])
        paths.append(plotting.save_pdf(fig, tmp_path / "sub" / name))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["a.pdf", "b.pdf"]


def test_smooth_is_a_centred_moving_average():
    y = np.array([0.0, 3.0, 0.0, 3.0, 0.0])
    np.testing.assert_allclose(plotting.smooth(y, 3), [1.5, 1.0, 2.0, 1.0, 1.5])
    np.testing.assert_array_equal(plotting.smooth(y, 1), y)
    assert len(plotting.smooth(np.arange(100.0))) == 100
    with pytest.raises(ValueError, match="window"):
        plotting.smooth(y, 0)


def test_notebook_params_from_snakemake_and_env(monkeypatch, tmp_path):
    class Params:
        figure, scale = "fig06", "small"

    class Smk:
        params = Params()
        output = ["figures/fig06.pdf"]

    monkeypatch.setenv("SINKGAN_ROOT", str(tmp_path))
    p = plotting.notebook_params("fig04", {"snakemake": Smk()})
    assert (p.figure, p.scale, p.out, p.root) == ("fig06", "small", Path("figures/fig06.pdf"), tmp_path.resolve())
    monkeypatch.delenv("FIGURE", raising=False)
    monkeypatch.delenv("SCALE", raising=False)
    monkeypatch.delenv("FIGURE_OUT", raising=False)
    p = plotting.notebook_params("fig04", {})
    assert (p.figure, p.scale, p.out) == ("fig04", "smoke", tmp_path.resolve() / "figures" / "fig04.pdf")
    assert p.results_dir == tmp_path.resolve() / "results" / "smoke"


def test_load_run_checks_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="summary.json"):
        plotting.load_run(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps(_summary()))
    (tmp_path / "log.csv").write_text("iteration,g_loss\n1,0.5\n")
    with pytest.raises(ValueError, match="d_loss"):
        plotting.load_run(tmp_path)
