"""The report builds: generated LaTeX from synthetic run directories, then latexmk (marker ``latex``).

A synthetic repository (a copy of ``config/`` and ``paper/``, fake figure PDFs and table files, and
run directories in the CONTRACT.md format for every run of ``config/study.yaml``) is built with
the same code ``make paper`` runs; the log must be clean.  A second build with one figure
removed must fail and name the figure.  The log checker is tested on known log excerpts.
"""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from sinkgan import report

REPO = Path(__file__).resolve().parents[1]
HAVE_LATEXMK = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None

# A one-page PDF with a single line drawn: enough for \includegraphics.
_PDF_OBJS = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << >> >>",
    b"<< /Length 17 >>\nstream\n0 0 m 200 100 l S\nendstream",
]


def tiny_pdf() -> bytes:
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(_PDF_OBJS, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(_PDF_OBJS) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(_PDF_OBJS) + 1, xref)
    return bytes(out)


def write_run(run_dir: Path, cfg: dict, rng: np.random.Generator, *, iterations: int = 40,
              quality=False, tracking=False) -> None:
    """A finished run in the CONTRACT.md format, with decaying noisy losses."""
    run_dir.mkdir(parents=True, exist_ok=True)
    it = np.arange(1, iterations + 1)
    g = 1.0 + cfg.get("eps", 1.0) + np.exp(-it / 10) + 0.01 * rng.standard_normal(iterations)
    d = 0.5 - 0.1 * cfg.get("eps", 1.0) + 0.01 * rng.standard_normal(iterations)
    rows = ["iteration,gen_updates,critic_updates,g_loss,d_loss,wall_seconds"]
    n_critic = cfg.get("n_critic", 10)
    rows += [f"{i},{i},{i * n_critic},{a:.6f},{b:.6f},{0.1 * i:.3f}" for i, a, b in zip(it, g, d)]
    (run_dir / "log.csv").write_text("\n".join(rows) + "\n")
    (run_dir / "config.yaml").write_text(yaml.safe_dump({**cfg, "iterations": iterations}))
    (run_dir / "summary.json").write_text(json.dumps({
        "dataset": cfg["dataset"], "dataset_is_standin": True,
        "stands_in_for": "mnist" if cfg["dataset"] == "mnist5k" else "cats or celeba", "scale": "smoke",
        "iterations": iterations, "gen_updates": iterations, "critic_updates": iterations * n_critic, "final_g_loss": float(g[-4:].mean()),
        "final_d_loss": float(d[-4:].mean()), "wall_seconds": 4.0, "device": "cpu",
        "commit": "0123456789ab", "torch": "2.13.0"}))
    if quality:
        (run_dir / "quality.json").write_text(json.dumps({
            "fid": float(50 + 10 * rng.random()), "kid_mean": 0.02, "kid_std": 0.004, "is_mean": None,
            "extractor": "synthetic"}))
    if tracking:
        (run_dir / "tracking").mkdir(exist_ok=True)
        lines = ["track,step,gen_updates,critic_updates,ssim"]
        for tr in range(2):
            for s in range(1, 7):
                lines.append(f"{tr},{s},{s},{s * 10},{1 - 0.5 / s:.4f}")
        (run_dir / "tracking" / "ssim.csv").write_text("\n".join(lines) + "\n")
        k = float(rng.normal())
        (run_dir / "tracking" / "rate.json").write_text(json.dumps(
            {"kappa": k, "ci_low": k - 0.3, "ci_high": k + 0.3, "intercept": 0.1, "r2": 0.9}))


def synthetic_repo(tmp: Path, *, skip_figure: str | None = None):
    """A copy of config/ and paper/ with fake figures/tables and a synthetic run directory for
    every run of the smoke study (run ids from ``sinkgan.study``)."""
    from sinkgan.study import Study

    shutil.copytree(REPO / "config", tmp / "config")
    shutil.copytree(REPO / "paper", tmp / "paper", ignore=shutil.ignore_patterns("build", "generated", "main.pdf"))
    (tmp / "paper" / "generated").mkdir()
    (tmp / "figures" / "smoke").mkdir(parents=True)
    raw = yaml.safe_load((tmp / "config" / "study.yaml").read_text())
    study = Study.load("smoke", root=tmp)
    rng = np.random.default_rng(0)
    sing = report.requested_sing_figures(raw, "smoke", report.sing_spec(tmp))
    for fig in report.paper_figures(raw) + sing:
        if fig != skip_figure:
            (tmp / "figures" / "smoke" / f"{fig}.pdf").write_bytes(tiny_pdf())
    for fig in report.paper_figures(raw):
        kind = raw["figures"][fig]["kind"]
        for spec in study.figure_runs(fig):
            d = Path(spec.run_dir)
            if not (d / "summary.json").exists() or kind in ("quality", "ssim", "rate"):
                write_run(d, spec.config.to_dict(), rng,
                          quality=kind == "quality", tracking=kind in ("ssim", "rate"))
    for t in report.TABLES:
        (tmp / "figures" / f"{t}.tex").write_text(
            "\\begin{tabular}{lrr}\\toprule Layer & Output & Params \\\\ \\midrule "
            "conv\\_1 & $64\\times16\\times16$ & 1\\,024 \\\\ \\bottomrule\\end{tabular}\n")
    return tmp, study


def _generate(tmp: Path, study) -> list[dict]:
    figs = report.figure_evidence("smoke", tmp, study=study)
    return report.scorecard("smoke", tmp, figures=figs, commit="synthetic")


def test_generated_sources_and_claims_json(tmp_path):
    root, study = synthetic_repo(tmp_path)
    results = _generate(root, study)
    doc = json.loads((root / "results" / "smoke" / "claims.json").read_text())
    assert len(doc["claims"]) == len(results) >= 10
    assert sum(doc["counts"].values()) == len(results)
    # synthetic runs are a few iterations long: nothing may be decided, visual statements are not decidable
    assert {c["status"] for c in doc["claims"]} == {"inconclusive", "not-decidable"}
    for name in report.GENERATED:
        assert (root / "paper" / "generated" / "smoke" / f"{name}.tex").is_file()
    macros = (root / "paper" / "generated" / "smoke" / "macros.tex").read_text()
    assert r"\newcommand{\ReproScale}{smoke}" in macros
    assert r"\ReproDef{fig22/n_critic = 5/kappa}" in macros
    # the CPU-hours total is the runs' wall_seconds: 4 s per unique run
    n_runs = int(re.search(r"\\ReproNumRuns\}\{(\d+)\}", macros).group(1))
    cpu = float(re.search(r"\\ReproCPUHours\}\{([^}]*)\}", macros).group(1))
    assert math.isclose(cpu, n_runs * 4.0 / 3600, rel_tol=1e-2)


def test_sing_requested_only_from_study():
    raw = {"figures": {"fig04": {}}, "sing": {"sing73": {"scales": ["small"]}}}
    sing = {"experiments": {"l2": {"figure": "sing71"}, "enc": {"figure": "sing72"}}, "scales": {"small": {}}}
    assert report.requested_sing_figures(raw, "smoke", sing) == []
    assert report.requested_sing_figures(raw, "small", sing) == ["sing71", "sing72", "sing73"]
    tex = report.render_sing({}, ["sing72"], "small")
    assert "\\IfFileExists{../figures/small/sing71.pdf}" in tex  # optional: shown only when present
    assert "\\IfFileExists{../figures/small/sing72.pdf}" not in tex  # requested: required
    assert "{small/sing72.pdf}" in tex  # the figure of the report's own scale


@pytest.mark.parametrize("log, expected", [
    ("LaTeX Warning: Reference `fig:fig99' on page 3 undefined on input line 12.", "undefined reference: fig:fig99"),
    ("! LaTeX Error: File `fig07.pdf' not found.", "missing file: fig07.pdf"),
    ("./sections/setup.tex:4: Undefined control sequence.", "LaTeX error: Undefined control sequence."),
    ("Package repro Warning: Result `fig04/x/g_loss' undefined on input line 9.",
     "report: Result `fig04/x/g_loss' undefined on input line 9."),
    ("pdfTeX warning (dest): name{claim-x} has been referenced but does not exist, replaced by a fixed one",
     "undefined link target: claim-x"),
])
def test_check_latex_log_finds_problems(log, expected):
    assert expected in report.check_latex_log("This is pdfTeX\n" + log + "\n")


def test_check_latex_log_clean():
    assert report.check_latex_log("This is pdfTeX\nOutput written on main.pdf (3 pages).\n") == []


@pytest.mark.latex
@pytest.mark.skipif(not HAVE_LATEXMK, reason="latexmk/pdflatex not installed")
def test_paper_builds_clean(tmp_path):
    root, study = synthetic_repo(tmp_path)
    _generate(root, study)
    pdf = report.build_paper(root / "paper", scale="smoke")
    assert pdf == root / "paper" / "smoke" / "main.pdf"
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    log = (root / "paper" / "build" / "smoke.log").read_text(errors="replace")
    assert report.check_latex_log(log) == []
    # deterministic: a second build from scratch gives the same bytes
    first = pdf.read_bytes()
    shutil.rmtree(root / "paper" / "build")
    assert report.build_paper(root / "paper", scale="smoke").read_bytes() == first


@pytest.mark.latex
@pytest.mark.skipif(not HAVE_LATEXMK, reason="latexmk/pdflatex not installed")
def test_paper_build_fails_on_missing_figure(tmp_path):
    root, study = synthetic_repo(tmp_path, skip_figure="fig13")
    _generate(root, study)
    with pytest.raises(RuntimeError, match="fig13"):
        report.build_paper(root / "paper")


def _pdf_text(pdf: Path) -> str:
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


@pytest.mark.latex
@pytest.mark.skipif(not HAVE_LATEXMK or shutil.which("pdftotext") is None, reason="latexmk/pdftotext not installed")
def test_partial_report_and_the_first_page_read_what_is_there(tmp_path):
    """A partly trained scale (`make paper-cached`): the figures not drawn yet are named on the first
    page and replaced by a paragraph (no missing-file error); a person's reading of the results is
    printed on the first page; the commit-mismatch warning appears only when the commits differ."""
    root, study = synthetic_repo(tmp_path, skip_figure="fig13")
    obs = root / "paper" / "observations.yaml"
    obs.write_text(yaml.safe_dump({"smoke": {report.RESULTS_SHOW: {
        "results": "0123456789ab", "text": "The synthetic generators draw nothing at all."}}}))
    figs = report.figure_evidence("smoke", root, study=study)
    with pytest.raises(ValueError, match="fig99"):
        report.scorecard("smoke", root, figures=figs, commit="0123456789ab", not_drawn=["fig99"])
    report.scorecard("smoke", root, figures=figs, commit="0123456789ab", not_drawn=["fig13"])
    text = _pdf_text(report.build_paper(root / "paper", scale="smoke"))
    first = text[:text.index("Every figure at a glance")]  # ligatures are text (glyphtounicode)
    assert "Partial report." in first and "(Fig. 13)" in first.split("In place of the others")[1]
    assert "draws 18 of the 19 paper figures (Figs. 4-12, 14-22)" in first
    assert "What the results show. The synthetic generators draw nothing at all." in first and "stale" not in first
    assert "commit mismatch" not in text and "MISMATCH" not in text  # the report's commit is the results'
    assert "Not drawn yet." in text and "runs have finished training at this scale" in text
    # the same results built by other code: flagged in the header; the reading is stale
    report.scorecard("smoke", root, figures=figs, commit="fedcba987654", not_drawn=["fig13"])
    obs.write_text(yaml.safe_dump({"smoke": {report.RESULTS_SHOW: {"results": "aaaaaaa", "text": "Old words."}}}))
    report.scorecard("smoke", root, figures=figs, commit="fedcba987654", not_drawn=["fig13"])
    text = _pdf_text(report.build_paper(root / "paper", scale="smoke"))
    assert "commit mismatch: see Summary" in text and "may be stale" in text
    # every figure drawn: no partial box
    (root / "figures" / "smoke" / "fig13.pdf").write_bytes(tiny_pdf())
    report.scorecard("smoke", root, figures=figs, commit="0123456789ab")
    assert "Partial report" not in _pdf_text(report.build_paper(root / "paper", scale="smoke"))


@pytest.mark.latex
@pytest.mark.skipif(not HAVE_LATEXMK, reason="latexmk/pdflatex not installed")
def test_report_of_one_scale_shows_that_scales_figures_only(tmp_path):
    """The report at a scale includes figures/<scale>/ and generated/<scale>/: with the smoke
    figures present and no small-scale ones, the small report fails on a missing figure."""
    root, study = synthetic_repo(tmp_path)
    _generate(root, study)
    # the generated files of a (pretend) small-scale scorecard: the same text, rendered for `small`
    (root / "paper" / "generated" / "small").mkdir()
    for f in (root / "paper" / "generated" / "smoke").iterdir():
        (root / "paper" / "generated" / "small" / f.name).write_text(f.read_text().replace("smoke/fig", "small/fig"))
    with pytest.raises(RuntimeError, match=r"small/fig04"):
        report.build_paper(root / "paper", scale="small")
    with pytest.raises(RuntimeError, match="generated/paper"):
        report.build_paper(root / "paper", scale="paper")


def test_paper_inputs_are_scale_specific():
    for scale in ("smoke", "small"):
        figs = report.paper_inputs(scale, REPO)["figures"]
        assert figs and all(f.startswith(f"figures/{scale}/") for f in figs), figs


# --------------------------------------------------------------------------- issue 14, items 5-8


def test_preamble_uses_t1_and_bars_print_as_bars():
    """OT1 prints `|` as an em-dash: the preamble selects T1 and the escaper writes \\textbar."""
    main = (REPO / "paper" / "main.tex").read_text()
    assert re.search(r"^\\usepackage\[T1\]\{fontenc\}", main, re.M)
    tex = report.latex_escape("|D(x) - D(y)|^p")
    assert "|" not in tex and tex.count(r"\textbar{}") == 2


def test_long_paths_may_break_in_typewriter_type():
    tex = report.deviations_latex([report.Deviation("a.b", "code/sinkgan/sinkhorn_fused.py", "x", "y", "z")])
    assert r"sinkgan/\allowbreak{}sinkhorn\_\allowbreak{}fused.\allowbreak{}py" in tex
    # a file or function name in a narrow prose column breaks too (it ran into the next column)
    tex = report.deviations_latex([report.Deviation("a.b", "1", "x", "utils/sinkhorn_util.potential_operator_grad", "z")])
    assert r"sinkhorn\_\allowbreak{}util.\allowbreak{}potential\_\allowbreak{}operator" in tex
    # ...but never inside a number
    assert "0.01" in report._breakable("0.01 at the smoke scale (7.1)") and "7.1" in report._breakable("(7.1)")


def test_double_hyphens_stay_hyphens():
    """The authors' flags (`--max_sd 0.1`) are two hyphens, which TeX would typeset as an en dash."""
    assert report.latex_escape("--max_sd 0.1") == r"-{}-max\_sd 0.1"
    assert report.latex_escape("a - b") == "a - b"
    assert report.latex_escape("a \u2013 b") == "a -- b"  # an en dash in the text stays one


def test_hyperparameter_paper_column_is_the_papers_never_a_code_default():
    from sinkgan.config import TrainConfig

    raw = report.study_raw(REPO)
    tex = report.render_setup(raw, "smoke", {}, {"data": {}})
    tex = tex[tex.index("Setting & Paper & This scale"):tex.index("Hardware and compute")]
    rows = {m.group(1).replace(r"\_", "_"): m.group(2)
            for m in re.finditer(r"^\\texttt\{([^}]*)\} & (.*?) & ", tex, re.M)}
    assert set(rows) == set(report.SETUP_KEYS)
    defaults = TrainConfig().to_dict()
    for key, cell in rows.items():
        if key in report.PAPER_HYPERPARAMETERS:
            assert cell != r"\emph{not stated}"
        else:  # the paper is silent: say so, whatever the code's default is
            assert cell == r"\emph{not stated}", (key, cell, defaults.get(key))
    assert "1,000,000" in rows["iterations"] and str(defaults["iterations"]) not in rows["iterations"].split()


def test_figure_verdict_over_claims():
    assert report.figure_verdict([]) == "not-decidable"
    assert report.figure_verdict(["not-decidable"]) == "not-decidable"
    assert report.figure_verdict(["supported", "not-decidable"]) == "supported"
    assert report.figure_verdict(["supported", "inconclusive"]) == "inconclusive"
    assert report.figure_verdict(["supported", "contradicted", "inconclusive"]) == "contradicted"


def test_commit_mismatch():
    assert report.commit_mismatch("4a47b51", ["4a47b51cafe"]) == ""
    assert "MISMATCH" in report.commit_mismatch("cba79fc", ["4a47b51"])
    assert "4a47b51" in report.commit_mismatch("cba79fc", ["4a47b51"])
    assert report.commit_mismatch("4a47b51+dirty", ["4a47b51"])  # uncommitted code is not the results' code


def test_results_commits_name_every_sitting_of_every_finished_run():
    """The header's "results from code": a run resumed under newer code was made by each of its
    sittings' commits; a run that has not finished (no summary.json) made no result."""
    from sinkgan import claims as C

    resumed = C.RunResult("L = 50", "r1", Path("r1"), summary={"commit": "33bce54", "sittings": [
        {"commit": "d0175e0"}, {"commit": "975ad54"}, {"commit": "975ad54"}, {"commit": "33bce54"}]},
        config={"provenance": {"commit": "33bce54"}})
    once = C.RunResult("m = 100", "r2", Path("r2"), summary={"commit": "7aa9dde"},
                       config={"provenance": {"commit": "7aa9dde"}})
    training = C.RunResult("L = 100", "r3", Path("r3"), unfinished=True)
    assert report.run_commits(resumed) == ["d0175e0", "975ad54", "33bce54"]
    assert report.run_commits(training) == []
    figs = {"fig15": C.FigureEvidence("fig15", [resumed, once, training])}
    assert report.results_commits(figs) == ["33bce54", "7aa9dde", "975ad54", "d0175e0"]


def test_summary_environment_compute_and_provenance(tmp_path):
    """The generated report: a summary row with a verdict for every figure, the header's two
    commits with the mismatch flagged, the environment and compute tables, figure notes."""
    root, study = synthetic_repo(tmp_path)
    results = _generate(root, study)
    gen = root / "paper" / "generated" / "smoke"
    summary = (gen / "summary.tex").read_text()
    raw = yaml.safe_load((root / "config" / "study.yaml").read_text())
    for fig in report.paper_figures(raw, "smoke"):
        row = next((ln for ln in summary.splitlines() if ln.startswith(rf"\hyperref[fig:{fig}]")), None)
        assert row is not None, fig
        related = [c["status"] for c in results if c["figure"] == fig]
        assert rf"\ClaimStatus{{{report.figure_verdict(related)}}}" in row
    macros = (gen / "macros.tex").read_text()
    # synthetic runs record commit 0123456789ab; the report is built at "synthetic"
    assert r"\newcommand{\ReproResultsCommits}{0123456789ab}" in macros
    assert re.search(r"\\newcommand\{\\ReproCommitMismatch\}\{MISMATCH[^}]+\}", macros)
    main = (root / "paper" / "main.tex").read_text()
    assert r"\ReproCommit" in main and r"\ReproResultsCommits" in main and r"\ReproCommitMismatch" in main
    setup = (gen / "setup.tex").read_text()
    assert "Training runs & Report build" in setup and "Python" in setup
    assert r"Evaluation: FID/KID & \emph{not recorded}" in setup  # synthetic quality.json has no wall time
    assert "Estimated training hours" in setup and r"\texttt{paper}" in setup
    figures = (gen / "figures.tex").read_text()
    notes = yaml.safe_load((root / "paper" / "figure_notes.yaml").read_text())
    for fig in report.paper_figures(raw, "smoke"):
        assert report.latex_text(notes[fig]) in figures, fig


def test_compute_estimate_scales_seconds_per_iteration():
    from sinkgan import claims as C

    r = C.RunResult("a", "a", Path("/x/a"), summary={"wall_seconds": 6.0, "iterations": 12})
    raw = {"figures": {"fig04": {}, "fig17": {}},
           "scales": {"smoke": {"train": {"iterations": 12}},
                      "paper": {"train": {"iterations": 1000}, "iterations_by_figure": {"fig17": 600}}}}
    est = report.compute_estimate(raw, "smoke", {"fig04": C.FigureEvidence("fig04", [r]),
                                                 "fig17": C.FigureEvidence("fig17", [r])})
    assert est == [{"scale": "paper", "runs": 1, "iterations": 1000, "hours": 0.5 * 1000 / 3600}]


def test_degenerate_results_listed_per_figure(tmp_path):
    from sinkgan import claims as C
    import pandas as pd

    log = pd.DataFrame({"g_loss": [1.0, 1.0, 1.0], "d_loss": [0.5, 0.4, 0.3]})
    fe = C.FigureEvidence("fig04", [C.RunResult("ours", "r", tmp_path, log=log)], {"kind": "losses"})
    notes = report.degenerate_results({"fig04": fe})
    assert any("G loss is constant" in n for n in notes["fig04"])
    tex = report.render_figures({"fig04": fe}, {}, [], C.Policy(), "smoke", {}, notes)
    assert r"\paragraph{Degenerate results.}" in tex and "G loss is constant" in tex


def test_what_we_see_is_printed_and_flagged_stale_for_other_results():
    """paper/observations.yaml: a person's reading of a rebuilt figure, tied to the commit of the
    runs looked at; rebuilt from other runs, the report says the text may be stale."""
    from sinkgan import claims as C

    obs = {"results": "abc1234", "text": "Ours draws digits; the baseline draws a texture."}
    run = lambda commit: C.RunResult("Ours", "r", Path("/x/r"), summary={"commit": commit})  # noqa: E731
    same = report.observation_paragraph(obs, C.FigureEvidence("fig05", [run("abc1234")]))
    assert same.startswith(r"\paragraph{What we see.} Ours draws digits") and "abc1234" in same and "stale" not in same
    other = report.observation_paragraph(obs, C.FigureEvidence("fig05", [run("def5678")]))
    assert "may be stale" in other and "def5678" in other
    # runs made by two commits (trained in different sessions): the entry names both
    both = {"results": "def5678, abc1234", "text": "Two sessions."}
    two = report.observation_paragraph(both, C.FigureEvidence("fig05", [run("abc1234"), run("def5678")]))
    assert "stale" not in two and "commits" in two
    assert "may be stale" in report.observation_paragraph(both, C.FigureEvidence("fig05", [run("abc1234")]))
    # a SiNG figure's reading is printed under it too, checked against its experiment's commit
    sing = report.render_sing({}, ["sing71"], "small", observations={"sing71": obs},
                              evidence={"sing71": C.FigureEvidence("sing71", [run("abc1234")])})
    assert r"\paragraph{What we see.} Ours draws digits" in sing and "abc1234" in sing and "stale" not in sing
    assert "What we see" not in report.render_sing({}, ["sing71"], "small", not_drawn=["sing71"],
                                                   observations={"sing71": obs})
    # the committed observations name scales and figures of the study, each with a commit and a text
    raw = yaml.safe_load((REPO / "paper" / "observations.yaml").read_text())
    study = yaml.safe_load((REPO / "config" / "study.yaml").read_text())
    for scale, figs in raw.items():
        assert scale in study["scales"]
        for fig, entry in figs.items():
            assert fig in study["figures"] or fig in report.SING_FIGURES or fig == report.RESULTS_SHOW, fig
            assert set(entry) == {"results", "text"} and entry["text"].strip()
    # and the cpu report prints them, not stale: they were written for the committed cpu runs
    cpu = {f: report.figure_evidence("cpu", REPO)[f] for f in raw["cpu"] if f != report.RESULTS_SHOW}
    for fig, fe in cpu.items():
        assert "stale" not in report.observation_paragraph(raw["cpu"][fig], fe), fig


def test_claims_json_numbers_do_not_depend_on_the_last_bits_of_a_float():
    """A statistic summed in another order (another CPU's vector width) differs in its last bits;
    claims.json holds 12 significant digits, so both machines write the same bytes."""
    from sinkgan.report import stable_numbers

    a = sum([0.1] * 10)  # 0.9999999999999999
    assert a != 1.0 and stable_numbers({"x": [a, (2, a)], "n": 3, "s": "t", "inf": math.inf}) == \
        {"x": [1.0, [2, 1.0]], "n": 3, "s": "t", "inf": math.inf}
    assert stable_numbers(42.22445657987032) == stable_numbers(42.22445657987033) == 42.2244565799
