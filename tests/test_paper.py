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
    raw = yaml.safe_load((tmp / "config" / "study.yaml").read_text())
    study = Study.load("smoke", root=tmp)
    rng = np.random.default_rng(0)
    (tmp / "figures").mkdir()
    sing = report.requested_sing_figures(raw, "smoke", report.sing_spec(tmp))
    for fig in report.paper_figures(raw) + sing:
        if fig != skip_figure:
            (tmp / "figures" / f"{fig}.pdf").write_bytes(tiny_pdf())
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
    # synthetic runs are stand-ins: nothing may be decided
    assert {c["status"] for c in doc["claims"]} == {"inconclusive"}
    assert all("stand-in" in c["evidence"] for c in doc["claims"])
    for name in report.GENERATED:
        assert (root / "paper" / "generated" / f"{name}.tex").is_file()
    macros = (root / "paper" / "generated" / "macros.tex").read_text()
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
    tex = report.render_sing({}, ["sing72"])
    assert "\\IfFileExists{../figures/sing71.pdf}" in tex  # optional: shown only when present
    assert "\\IfFileExists{../figures/sing72.pdf}" not in tex  # requested: required


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
    pdf = report.build_paper(root / "paper")
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    log = (root / "paper" / "build" / "main.log").read_text(errors="replace")
    assert report.check_latex_log(log) == []
    # deterministic: a second build from scratch gives the same bytes
    first = pdf.read_bytes()
    shutil.rmtree(root / "paper" / "build")
    assert report.build_paper(root / "paper").read_bytes() == first


@pytest.mark.latex
@pytest.mark.skipif(not HAVE_LATEXMK, reason="latexmk/pdflatex not installed")
def test_paper_build_fails_on_missing_figure(tmp_path):
    root, study = synthetic_repo(tmp_path, skip_figure="fig13")
    _generate(root, study)
    with pytest.raises(RuntimeError, match="fig13"):
        report.build_paper(root / "paper")
