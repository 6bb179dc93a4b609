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
import yaml
from PIL import Image

from sinkgan import plotting
from sinkgan.study import Study

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = {"losses": REPO / "code" / "notebooks" / "losses.py", "samples": REPO / "code" / "notebooks" / "samples.py"}
SCALE = "smoke"
FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fabricate_run(run_dir: Path, spec, scale: str, seed: int, rows: int = 30, config: dict | None = None,
                  g_loss=None) -> None:
    """Write the files of a finished run for ``spec`` (a RunSpec) into ``run_dir``; ``config``: fields
    of its config.yaml (what ran), ``g_loss``: the generator-loss column."""
    rng = np.random.default_rng(seed)
    (run_dir / "samples").mkdir(parents=True, exist_ok=True)
    it = np.arange(1, rows + 1)
    pd.DataFrame({
        "iteration": it, "gen_updates": it, "critic_updates": it * spec.config.n_critic,
        "g_loss": 5 * np.exp(-it / 10) + 0.2 * rng.standard_normal(rows) if g_loss is None else g_loss,
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
    (run_dir / "quality.json").write_text(json.dumps({"fid": float(100 + 50 * seed + rng.uniform()), "kid_mean": 0.1 + seed / 100,
                                                      "kid_std": 0.002, "extractor": "test"}))
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"name": spec.run_id, "arch": spec.config.arch, **(config or {})}))


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
    pdf = root / "figures" / "smoke" / f"{fig}.pdf"
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
        for spec in specs:  # a stand-in named as one; mnist5k, MNIST's own digits, as a subset
            assert data_words(spec) in text
        assert FAKE_COMMIT[:12] in text
        for spec in specs:
            assert plotting.run_label(spec).removeprefix(f"{plotting.dataset_title(spec, None)}, ") in text
            if "m = " in spec.label:  # the values that ran: the smoke scale's batch sizes, the paper's beside them
                assert f"m = {spec.config.batch_size} (paper: {spec.overrides['batch_size']:g})" in text
        if kind == "samples":  # each grid's FID and KID (quality.json), the evidence of the quality claims
            for spec in specs:
                q = json.loads((root / "results" / SCALE / spec.run_id / "quality.json").read_text())
                assert f"FID {q['fid']:.3g}" in text and f"KID {q['kid_mean']:#.3g}" in text


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext not installed")
def test_a_sample_grid_without_its_measurement_says_so(results_root):
    """A cached scale has a run's grid but not its quality.json (the generator it needs is not kept
    beyond the smoke scale): that panel reads "FID/KID not measured", a note names the run and the
    command that measures it, and the other panels keep their FID and KID."""
    root, fabricate = results_root
    specs = fabricate("fig14")
    bare = root / "results" / SCALE / specs[0].run_id
    (bare / "quality.json").unlink()
    proc = run_notebook("samples", "fig14", root)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(pdf_text(root / "figures" / "smoke" / "fig14.pdf").split())
    assert text.count("FID/KID not measured") == 2  # the panel's line and the note
    assert f"FID/KID not measured for {plotting.run_label(specs[0])}:" in text
    assert f"results/{SCALE}/{specs[0].run_id}/quality.json" in text.replace(" ", "")
    for spec in specs[1:]:
        q = json.loads((root / "results" / SCALE / spec.run_id / "quality.json").read_text())
        assert f"FID {q['fid']:.3g}" in text


def data_words(spec) -> str:
    """How a figure's stamp names the data set of run ``spec`` at the smoke scale (all offline sets)."""
    ds = spec.config.dataset
    return f"{ds} (SUBSET of MNIST)" if ds == "mnist5k" else f"{ds} (STAND-IN for"


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
        captured["sizes"] = {t.get_fontsize() for t in figure.findobj(plt.Text) if t.get_text().strip()}
        captured["width"] = figure.get_size_inches()[0]
        captured["path"] = Path(path)
        captured["n_axes"] = len(figure.axes)
        plt.close(figure)

    monkeypatch.setattr(plotting, "save_pdf", fake_save)
    runpy.run_path(str(NOTEBOOKS[kind]), run_name="__main__")
    texts = " ".join(captured["texts"])
    assert captured["path"] == root / "figures" / SCALE / f"{fig}.pdf"
    stamp = [t for t in captured["texts"] if t.startswith("scale: smoke")]
    assert len(stamp) == 1 and all(data_words(spec) in stamp[0] for spec in specs)
    for spec in specs:
        assert plotting.run_label(spec).removeprefix(f"{plotting.dataset_title(spec, None)}, ") in texts
    assert captured["width"] in (plotting.SINGLE, plotting.DOUBLE)
    assert min(captured["sizes"]) >= 7 and max(captured["sizes"]) <= 8, captured["sizes"]
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
    assert any("image/png" in o.get("data", {}) for o in nb.cells[-1].outputs), "figure not shown inline as an image"
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
                                         _summary(dataset="cats", dataset_is_standin=False, stands_in_for=None),
                                         _summary(dataset="mnist5k", stands_in_for="mnist")])
    assert "photos-standin (STAND-IN for CelebA, Cats)" in text
    assert "cats" in text and "cats (" not in text  # the paper's own data: its name alone
    assert "mnist5k (SUBSET of MNIST)" in text  # MNIST's own digits, fewer: not a stand-in
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
        output = ["figures/small/fig06.pdf"]

    monkeypatch.setenv("SINKGAN_ROOT", str(tmp_path))
    p = plotting.notebook_params("fig04", {"snakemake": Smk()})
    assert (p.figure, p.scale, p.out, p.root) == ("fig06", "small", Path("figures/small/fig06.pdf"), tmp_path.resolve())
    monkeypatch.delenv("FIGURE", raising=False)
    monkeypatch.delenv("SCALE", raising=False)
    monkeypatch.delenv("FIGURE_OUT", raising=False)
    p = plotting.notebook_params("fig04", {})
    assert (p.figure, p.scale, p.out) == ("fig04", "smoke", tmp_path.resolve() / "figures" / "smoke" / "fig04.pdf")
    monkeypatch.setenv("SCALE", "small")
    assert plotting.notebook_params("fig04", {}).out == tmp_path.resolve() / "figures" / "small" / "fig04.pdf"
    assert p.results_dir == tmp_path.resolve() / "results" / "smoke"


def test_load_run_checks_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="summary.json"):
        plotting.load_run(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps(_summary()))
    (tmp_path / "log.csv").write_text("iteration,g_loss\n1,0.5\n")
    with pytest.raises(ValueError, match="d_loss"):
        plotting.load_run(tmp_path)
    header = "iteration,gen_updates,critic_updates,g_loss,d_loss,wall_seconds\n"
    (tmp_path / "log.csv").write_text(header)  # header only: a figure with a curve missing
    with pytest.raises(ValueError, match=f"log.csv: run {tmp_path.name} logged no iteration"):
        plotting.load_run(tmp_path)
    (tmp_path / "log.csv").write_text(header + "1,1,10,0.5,0.4,0.1\n2,2,20,nan,0.3,0.2\n3,3,30,inf,0.2,0.3\n")
    with pytest.raises(ValueError, match="non-finite losses from iteration 2"):  # not drawn as a gap
        plotting.load_run(tmp_path)


@pytest.mark.parametrize("data, dataset", [(None, "mnist5k"), ("standin", "mnist5k"), ("real", "mnist")])
def test_notebook_resolves_the_runs_the_dag_trained(monkeypatch, tmp_path, data, dataset):
    """`snakemake figures/fig04.pdf --config scale=small data=...`: the plotting rule passes the study
    the invocation resolved (params.study), so the notebook reads the run ids the training rule wrote
    (the bug: it read the scale's default ids)."""
    from sinkgan.study import Study

    resolved = Study.load("small", data=data)
    path = resolved.write_resolved(tmp_path)

    class Params:
        figure, scale, study = "fig04", "small", str(path)

    class Smk:
        params = Params()
        output = ["figures/small/fig04.pdf"]

    monkeypatch.delenv("SINKGAN_ROOT", raising=False)
    params = plotting.notebook_params("fig04", {"snakemake": Smk()})
    trained = [s.run_id for s in resolved.figure_runs("fig04")]
    assert [s.run_id for s in plotting.study_of(params).figure_runs("fig04")] == trained
    assert all(s.config.dataset == dataset for s in plotting.study_of(params).figure_runs("fig04"))


# ------------------------------------------------------------------------------ what a reader sees (issue 14)

def _draw(monkeypatch, root, fig, kind="losses"):
    """Run a notebook in-process on ``root``; return the texts of the figure it would save."""
    for key, value in {"SINKGAN_ROOT": str(root), "FIGURE": fig, "SCALE": SCALE}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FIGURE_OUT", raising=False)
    captured = {}

    def fake_save(figure, path):
        captured["texts"] = [t.get_text() for t in figure.findobj(plt.Text)]
        captured["axes"] = list(figure.axes)
        captured["figure"] = figure

    monkeypatch.setattr(plotting, "save_pdf", fake_save)
    runpy.run_path(str(NOTEBOOKS[kind]), run_name="__main__")
    plt.close(captured["figure"])
    return captured


def test_labels_and_title_show_the_values_that_ran(results_root, monkeypatch):
    """fig13's definition says m = 64 and eps = 0.01/0.005/0.001; runs whose config.yaml says
    batch_size 7 and other eps values are drawn with those values, the paper's beside them."""
    root, _ = results_root
    specs = Study.load(SCALE, root=root).figure_runs("fig13")
    ran_eps = {0.01: 0.02, 0.005: 0.005, 0.001: 0.003}
    for i, spec in enumerate(specs):
        fabricate_run(root / "results" / SCALE / spec.run_id, spec, SCALE, seed=i,
                      config={"batch_size": 7, "eps": ran_eps[spec.config.eps], "ngf": 5})
    texts = " ".join(" | ".join(_draw(monkeypatch, root, "fig13")["texts"]).split())
    assert "m = 7 (paper: 64)" in texts and "m = 64)" not in texts.replace("(paper: 64)", "")
    assert "ε = 0.02 (paper: 0.01)" in texts and "ε = 0.003 (paper: 0.001)" in texts
    assert "ε = 0.005" in texts and "ε = 0.005 (paper" not in texts  # equal: no paper value
    assert "eps" not in texts  # notation: the symbol, never the plain name
    assert "networks narrowed: ngf 5 (paper 64)" in texts


def test_resolved_text_lists_and_notation():
    cfgs = [{"batch_size": 16}, {"batch_size": 32}, {"batch_size": 48}]
    assert plotting.resolved_text("Cats samples for m = 100, 200, 300", cfgs) == \
        "Cats samples for m = 16, 32, 48 (paper: 100, 200, 300)"
    assert plotting.resolved_text("p = 2.15, n_critic = 10", [{"p": 2.15, "n_critic": 10}]) == \
        r"p = 2.15, $n_\mathrm{critic}$ = 10"
    assert plotting.notation("log(eta_theta + eta_phi), kappa, steps") == r"log($\eta_\theta$ + $\eta_\phi$), κ, steps"
    assert plotting.network_text([{"ngf": 64, "ndf": 64, "critic_dim": 100, "z_dim": 100, "max_images": 0}]) is None


def test_degenerate_notes_find_constant_identical_and_near_constant(tmp_path):
    rng = np.random.default_rng(0)
    live = rng.standard_normal(20)
    notes = plotting.degenerate_notes({"ours": {"G loss": live, "D loss": live + 1},
                                       "baseline": {"G loss": np.zeros(20), "D loss": live}})
    assert notes == ["baseline: G loss is constant (0) at every iteration"]
    notes = plotting.degenerate_notes({"Cats": {"G loss": live}, "CelebA": {"G loss": live.copy()}})
    assert len(notes) == 1 and "Cats and CelebA: identical numbers" in notes[0]
    notes = plotting.degenerate_notes({"L = 10": {"G loss": live}, "L = 50": {"G loss": live + 1e-6}})
    assert len(notes) == 1 and "coincide" in notes[0]
    grey = np.full((40, 40, 3), 128, np.uint8)
    grey[::10] = 255  # grid lines
    Image.fromarray(grey).save(tmp_path / "grey.png")
    noisy = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    notes = plotting.degenerate_notes(images={"SiNG": tmp_path / "grey.png", "Adam": noisy, "Adam again": noisy.copy()})
    assert "SiNG: samples are near-constant (2 distinct pixel values)" in notes
    assert any("Adam and Adam again: identical sample grids" in n for n in notes)
    assert not any(n.startswith("Adam:") for n in notes)


def test_constant_run_and_twins_are_said_on_the_figure(results_root, monkeypatch):
    """fig06 with SGD-AutoDiff losses exactly 0, and fig07's CelebA runs with the same numbers."""
    root, _ = results_root
    study = Study.load(SCALE, root=root)
    for fig in ("fig06", "fig07"):
        for i, spec in enumerate(study.figure_runs(fig)):
            zero = np.zeros(30) if spec.config.variant == "sgd-autodiff" else None
            fabricate_run(root / "results" / SCALE / spec.run_id, spec, SCALE, seed=i, g_loss=zero)
    texts = _draw(monkeypatch, root, "fig06")["texts"]
    notes = " ".join(t for t in texts if t.startswith("NOTE"))
    assert "SGD-AutoDiff: G loss is constant (0) at every iteration" in notes
    assert "the same numbers as the CelebA run of fig07" in notes
    assert any(t.startswith("constant 0") for t in texts)  # marked on the curve too


def test_twin_notes_do_not_depend_on_other_figures_files(results_root, monkeypatch):
    """A figure depends on its own runs only: fig06 drawn before fig07's (CelebA) runs exist
    still names them as twins (same configuration, same stand-in images), so a DAG that plots
    fig06 first draws the same bytes as one that plots it last."""
    root, _ = results_root
    study = Study.load(SCALE, root=root)
    for i, spec in enumerate(study.figure_runs("fig06")):
        fabricate_run(root / "results" / SCALE / spec.run_id, spec, SCALE, seed=i)
    for spec in study.figure_runs("fig07"):
        assert not (root / "results" / SCALE / spec.run_id).exists()
    texts = _draw(monkeypatch, root, "fig06")["texts"]
    notes = " ".join(t for t in texts if t.startswith("NOTE"))
    assert "the same numbers as the CelebA run of fig07" in notes


@pytest.mark.parametrize("arrays, expected", [
    ([np.linspace(1, 16000, 30), np.linspace(0.5, 5, 30)], "log"),
    ([np.linspace(-5, 3, 30), np.geomspace(1, 8.1e5, 30)], "symlog"),
    ([np.linspace(0.5, 5, 30), np.linspace(1, 3, 30)], "linear"),
    ([np.zeros(10)], "linear"),
])
def test_choose_yscale_by_span(arrays, expected):
    assert plotting.choose_yscale(arrays)[0] == expected


def test_wide_span_figure_is_drawn_on_a_log_axis(results_root, monkeypatch):
    """fig04 with one curve reaching 16,000 and the other <= 5: the G panel is logarithmic."""
    root, _ = results_root
    for i, spec in enumerate(Study.load(SCALE, root=root).figure_runs("fig04")):
        g = np.geomspace(1, 16000, 30) if i == 0 else np.linspace(0.5, 5, 30)
        fabricate_run(root / "results" / SCALE / spec.run_id, spec, SCALE, seed=i, g_loss=g)
    axes = _draw(monkeypatch, root, "fig04")["axes"]
    assert axes[0].get_yscale() in ("log", "symlog")


def test_one_style_per_setting_across_figures(results_root):
    root, _ = results_root
    study = Study.load(SCALE, root=root)
    params = plotting.NotebookParams(figure="fig22", scale=SCALE, out=root / "x.pdf", root=root)
    figs = ("fig04", "fig06", "fig07", "fig11", "fig13", "fig17", "fig19", "fig22")
    by_fig = {fig: plotting.run_styles(params, study.figure_runs(fig)) for fig in figs}
    seen: dict[tuple, dict] = {}
    for fig, styles in by_fig.items():
        specs = study.figure_runs(fig)
        distinct = {plotting._setting_key(s) for s in specs}
        looks = {(styles[s.run_id]["color"], styles[s.run_id]["linestyle"]) for s in specs}
        assert len(looks) == len(distinct), f"{fig}: two settings look alike"
        for s in specs:
            assert seen.setdefault(plotting._setting_key(s), styles[s.run_id]) == styles[s.run_id]
    fig22 = {s.label: by_fig["fig22"][s.run_id] for s in study.figure_runs("fig22")}
    assert fig22["p = 2.15"] == fig22["n_critic = 10"]  # the same run in both panels
    assert set(plotting.PALETTE) <= {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}


def test_style_file_is_package_data_and_import_changes_no_style():
    assert plotting.STYLE_FILE.is_file()
    assert 'sinkgan = ["*.mplstyle"]' in (REPO / "pyproject.toml").read_text()
    import importlib

    plt.rcParams["font.size"] = 13.0
    importlib.reload(plotting)
    assert plt.rcParams["font.size"] == 13.0  # importing styles nothing
    plotting.apply_style()
    assert plt.rcParams["font.size"] == 7.5 and plt.rcParams["pdf.fonttype"] == 42


@pytest.mark.parametrize("notebook", sorted((REPO / "code" / "notebooks").glob("*.py")), ids=lambda p: p.stem)
def test_every_notebook_styles_shows_and_saves(notebook):
    """Each notebook applies the style file, shows its figure inline, then writes the PDF."""
    src = notebook.read_text()
    assert "plotting.apply_style()" in src
    assert -1 < src.find("plotting.show_inline(fig)") < src.find("plotting.save_pdf(fig")
    assert "figsize=(plotting." in src  # one of the two widths


def test_sing73_says_its_samples_are_grey(monkeypatch, tmp_path):
    """On the committed smoke SiNG results (grey samples), the figure says so."""
    if not (REPO / "results" / SCALE / "sing" / "gan" / "summary.json").is_file():
        pytest.skip("no committed SiNG smoke results")
    monkeypatch.setenv("SINKGAN_ROOT", str(REPO))
    monkeypatch.setenv("SCALE", SCALE)
    monkeypatch.setenv("FIGURE_OUT", str(tmp_path / "s.pdf"))
    captured = {}

    def fake_save(figure, path):
        captured["texts"] = [t.get_text() for t in figure.findobj(plt.Text)]
        captured["width"] = figure.get_size_inches()[0]
        plt.close(figure)

    monkeypatch.setattr(plotting, "save_pdf", fake_save)
    monkeypatch.setattr(plotting, "show_inline", lambda figure: captured.setdefault("shown", figure))
    runpy.run_path(str(REPO / "code" / "notebooks" / "sing73.py"), run_name="__main__")
    assert "shown" in captured, "the SiNG notebook does not show its figure in Jupyter"
    assert any("samples are near-constant" in t for t in captured["texts"])
    assert captured["width"] == plotting.DOUBLE
