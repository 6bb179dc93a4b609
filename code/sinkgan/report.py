"""The reproduction report (``make paper``): generated LaTeX, the claims scorecard, the deviations.

Nothing in ``paper/`` types a result: this module reads ``results/<scale>/`` and writes

``paper/generated/macros.tex``
    ``\\ReproScale``, ``\\ReproCommit``, compute totals, claim counts, and every per-run number as
    ``\\ReproDef{<figure>/<label>/<quantity>}{value}`` (read in the text with ``\\Result{...}``,
    which warns -- and the build fails -- on a key that was not generated);
``setup.tex``, ``tables.tex``, ``figures.tex``, ``scorecard.tex``, ``deviations.tex``, ``sing.tex``
    the sections' generated bodies;

and ``results/<scale>/claims.json`` (the scorecard, see :mod:`sinkgan.claims`).

Command line (what ``code/rules/paper.smk`` runs)::

    python -m sinkgan.report scorecard --scale smoke      # claims.json + paper/generated/*.tex
    python -m sinkgan.report build                        # latexmk -> paper/main.pdf, log checked
    python -m sinkgan.report check-log paper/build/main.log
    python -m sinkgan.report deviations-md                # the README's "Deviations" table
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from . import claims as C
from .checkpoint import atomic_write_bytes, atomic_write_text
from .provenance import git_commit, repo_root

REPO = repo_root()  # $SINKGAN_ROOT, else the working tree Snakemake runs in, else this checkout
#: Files written under ``paper/generated/`` by :func:`write_generated`.
GENERATED = ("macros", "setup", "tables", "figures", "scorecard", "deviations", "sing")
#: The SiNG figures the report has a place for (built by the SiNG rules when the study asks).
SING_FIGURES = ("sing71", "sing72", "sing73")
TABLES = ("table2", "table3")

# --------------------------------------------------------------------------- deviations


@dataclass(frozen=True)
class Deviation:
    """One entry of ``config/deviations.yaml``."""

    switch: str | None  #: configuration key selecting the behaviour (None: no switch)
    default: str  #: what this repository does by default
    paper_text: str  #: what the paper's text says
    authors_code: str  #: what the authors' code does
    why: str  #: reason for the default / effect of the other choice


def load_deviations(path: str | Path | None = None) -> list[Deviation]:
    """Read ``config/deviations.yaml`` (list under ``deviations:``), checking every field.

    Raises ``ValueError`` naming the entry and the field when one is missing, empty or not text.
    """
    path = Path(path) if path is not None else REPO / "config" / "deviations.yaml"
    raw = yaml.safe_load(path.read_text()) or {}
    items = raw.get("deviations") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: expected a non-empty list under 'deviations:'")
    names = [f.name for f in fields(Deviation)]
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"{path}: deviations[{i}] must be a mapping with keys {names}")
        unknown = set(item) - set(names)
        if unknown:
            raise ValueError(f"{path}: deviations[{i}]: unknown key(s) {sorted(unknown)}; allowed {names}")
        values = {}
        for name in names:
            if name not in item:
                raise ValueError(f"{path}: deviations[{i}].{name} is missing")
            v = item[name]
            if name == "switch" and v is None:
                values[name] = None
                continue
            if isinstance(v, (int, float, bool)) or v is None:
                v = str(v) if v is not None else None
            if not isinstance(v, str) or not v.strip():
                raise ValueError(f"{path}: deviations[{i}].{name} must be non-empty text, got {item[name]!r}")
            values[name] = v.strip()
        out.append(Deviation(**values))
    return out


def deviations_markdown(devs: Sequence[Deviation]) -> str:
    """The deviations as a Markdown table (for the README's "Deviations" section)."""
    def cell(s: str | None) -> str:
        return (s or "(none)").replace("|", "\\|").replace("\n", " ")

    lines = ["| switch | default | paper text | authors' code | why |", "|---|---|---|---|---|"]
    for d in devs:
        sw = f"`{d.switch}`" if d.switch else "(no switch)"
        lines.append(f"| {sw} | `{cell(d.default)}` | {cell(d.paper_text)} | {cell(d.authors_code)} | {cell(d.why)} |")
    return "\n".join(lines) + "\n"


def deviations_latex(devs: Sequence[Deviation]) -> str:
    """The deviations as a ``longtable`` (the report's "Deviations" section)."""
    rows = []
    for d in devs:
        sw = rf"\texttt{{{latex_escape(d.switch)}}}" if d.switch else r"\emph{none}"
        rows.append(
            f"{sw} & \\texttt{{{latex_escape(d.default)}}} & {latex_escape(d.paper_text)} & "
            f"{latex_escape(d.authors_code)} & {latex_escape(d.why)} \\\\"
        )
    head = (r"\textbf{Switch} & \textbf{Default} & \textbf{Paper text} & \textbf{Authors' code} & "
            r"\textbf{Why} \\")
    return "\n".join([
        r"\begin{small}",
        r"\begin{longtable}{>{\raggedright}p{0.11\linewidth}>{\raggedright}p{0.11\linewidth}"
        r">{\raggedright}p{0.22\linewidth}>{\raggedright}p{0.22\linewidth}>{\raggedright\arraybackslash}p{0.22\linewidth}}",
        r"\toprule", head, r"\midrule", r"\endhead",
        *rows,
        r"\bottomrule",
        r"\end{longtable}",
        r"\end{small}",
        "",
    ])


# --------------------------------------------------------------------------- LaTeX helpers

_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "±": r"$\pm$", "–": "--", "—": "---",
    "≈": r"$\approx$", "≤": r"$\le$", "≥": r"$\ge$", "×": r"$\times$", "…": r"\dots{}",
}


def latex_escape(text: Any) -> str:
    """Plain text -> LaTeX source that typesets the same characters (non-ASCII not listed: '?')."""
    out = []
    for ch in str(text):
        if ch in _TEX_SPECIAL:
            out.append(_TEX_SPECIAL[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append("?")
    return "".join(out)


_SYMBOLS = {
    "n_critic": r"$n_{\mathrm{critic}}$", "eta_theta": r"$\eta_\theta$", "eta_phi": r"$\eta_\phi$",
    "alpha_theta": r"$\alpha_\theta$", "eps": r"$\varepsilon$", "kappa": r"$\kappa$",
    "gamma": r"$\gamma$", "theta": r"$\theta$", "phi": r"$\phi$",
}
_SYMBOL_RE = re.compile(r"\b(" + "|".join(sorted(_SYMBOLS, key=len, reverse=True)) + r")\b")


def latex_text(text: Any) -> str:
    """:func:`latex_escape` plus the paper's symbols (eps, n_critic, kappa, ...) typeset as math."""
    parts = _SYMBOL_RE.split(str(text))
    # split() with one group alternates: text, symbol, text, symbol, ...
    return "".join(_SYMBOLS[p] if i % 2 else latex_escape(p) for i, p in enumerate(parts))


def tex_num(x: Any, digits: int = 4) -> str:
    """A number for the text: ``digits`` significant digits, ``$a\\times10^{b}$`` when large or
    small, ``n/a`` for None/NaN, integers as integers."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return f"{x:,}".replace(",", r"\,")
    try:
        v = float(x)
    except (TypeError, ValueError):
        return latex_escape(x)
    if not math.isfinite(v):
        return "n/a"
    if v == 0:
        return "0"
    s = f"{v:.{digits}g}"
    if "e" in s:
        mant, exp = s.split("e")
        return rf"\ensuremath{{{mant}\times10^{{{int(exp)}}}}}"
    return s.replace("-", r"\ensuremath{-}", 1) if s.startswith("-") else s


def macro_key(*parts: str) -> str:
    """Key of ``\\ReproDef``/``\\Result``: parts joined by '/', characters unsafe in ``\\csname`` dropped."""
    return "/".join(re.sub(r"[\\#%{}~^&$]", "", str(p)) for p in parts)


# --------------------------------------------------------------------------- study access


def study_raw(root: Path = REPO) -> dict:
    return yaml.safe_load((Path(root) / "config" / "study.yaml").read_text()) or {}


def paper_figures(raw: Mapping) -> list[str]:
    """The paper's figures in ``config/study.yaml`` (``figNN``), in order."""
    return sorted((k for k in (raw.get("figures") or {}) if re.fullmatch(r"fig\d+", k)), key=lambda k: int(k[3:]))


def sing_spec(root: Path = REPO) -> dict:
    """``config/sing.yaml`` (the SiNG experiments), or ``{}`` where it does not exist."""
    path = Path(root) / "config" / "sing.yaml"
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def requested_sing_figures(raw: Mapping, scale: str | None = None, sing: Mapping | None = None) -> list[str]:
    """The SiNG figures the DAG builds at ``scale``: the ``figure`` of every experiment in
    ``config/sing.yaml`` (``sing``) when that file defines the scale, plus any ``singNN`` key under
    ``figures:`` or ``sing:`` of ``config/study.yaml`` (``raw``; an entry may restrict itself with
    ``scales: [...]``).  The Snakemake rule passes the DAG's own list instead (``--sing``).
    Requested figures are inputs of the paper (missing -> the build fails); the others are shown
    only if a PDF happens to exist, marked as not rebuilt."""
    found: set[str] = set()
    sing = sing or {}
    if scale is None or scale in (sing.get("scales") or {}):
        for exp in (sing.get("experiments") or {}).values():
            if isinstance(exp, Mapping) and exp.get("figure") in SING_FIGURES:
                found.add(exp["figure"])
    for section in (raw.get("figures") or {}, raw.get("sing") or {}):
        if not isinstance(section, Mapping):
            continue
        for k, v in section.items():
            if k in SING_FIGURES:
                scales = v.get("scales") if isinstance(v, Mapping) else None
                if scale is None or scales is None or scale in scales:
                    found.add(k)
    return [k for k in SING_FIGURES if k in found]


def _load_study(scale: str, root: Path, **kwargs):
    """``sinkgan.study.Study.load(scale, root, data=..., data_root=...)``."""
    from sinkgan.study import Study

    return Study.load(scale, root=root, **kwargs)


def figure_evidence(scale: str, root: Path = REPO, study=None) -> dict[str, C.FigureEvidence]:
    """Every paper figure's runs, read from ``results/<scale>/`` via ``sinkgan.study``."""
    root = Path(root)
    raw = study_raw(root)
    study = study or _load_study(scale, root)
    out = {}
    for fig in paper_figures(raw):
        runs = []
        for spec in study.figure_runs(fig):
            run_dir = Path(spec.run_dir)
            run_dir = run_dir if run_dir.is_absolute() else root / run_dir
            ds = (getattr(spec, "overrides", None) or {}).get("dataset")
            runs.append(C.load_run_result(run_dir, spec.label, getattr(spec, "run_id", run_dir.name), ds))
        out[fig] = C.FigureEvidence(fig, runs, dict(raw["figures"][fig]))
    return out


#: Files each figure kind needs from its runs, beyond ``summary.json`` (docs/CONTRACT.md).
KIND_FILES = {"quality": ("quality.json",), "ssim": ("tracking/ssim.csv",), "rate": ("tracking/rate.json",)}


def paper_inputs(scale: str, root: Path = REPO, study=None, sing: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Input files of the Snakemake rules (paths relative to ``root``):
    ``results`` (what the scorecard reads: every figure run's ``summary.json`` plus the files its
    figure kind needs), ``figures`` (the PDFs the paper includes: fig04-fig22 and the requested
    SiNG figures) and ``tables``."""
    root = Path(root).resolve()
    raw = study_raw(root)
    study = study or _load_study(scale, root)
    results: list[str] = []
    for fig in paper_figures(raw):
        kind = raw["figures"][fig].get("kind")
        for spec in study.figure_runs(fig):
            run_dir = Path(spec.run_dir)
            rel = run_dir.resolve().relative_to(root) if run_dir.is_absolute() else run_dir
            for name in ("summary.json",) + KIND_FILES.get(kind, ()):
                p = str(rel / name)
                if p not in results:
                    results.append(p)
    sing = list(sing) if sing is not None else requested_sing_figures(raw, scale, sing_spec(root))
    figs = [f"figures/{f}.pdf" for f in paper_figures(raw) + sing]
    return {"results": results, "figures": figs, "tables": [f"figures/{t}.tex" for t in TABLES]}


# --------------------------------------------------------------------------- numbers


def _unique_runs(figures: Mapping[str, C.FigureEvidence]) -> list[C.RunResult]:
    seen, out = set(), []
    for fe in figures.values():
        for r in fe.runs:
            if str(r.run_dir) not in seen:
                seen.add(str(r.run_dir))
                out.append(r)
    return out


def is_gpu_device(device: str | None) -> bool:
    d = (device or "").lower()
    return any(t in d for t in ("cuda", "gpu", "nvidia", "rocm", "hip", "mps"))


def compute_summary(figures: Mapping[str, C.FigureEvidence]) -> dict:
    """Totals over the unique runs: count, GPU-/CPU-hours (sum of ``wall_seconds`` / 3600 by the
    run's ``device``), iteration range, devices, torch versions, commits, data sets."""
    runs = _unique_runs(figures)
    done = [r for r in runs if r.summary]
    gpu = sum(float(r.summary.get("wall_seconds") or 0) for r in done if is_gpu_device(r.summary.get("device"))) / 3600
    cpu = sum(float(r.summary.get("wall_seconds") or 0) for r in done if not is_gpu_device(r.summary.get("device"))) / 3600
    iters = [int(r.summary["iterations"]) for r in done if r.summary.get("iterations") is not None]
    data: dict[str, dict] = {}
    for r in done:
        key = r.paper_dataset or r.summary.get("stands_in_for") or r.summary.get("dataset")
        d = data.setdefault(key, {"trained_on": set(), "standin": False, "runs": 0})
        d["trained_on"].add(str(r.summary.get("dataset")))
        d["standin"] |= bool(r.summary.get("dataset_is_standin"))
        d["runs"] += 1
    return {
        "runs": len(runs), "finished": len(done), "missing": [str(r.run_dir) for r in runs if not r.summary],
        "gpu_hours": gpu, "cpu_hours": cpu,
        "iterations_min": min(iters) if iters else None, "iterations_max": max(iters) if iters else None,
        "devices": sorted({str(r.summary.get("device")) for r in done}),
        "torch": sorted({str(r.summary.get("torch")) for r in done if r.summary.get("torch")}),
        "commits": sorted({str(r.summary.get("commit")) for r in done if r.summary.get("commit")}),
        "data": {k: {**v, "trained_on": sorted(v["trained_on"])} for k, v in data.items()},
        "any_standin": any(v["standin"] for v in data.values()),
    }


def run_numbers(r: C.RunResult, policy: C.Policy) -> dict[str, Any]:
    """The per-run quantities the report shows and defines as ``\\Result`` keys."""
    n: dict[str, Any] = {}
    s = r.summary or {}
    for k in ("iterations", "gen_updates", "critic_updates", "final_g_loss", "final_d_loss", "dataset"):
        if k in s:
            n[k] = s[k]
    if "wall_seconds" in s:
        n["wall_hours"] = float(s["wall_seconds"]) / 3600
    if r.log is not None:
        for col in ("g_loss", "d_loss"):
            if col in r.log.columns:
                st = C.tail_stat(r.log[col].to_numpy(dtype=float), policy.tail)
                n[col], n[f"{col}_sd"] = st.mean, st.sd
    if r.quality:
        for k in ("fid", "kid_mean", "kid_std", "is_mean", "is_std"):
            if r.quality.get(k) is not None:
                n[k] = r.quality[k]
    if r.rate:
        for k in ("kappa", "ci_low", "ci_high", "intercept", "r2"):
            if r.rate.get(k) is not None:
                n[k] = r.rate[k]
    if r.ssim is not None and len(r.ssim):
        curve = r.ssim.groupby("step", sort=True)["ssim"].mean().to_numpy()
        st = C.tail_stat(curve, policy.tail)
        n["final_ssim"], n["final_ssim_sd"] = st.mean, st.sd
        n["tracks"] = int(r.ssim["track"].nunique()) if "track" in r.ssim.columns else None
    return n


# --------------------------------------------------------------------------- renderers


def _def(key: str, value: str) -> str:
    return f"\\ReproDef{{{key}}}{{{value}}}"


def _range(lo, hi) -> str:
    return tex_num(lo) if lo == hi else f"{tex_num(lo)}--{tex_num(hi)}"


def render_macros(scale: str, scale_info: Mapping, summary: Mapping, claims_results: Sequence[Mapping],
                  figures: Mapping[str, C.FigureEvidence], policy: C.Policy, commit: str) -> str:
    counts = {s: sum(1 for c in claims_results if c["status"] == s) for s in C.STATUSES}
    lines = [
        "% generated by sinkgan.report -- do not edit",
        rf"\newcommand{{\ReproScale}}{{{latex_escape(scale)}}}",
        rf"\newcommand{{\ReproScaleAbout}}{{{latex_text(scale_info.get('about', ''))}}}",
        rf"\newcommand{{\ReproCommit}}{{{latex_escape(commit)}}}",
        rf"\newcommand{{\ReproRunCommits}}{{{latex_escape(', '.join(c[:12] for c in summary['commits']) or 'n/a')}}}",
        rf"\newcommand{{\ReproNumRuns}}{{{summary['runs']}}}",
        rf"\newcommand{{\ReproNumFinished}}{{{summary['finished']}}}",
        rf"\newcommand{{\ReproGPUHours}}{{{tex_num(summary['gpu_hours'], 3)}}}",
        rf"\newcommand{{\ReproCPUHours}}{{{tex_num(summary['cpu_hours'], 3)}}}",
        rf"\newcommand{{\ReproItersMin}}{{{tex_num(summary['iterations_min'])}}}",
        rf"\newcommand{{\ReproItersMax}}{{{tex_num(summary['iterations_max'])}}}",
        rf"\newcommand{{\ReproIters}}{{{_range(summary['iterations_min'], summary['iterations_max'])}}}",
        rf"\newcommand{{\ReproDevices}}{{{latex_escape(', '.join(summary['devices']) or 'n/a')}}}",
        rf"\newcommand{{\ReproTorch}}{{{latex_escape(', '.join(summary['torch']) or 'n/a')}}}",
        rf"\newcommand{{\ReproStandinNote}}{{{'Some or all runs were trained on offline stand-in data sets (named as such below); no claim about the paper' + chr(39) + 's data sets is decided from them.' if summary['any_standin'] else 'All runs were trained on the paper' + chr(39) + 's data sets.'}}}",
        rf"\newcommand{{\ReproTail}}{{{tex_num(100 * policy.tail, 3)}\%}}",
        rf"\newcommand{{\ReproZ}}{{{tex_num(policy.z, 3)}}}",
        rf"\newcommand{{\ReproMinIterations}}{{{tex_num(policy.min_iterations)}}}",
        rf"\newcommand{{\ReproClaimsTotal}}{{{len(claims_results)}}}",
        rf"\newcommand{{\ReproClaimsSupported}}{{{counts['supported']}}}",
        rf"\newcommand{{\ReproClaimsContradicted}}{{{counts['contradicted']}}}",
        rf"\newcommand{{\ReproClaimsInconclusive}}{{{counts['inconclusive']}}}",
        "",
        "% per-run numbers: \\Result{<figure>/<label>/<quantity>}",
    ]
    for fig, fe in figures.items():
        for r in fe.runs:
            for k, v in run_numbers(r, policy).items():
                lines.append(_def(macro_key(fig, r.label, k), tex_num(v) if not isinstance(v, str) else latex_escape(v)))
    lines.append("% claims: \\Result{claim/<id>/status}")
    for c in claims_results:
        lines.append(_def(macro_key("claim", c["id"], "status"), c["status"]))
    return "\n".join(lines) + "\n"


def _fmt_pm(mean, sd) -> str:
    if mean is None:
        return "n/a"
    return f"{tex_num(mean)} $\\pm$ {tex_num(sd, 2)}" if sd is not None and math.isfinite(sd) else tex_num(mean)


def _data_cell(r: C.RunResult) -> str:
    s = r.summary or {}
    ds = latex_escape(s.get("dataset", "?"))
    if s.get("dataset_is_standin"):
        return rf"{ds} (stand-in for {latex_escape(s.get('stands_in_for') or r.paper_dataset or '?')})"
    return ds


def measured_table(fe: C.FigureEvidence, policy: C.Policy) -> str:
    """"What we measured" for one figure, by its kind in ``config/study.yaml``."""
    kind = fe.meta.get("kind", "losses")
    rows = []
    if kind == "quality":
        head = r"Run & Data & Iter. & FID & KID & IS & Features \\"
        spec = "lllrrrl"
        for r in fe.runs:
            q, n = r.quality or {}, run_numbers(r, policy)
            rows.append(f"{latex_text(r.label)} & {_data_cell(r)} & {tex_num(n.get('iterations'))} & "
                        f"{tex_num(q.get('fid'))} & {_fmt_pm(q.get('kid_mean'), q.get('kid_std'))} & "
                        f"{_fmt_pm(q.get('is_mean'), q.get('is_std')) if q.get('is_mean') is not None else 'n/a'} & "
                        f"{latex_escape(q.get('extractor', 'n/a'))} \\\\")
        note = "FID and KID on the features named; KID as mean $\\pm$ standard deviation over subsets."
    elif kind == "ssim":
        head = r"Run & Data & Iter. & Tracks & Final SSIM \\"
        spec = "lllrr"
        for r in fe.runs:
            n = run_numbers(r, policy)
            rows.append(f"{latex_text(r.label)} & {_data_cell(r)} & {tex_num(n.get('iterations'))} & "
                        f"{tex_num(n.get('tracks'))} & {_fmt_pm(n.get('final_ssim'), n.get('final_ssim_sd'))} \\\\")
        note = (f"Final SSIM: mean over tracks per tracking step, then mean $\\pm$ sd over the last "
                f"\\ReproTail{{}} of the steps.")
    elif kind == "rate":
        head = r"Run & Data & Iter. & $\kappa$ & 95\% interval & $R^2$ \\"
        spec = "lllrrr"
        for r in fe.runs:
            n = run_numbers(r, policy)
            ci = (f"[{tex_num(n.get('ci_low'))}, {tex_num(n.get('ci_high'))}]"
                  if n.get("ci_low") is not None else "n/a")
            rows.append(f"{latex_text(r.label)} & {_data_cell(r)} & {tex_num(n.get('iterations'))} & "
                        f"{tex_num(n.get('kappa'))} & {ci} & {tex_num(n.get('r2'), 3)} \\\\")
        note = r"$\kappa$: least-squares slope of $\log(1/\mathrm{SSIM})$ on $\log(\eta_\theta+\eta_\phi)$."
    else:
        head = r"Run & Data & Iter. & G loss & D loss & Wall (h) & Device \\"
        spec = "lllrrrl"
        for r in fe.runs:
            n = run_numbers(r, policy)
            rows.append(f"{latex_text(r.label)} & {_data_cell(r)} & {tex_num(n.get('iterations'))} & "
                        f"{_fmt_pm(n.get('g_loss'), n.get('g_loss_sd'))} & {_fmt_pm(n.get('d_loss'), n.get('d_loss_sd'))} & "
                        f"{tex_num(n.get('wall_hours'), 3)} & {latex_escape((r.summary or {}).get('device', 'n/a'))} \\\\")
        note = "Losses: mean $\\pm$ sd over the last \\ReproTail{} of \\texttt{log.csv}."
    missing = [r for r in fe.runs if not r.summary]
    if missing:
        note += " Missing runs: " + ", ".join(latex_escape(r.run_id) for r in missing) + "."
    return "\n".join([
        r"\begin{center}\small",
        rf"\resizebox{{\ifdim\width>\linewidth\linewidth\else\width\fi}}{{!}}{{\begin{{tabular}}{{{spec}}}",
        r"\toprule", head, r"\midrule", *rows, r"\bottomrule",
        r"\end{tabular}}",
        r"\end{center}",
        rf"{{\footnotesize {note}}}",
        "",
    ])


def _study_title(fe: C.FigureEvidence) -> str:
    return latex_text(fe.meta.get("title", fe.figure))


def render_figures(figures: Mapping[str, C.FigureEvidence], captions: Mapping[str, str],
                   claims_results: Sequence[Mapping], policy: C.Policy) -> str:
    out = ["% generated by sinkgan.report -- do not edit"]
    for fig, fe in figures.items():
        num = int(fig[3:])
        out += [
            rf"\subsection{{Figure {num}: {_study_title(fe)}}}\label{{sec:{fig}}}",
            rf"\setcounter{{figure}}{{{num - 1}}}% numbered as in the paper",
            r"\begin{figure}[H]\centering",
            rf"\includegraphics[width=\linewidth,height=0.42\textheight,keepaspectratio]{{{fig}.pdf}}",
            rf"\caption{{\textbf{{Paper:}} {latex_text(captions.get(fig, '(caption missing)'))} "
            rf"\textbf{{Here:}} {_study_title(fe)}, scale \texttt{{\ReproScale}} (file \texttt{{figures/{fig}.pdf}}).}}",
            rf"\label{{fig:{fig}}}",
            r"\end{figure}",
            r"\paragraph{What we measured.}",
            measured_table(fe, policy),
        ]
        related = [c for c in claims_results if c["figure"] == fig]
        if related:
            out.append(r"\paragraph{Claims.}")
            out.append(r"\begin{itemize}")
            for c in related:
                out.append(rf"\item \hyperlink{{claim-{c['id']}}}{{\texttt{{{_breakable(c['id'])}}}}}: "
                           rf"{latex_text(c['claim'])} --- \ClaimStatus{{{c['status']}}}")
            out.append(r"\end{itemize}")
        out.append("")
    return "\n".join(out)


def _breakable(ident: str) -> str:
    """An identifier in typewriter type that may break after its hyphens."""
    return latex_escape(ident).replace("-", r"-\allowbreak{}")


def render_scorecard(claims_results: Sequence[Mapping]) -> str:
    rows = []
    for c in claims_results:
        rows.append(
            rf"\hypertarget{{claim-{c['id']}}}{{\texttt{{{_breakable(c['id'])}}}}} & {latex_text(c['claim'])} & "
            rf"\hyperref[fig:{c['figure']}]{{{latex_text(c['where'])}}} & \ClaimStatus{{{c['status']}}} & "
            rf"{{\footnotesize {latex_text(c['evidence'])}}} \\"
        )
    return "\n".join([
        "% generated by sinkgan.report -- do not edit",
        r"\begin{small}",
        r"\begin{longtable}{>{\raggedright}p{0.13\linewidth}>{\raggedright}p{0.25\linewidth}"
        r">{\raggedright}p{0.1\linewidth}>{\raggedright}p{0.1\linewidth}>{\raggedright\arraybackslash}p{0.32\linewidth}}",
        r"\toprule",
        r"\textbf{Claim} & \textbf{Paper says} & \textbf{Where} & \textbf{Verdict} & \textbf{Evidence} \\",
        r"\midrule", r"\endhead",
        *rows,
        r"\bottomrule",
        r"\end{longtable}",
        r"\end{small}",
        "",
    ])


def _values(runs: Sequence[C.RunResult], key: str) -> str:
    vals = []
    for r in runs:
        if r.config and key in r.config:
            v = r.config[key]
            v = json.dumps(v) if isinstance(v, (list, dict)) else str(v)
            if v not in vals:
                vals.append(v)
    return ", ".join(vals) if vals else "n/a"


SETUP_KEYS = ("variant", "p", "eps", "n_iter", "lr_g", "lr_d", "batch_size", "n_critic", "optimizer",
              "adam_betas", "cost", "grad", "value", "z_dim", "ngf", "ndf", "critic_dim", "k_sn", "clip",
              "iterations", "max_images", "device")


def _trainconfig_defaults() -> dict:
    try:
        from sinkgan.config import TrainConfig

        return TrainConfig().to_dict()
    except Exception:  # the report works from results alone
        return {}


def render_setup(raw: Mapping, scale: str, figures: Mapping[str, C.FigureEvidence], summary: Mapping) -> str:
    runs = [r for r in _unique_runs(figures) if r.summary]
    paper = {**_trainconfig_defaults(), **(raw.get("defaults") or {})}
    scale_train = ((raw.get("scales") or {}).get(scale) or {}).get("train") or {}
    hp_rows = []
    for k in SETUP_KEYS:
        pv = paper.get(k)
        pv = json.dumps(pv) if isinstance(pv, (list, dict)) else ("n/a" if pv is None else str(pv))
        mark = r" $\ast$" if k in scale_train else ""
        hp_rows.append(rf"\texttt{{{latex_escape(k)}}} & {latex_escape(pv)} & {latex_escape(_values(runs, k))}{mark} \\")
    data_rows = []
    for key, d in sorted(summary["data"].items(), key=lambda kv: str(kv[0])):
        data_rows.append(rf"{latex_escape(key)} & {latex_escape(', '.join(d['trained_on']))} & "
                         rf"{'yes' if d['standin'] else 'no'} & {d['runs']} \\")
    dev_rows = []
    by_dev: dict[str, list[float]] = {}
    for r in runs:
        by_dev.setdefault(str(r.summary.get("device")), []).append(float(r.summary.get("wall_seconds") or 0))
    for dev, secs in sorted(by_dev.items()):
        kind = "GPU" if is_gpu_device(dev) else "CPU"
        dev_rows.append(rf"{latex_escape(dev)} & {kind} & {len(secs)} & {tex_num(sum(secs) / 3600, 3)} \\")
    return "\n".join([
        "% generated by sinkgan.report -- do not edit",
        r"\paragraph{Data.}",
        r"\begin{center}\small\begin{tabular}{llrr}",
        r"\toprule Paper data set & Trained on & Stand-in & Runs \\ \midrule",
        *data_rows,
        r"\bottomrule\end{tabular}\end{center}",
        r"\paragraph{Hyperparameters.} ``Paper'' is eq.~(27) as encoded in \texttt{config/study.yaml} "
        r"(\texttt{defaults}, else the \texttt{TrainConfig} default); ``this scale'' lists every value the runs "
        r"used (from their \texttt{config.yaml}); $\ast$ marks settings the scale overrides.",
        r"\begin{center}\small\begin{tabular}{lll}",
        r"\toprule Setting & Paper & This scale \\ \midrule",
        *hp_rows,
        r"\bottomrule\end{tabular}\end{center}",
        r"\paragraph{Hardware and compute.} Training wall-clock time from each run's \texttt{summary.json} "
        r"(\texttt{wall\_seconds}), by the device it ran on; evaluation (FID/KID, tracking) is not included.",
        r"\begin{center}\small\begin{tabular}{llrr}",
        r"\toprule Device & Kind & Runs & Hours \\ \midrule",
        *(dev_rows or [r"\multicolumn{4}{l}{no finished runs} \\"]),
        r"\midrule",
        r"\multicolumn{3}{l}{Total GPU-hours / CPU-hours} & \ReproGPUHours{} / \ReproCPUHours \\",
        r"\bottomrule\end{tabular}\end{center}",
        "",
    ])


def render_tables(captions: Mapping[str, str], raw: Mapping) -> str:
    out = ["% generated by sinkgan.report -- do not edit"]
    for t in TABLES:
        num = int(t[5:])
        title = ((raw.get("tables") or {}).get(t) or {}).get("title", t)
        out += [
            rf"\setcounter{{table}}{{{num - 1}}}% numbered as in the paper",
            r"\begin{table}[H]\centering\small",
            rf"\caption{{\textbf{{Paper:}} {latex_text(captions.get(t, ''))} \textbf{{Here:}} "
            rf"{latex_text(title)}, generated from the model code at the paper's widths (file \texttt{{figures/{t}.tex}}).}}",
            rf"\label{{tab:{t}}}",
            rf"\resizebox{{\ifdim\width>\linewidth\linewidth\else\width\fi}}{{!}}{{\input{{../figures/{t}.tex}}}}",
            r"\end{table}",
            "",
        ]
    return "\n".join(out)


def render_sing(captions: Mapping[str, str], requested: Sequence[str]) -> str:
    """The SiNG section: a requested figure is included (missing file = build error); one the
    study does not request is shown only if its PDF exists, marked as not rebuilt."""
    out = ["% generated by sinkgan.report -- do not edit"]
    for f in SING_FIGURES:
        cap = latex_text(captions.get(f, ""))
        head = rf"\subsection{{SiNG experiment {f[4]}.{f[5]}}}\label{{sec:{f}}}"
        graphic = rf"\includegraphics[width=\linewidth,height=0.4\textheight,keepaspectratio]{{{f}.pdf}}"
        if f in requested:
            out += [head, r"\begin{figure}[H]\centering", graphic,
                    rf"\caption{{\textbf{{SiNG paper:}} {cap} \textbf{{Here:}} \texttt{{figures/{f}.pdf}}, "
                    r"rebuilt by the DAG at scale \texttt{\ReproScale}.}",
                    r"\end{figure}", ""]
        else:
            out += [head, rf"\IfFileExists{{../figures/{f}.pdf}}{{%",
                    r"\begin{figure}[H]\centering", graphic,
                    rf"\caption{{\textbf{{SiNG paper:}} {cap} \textbf{{Here:}} \texttt{{figures/{f}.pdf}}, "
                    r"\emph{not} requested by \texttt{config/study.yaml} at this scale and so not rebuilt; "
                    r"its own stamp gives the scale and commit it was made at.}",
                    r"\end{figure}}{%",
                    rf"\emph{{Not built: \texttt{{config/study.yaml}} requests no \texttt{{{f}}} figure at scale "
                    rf"\texttt{{\ReproScale}}.}}}}", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- writing


def scorecard(scale: str, root: Path = REPO, *, figures: Mapping[str, C.FigureEvidence] | None = None,
              out_json: Path | None = None, out_dir: Path | None = None, sing: Sequence[str] | None = None,
              claims_path: Path | None = None, deviations_path: Path | None = None,
              captions_path: Path | None = None, commit: str | None = None) -> list[dict]:
    """Evaluate ``config/claims.yaml`` on ``results/<scale>/``, write ``claims.json`` and the
    ``paper/generated/*.tex`` files; returns the claim results."""
    root = Path(root)
    raw = study_raw(root)
    if scale not in (raw.get("scales") or {}):
        raise ValueError(f"scale {scale!r} is not one of {sorted(raw.get('scales') or {})} (config/study.yaml)")
    figures = figures if figures is not None else figure_evidence(scale, root)
    spec = C.load_claims(claims_path or root / "config" / "claims.yaml")
    results = C.evaluate_claims(spec, figures)
    summary = compute_summary(figures)
    commit = commit or git_commit()
    sing = list(sing) if sing is not None else requested_sing_figures(raw, scale, sing_spec(root))
    captions = yaml.safe_load(Path(captions_path or root / "paper" / "captions.yaml").read_text()) or {}
    devs = load_deviations(deviations_path or root / "config" / "deviations.yaml")
    scale_info = raw["scales"][scale]

    out_json = Path(out_json or root / "results" / scale / "claims.json")
    doc = {
        "scale": scale, "commit": commit, "policy": spec.policy.__dict__,
        "counts": {s: sum(1 for c in results if c["status"] == s) for s in C.STATUSES},
        "compute": {k: summary[k] for k in ("runs", "finished", "gpu_hours", "cpu_hours", "devices")},
        "claims": results,
    }
    atomic_write_text(out_json, json.dumps(doc, indent=2, sort_keys=False, allow_nan=False) + "\n")

    out_dir = Path(out_dir or root / "paper" / "generated")
    texts = {
        "macros": render_macros(scale, scale_info, summary, results, figures, spec.policy, commit),
        "setup": render_setup(raw, scale, figures, summary),
        "tables": render_tables(captions, raw),
        "figures": render_figures(figures, captions, results, spec.policy),
        "scorecard": render_scorecard(results),
        "deviations": "% generated by sinkgan.report -- do not edit\n" + deviations_latex(devs),
        "sing": render_sing(captions, sing),
    }
    for name in GENERATED:
        atomic_write_text(out_dir / f"{name}.tex", texts[name])
    return results


# --------------------------------------------------------------------------- building


_LOG_PATTERNS = [
    (re.compile(r"^! (.*)$", re.M), "LaTeX error: {0}"),
    (re.compile(r"^(?:\./)?[^:\n]+\.tex:\d+: (.*)$", re.M), "LaTeX error: {0}"),
    (re.compile(r"LaTeX Warning: Reference `([^']*)' on page \S+ undefined"), "undefined reference: {0}"),
    (re.compile(r"LaTeX Warning: Citation `([^']*)' on page \S+ undefined"), "undefined citation: {0}"),
    (re.compile(r"LaTeX Warning: There were undefined references"), "undefined references"),
    (re.compile(r"LaTeX Warning: Hyper reference `([^']*)' on page \S+ undefined"), "undefined hyper reference: {0}"),
    (re.compile(r"pdfTeX warning \(dest\): name\{([^}]*)\} has been referenced but does not exist"),
     "undefined link target: {0}"),
    (re.compile(r"File `([^']*)' not found"), "missing file: {0}"),
    (re.compile(r"Package repro Warning: (.*)$", re.M), "report: {0}"),
    (re.compile(r"No file ([^\s]+\.tex)\."), "missing input: {0}"),
]


def check_latex_log(text: str) -> list[str]:
    """Problems in a pdflatex log: errors, undefined references/citations/link targets, missing
    files or figures, and the report's own warnings (an undefined ``\\Result`` key, a missing
    figure).  An empty list means a clean build."""
    # pdflatex wraps log lines at 79 characters; rejoin them before matching
    text = re.sub(r"(?m)^(.{79})\n", r"\1", text)
    problems = []
    for pat, msg in _LOG_PATTERNS:
        for m in pat.finditer(text):
            p = msg.format(*(g.strip() for g in m.groups()))
            if p not in problems:
                problems.append(p)
    fatal = [p for p in problems if p.startswith(("LaTeX error", "missing"))]
    # a run that stopped at an error leaves every later label unresolved: report the error only
    return fatal if fatal else problems


def build_paper(paper_dir: Path = REPO / "paper", out_pdf: Path | None = None, *, quiet: bool = True) -> Path:
    """Run latexmk in ``paper_dir`` (output in ``paper_dir/build``), check the log, and copy the
    PDF to ``out_pdf`` (default ``paper_dir/main.pdf``).  Raises ``RuntimeError`` listing problems."""
    paper_dir = Path(paper_dir)
    out_pdf = Path(out_pdf or paper_dir / "main.pdf")
    if shutil.which("latexmk") is None:
        raise RuntimeError("latexmk not found: install the Debian packages latexmk texlive-latex-recommended "
                           "(see README, 'Prerequisites')")
    env = dict(os.environ, SOURCE_DATE_EPOCH=os.environ.get("SOURCE_DATE_EPOCH", "0"), FORCE_SOURCE_DATE="1")
    build = paper_dir / "build"
    proc = subprocess.run(["latexmk", "main.tex"], cwd=paper_dir, env=env,
                          capture_output=True, text=True)
    log = build / "main.log"
    problems = check_latex_log(log.read_text(errors="replace")) if log.is_file() else ["no log written"]
    if proc.returncode != 0 and not problems:
        problems.append(f"latexmk exited with {proc.returncode}")
    if problems:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(f"paper build failed ({log}):\n  " + "\n  ".join(problems) + f"\n--- latexmk output ---\n{tail}")
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_pdf, (build / "main.pdf").read_bytes())
    if not quiet:
        print(f"wrote {out_pdf}")
    return out_pdf


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sinkgan.report", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sc = sub.add_parser("scorecard", help="claims.json and paper/generated/*.tex from results/<scale>/")
    sc.add_argument("--scale", default="smoke")
    sc.add_argument("--root", type=Path, default=REPO)
    sc.add_argument("--data", choices=("real", "standin"), default=None,
                    help="override the scale's data choice (as snakemake --config data=...)")
    sc.add_argument("--data-root", default="data")
    sc.add_argument("--sing", default=None,
                    help="comma-separated SiNG figures the DAG built (default: those config/study.yaml requests)")
    b = sub.add_parser("build", help="latexmk paper/main.tex -> paper/main.pdf, failing on any log problem")
    b.add_argument("--paper-dir", type=Path, default=REPO / "paper")
    b.add_argument("--out", type=Path, default=None)
    cl = sub.add_parser("check-log", help="list the problems in a pdflatex log (exit 1 if any)")
    cl.add_argument("log", type=Path)
    dm = sub.add_parser("deviations-md", help="print config/deviations.yaml as a Markdown table")
    dm.add_argument("--path", type=Path, default=None)
    a = ap.parse_args(argv)

    if a.cmd == "scorecard":
        sing = None if a.sing is None else [s for s in a.sing.split(",") if s]
        study = _load_study(a.scale, a.root, data=a.data, data_root=a.data_root)
        res = scorecard(a.scale, a.root, figures=figure_evidence(a.scale, a.root, study=study), sing=sing)
        counts = {s: sum(1 for c in res if c["status"] == s) for s in C.STATUSES}
        print(f"{len(res)} claims at scale {a.scale}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    elif a.cmd == "build":
        try:
            build_paper(a.paper_dir, a.out, quiet=False)
        except RuntimeError as err:
            print(err, file=sys.stderr)
            return 1
    elif a.cmd == "check-log":
        problems = check_latex_log(a.log.read_text(errors="replace"))
        for p in problems:
            print(p)
        return 1 if problems else 0
    elif a.cmd == "deviations-md":
        sys.stdout.write(deviations_markdown(load_deviations(a.path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
