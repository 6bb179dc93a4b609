"""The reproduction report (``make paper``): generated LaTeX, the claims scorecard, the deviations.

Nothing in ``paper/`` types a result: this module reads ``results/<scale>/`` and writes

``paper/generated/<scale>/macros.tex``
    ``\\ReproScale``, ``\\ReproCommit``, compute totals, claim counts, and every per-run number as
    ``\\ReproDef{<figure>/<label>/<quantity>}{value}`` (read in the text with ``\\Result{...}``,
    which warns -- and the build fails -- on a key that was not generated);
``summary.tex`` (the one-page summary table), ``setup.tex``, ``tables.tex``, ``figures.tex``, ``scorecard.tex``, ``deviations.tex``, ``sing.tex``
    the sections' generated bodies;

and ``results/<scale>/claims.json`` (the scorecard, see :mod:`sinkgan.claims`).

Command line (what ``code/rules/paper.smk`` runs)::

    python -m sinkgan.report scorecard --scale smoke      # claims.json + paper/generated/smoke/*.tex
    python -m sinkgan.report build --scale smoke          # latexmk -jobname=smoke -> paper/smoke/main.pdf, log checked
    python -m sinkgan.report check-log paper/build/smoke.log
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
from typing import Any, Mapping, Sequence

import yaml

from . import claims as C
from . import rundir
from .atomic import atomic_write_bytes, atomic_write_text
from .config import paper_subset
from .provenance import git_commit, repo_root

REPO = repo_root()  # $SINKGAN_ROOT, else the working tree Snakemake runs in, else this checkout
#: The key of ``paper/observations.yaml`` (under a scale) whose text the first page prints.
RESULTS_SHOW = "results_show"
#: Files written under ``paper/generated/<scale>/`` by :func:`write_generated`.
GENERATED = ("macros", "summary", "setup", "tables", "figures", "scorecard", "deviations", "sing")
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
        sw = rf"\texttt{{{_breakable(d.switch)}}}" if d.switch else r"\emph{none}"
        rows.append(
            # the default in roman type: typewriter type is never hyphenated, and some defaults are prose
            f"{sw} & {_breakable_prose(d.default)} & {_breakable_prose(d.paper_text)} & "
            f"{_breakable_prose(d.authors_code)} & {_breakable_prose(d.why)} \\\\"
        )
    head = (r"\textbf{Switch} & \textbf{Default} & \textbf{Paper text} & \textbf{Authors' code} & "
            r"\textbf{Why} \\")
    return "\n".join([
        r"\begin{small}",
        r"\begin{longtable}{>{\raggedright}p{0.11\linewidth}>{\raggedright}p{0.11\linewidth}"
        # the widths and 10 \tabcolsep add up to at most \linewidth
        r">{\raggedright}p{0.21\linewidth}>{\raggedright}p{0.21\linewidth}>{\raggedright\arraybackslash}p{0.21\linewidth}}",
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
    "|": r"\textbar{}", "/": r"/\allowbreak{}",
    "≈": r"$\approx$", "≤": r"$\le$", "≥": r"$\ge$", "×": r"$\times$", "…": r"\dots{}",
}


def latex_escape(text: Any) -> str:
    """Plain text -> LaTeX source that typesets the same characters (non-ASCII not listed: '?';
    ASCII hyphens stay hyphens, never a TeX dash); a line may break after '/' (paths)."""
    out = []
    text = str(text)
    for i, ch in enumerate(text):
        if ch == "-" and text[i + 1:i + 2] == "-":
            out.append("-{}")  # '--max_sd' is two hyphens: TeX would join them into a dash
        elif ch in _TEX_SPECIAL:
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


def paper_figures(raw: Mapping, scale: str | None = None) -> list[str]:
    """The paper's figures in ``config/study.yaml`` (``figNN``), in order; with ``scale``, those the
    scale builds (a scale's ``figures:`` list restricts them)."""
    wanted = ((raw.get("scales") or {}).get(scale) or {}).get("figures") if scale else None
    return sorted((k for k in (raw.get("figures") or {}) if re.fullmatch(r"fig\d+", k) and (wanted is None or k in wanted)),
                  key=lambda k: int(k[3:]))


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
    study = study or _load_study(scale, root)
    raw = study.spec
    out = {}
    for fig in paper_figures(raw, scale):
        runs = []
        for spec in study.figure_runs(fig):
            run_dir = Path(spec.run_dir)
            run_dir = run_dir if run_dir.is_absolute() else root / run_dir
            ds = (getattr(spec, "overrides", None) or {}).get("dataset")
            runs.append(C.load_run_result(run_dir, spec.label, getattr(spec, "run_id", run_dir.name), ds))
        out[fig] = C.FigureEvidence(fig, runs, dict(raw["figures"][fig]))
    return out


#: Files each figure kind needs from its runs, beyond ``summary.json`` (docs/CONTRACT.md); the
#: figure's notebook and the claims read the same files.
KIND_FILES = {"quality": (rundir.QUALITY,), "samples": (rundir.QUALITY,), "ssim": (rundir.SSIM,),
              "rate": (rundir.SSIM, rundir.RATE)}


def paper_inputs(scale: str, root: Path = REPO, study=None, sing: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Input files of the Snakemake rules (paths relative to ``root``):
    ``results`` (what the scorecard reads: every figure run's ``summary.json`` plus the files its
    figure kind needs), ``figures`` (the PDFs the paper includes: fig04-fig22 and the requested
    SiNG figures) and ``tables``."""
    root = Path(root).resolve()
    study = study or _load_study(scale, root)
    raw = study.spec
    results: list[str] = []
    for fig in paper_figures(raw, scale):
        kind = raw["figures"][fig].get("kind")
        for spec in study.figure_runs(fig):
            run_dir = Path(spec.run_dir)
            rel = run_dir.resolve().relative_to(root) if run_dir.is_absolute() else run_dir
            for name in ("summary.json",) + KIND_FILES.get(kind, ()):
                p = str(rel / name)
                if p not in results:
                    results.append(p)
    sing = list(sing) if sing is not None else requested_sing_figures(raw, scale, sing_spec(root))
    figs = [f"figures/{scale}/{f}.pdf" for f in paper_figures(raw, scale) + sing]
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


def own_seconds(doc: Mapping | None) -> float:
    """The wall time a result file records for its own making (``wall_seconds``): none for a twin's
    copy (``copied_from``, sinkgan.twins), whose time its original's file counts."""
    if not doc or doc.get("copied_from"):
        return 0.0
    return float(doc.get("wall_seconds") or 0)


def compute_summary(figures: Mapping[str, C.FigureEvidence]) -> dict:
    """Totals over the unique runs: count, GPU-/CPU-hours (sum of ``wall_seconds`` / 3600 by the
    run's ``device``), iteration range, devices, torch versions, commits, data sets."""
    runs = _unique_runs(figures)
    done = [r for r in runs if r.summary]
    gpu = sum(own_seconds(r.summary) for r in done if is_gpu_device(r.summary.get("device"))) / 3600
    cpu = sum(own_seconds(r.summary) for r in done if not is_gpu_device(r.summary.get("device"))) / 3600
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
        "commits": sorted({c for r in done for c in run_commits(r)}),
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
                  figures: Mapping[str, C.FigureEvidence], policy: C.Policy, commit: str,
                  not_drawn: Sequence[str] = (), results_show: Mapping | None = None) -> str:
    """The report's numbers and sentences as LaTeX macros.  ``not_drawn``: the figures of this
    scale the report shows no PDF for (\\ReproNotDrawn, empty when every figure is drawn);
    ``results_show``: the ``results_show`` entry of this scale in ``paper/observations.yaml``, a
    person's reading of what the scale's results show, for the first page (\\ReproResultsShow)."""
    counts = {s: sum(1 for c in claims_results if c["status"] == s) for s in C.STATUSES}
    lines = [
        "% generated by sinkgan.report -- do not edit",
        rf"\newcommand{{\ReproScale}}{{{latex_escape(scale)}}}",
        # \IfBuilt{figNN}{...}{...} (paper/main.tex): text about a figure only where this scale builds it
        *(rf"\expandafter\def\csname built@{fig}\endcsname{{}}" for fig in figures if fig not in not_drawn),
        rf"\newcommand{{\ReproScaleAbout}}{{{latex_text(scale_info.get('about', ''))}}}",
        rf"\newcommand{{\ReproCommit}}{{{latex_escape(commit)}}}",
        rf"\newcommand{{\ReproRunCommits}}{{{latex_escape(', '.join(c[:12] for c in summary['commits']) or 'n/a')}}}",
        rf"\newcommand{{\ReproResultsCommits}}{{{latex_escape(', '.join(results_commits(figures)) or 'not recorded')}}}",
        # empty when the results were made at the report's commit, else the warning the header shows
        rf"\newcommand{{\ReproCommitMismatch}}{{{latex_escape(commit_mismatch(commit, results_commits(figures)))}}}",
        rf"\newcommand{{\ReproNumRuns}}{{{summary['runs']}}}",
        rf"\newcommand{{\ReproNumFinished}}{{{summary['finished']}}}",
        rf"\newcommand{{\ReproGPUHours}}{{{tex_num(summary['gpu_hours'], 3)}}}",
        rf"\newcommand{{\ReproCPUHours}}{{{tex_num(summary['cpu_hours'], 3)}}}",
        rf"\newcommand{{\ReproItersMin}}{{{tex_num(summary['iterations_min'])}}}",
        rf"\newcommand{{\ReproItersMax}}{{{tex_num(summary['iterations_max'])}}}",
        rf"\newcommand{{\ReproIters}}{{{_range(summary['iterations_min'], summary['iterations_max'])}}}",
        rf"\newcommand{{\ReproDevices}}{{{latex_escape(', '.join(summary['devices']) or 'n/a')}}}",
        rf"\newcommand{{\ReproTorch}}{{{latex_escape(', '.join(summary['torch']) or 'n/a')}}}",
        rf"\newcommand{{\ReproStandinNote}}{{{'Some or all runs were trained on offline stand-in data sets (named as such below); a verdict reached on them is qualified as on stand-in data.' if summary['any_standin'] else 'All runs were trained on the paper' + chr(39) + 's data sets.'}}}",
        rf"\newcommand{{\ReproTail}}{{{tex_num(100 * policy.tail, 3)}\%}}",
        rf"\newcommand{{\ReproZ}}{{{tex_num(policy.z, 3)}}}",
        rf"\newcommand{{\ReproMinIterations}}{{{tex_num(policy.min_iterations)}}}",
        rf"\newcommand{{\ReproClaimsTotal}}{{{len(claims_results)}}}",
        rf"\newcommand{{\ReproClaimsSupported}}{{{counts['supported']}}}",
        rf"\newcommand{{\ReproClaimsContradicted}}{{{counts['contradicted']}}}",
        rf"\newcommand{{\ReproClaimsInconclusive}}{{{counts['inconclusive']}}}",
        rf"\newcommand{{\ReproNotDrawn}}{{{latex_text(not_drawn_sentence(figures, not_drawn))}}}",
        rf"\newcommand{{\ReproResultsShow}}{{{results_show_text(results_show, figures)}}}",
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


def figure_list(figs: Sequence[str]) -> str:
    """Figures named compactly: paper figures as runs of numbers ('Figs. 4-12, 14'), then SiNG ones."""
    nums = sorted(int(f[3:]) for f in figs if f.startswith("fig"))
    runs: list[list[int]] = []
    for n in nums:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    parts = []
    if nums:
        parts.append(("Figs. " if len(nums) > 1 else "Fig. ")
                     + ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs))
    parts += [f"SiNG {f[4]}.{f[5]}" for f in figs if not f.startswith("fig")]
    return "; ".join(parts) or "none"


def not_drawn_sentence(figures: Mapping[str, C.FigureEvidence], not_drawn: Sequence[str]) -> str:
    """The first page's sentence on a partial report, naming the figures drawn and those not drawn;
    '' when every one is drawn."""
    if not not_drawn:
        return ""
    drawn = [f for f in figures if f not in not_drawn]
    return (f"The results of this scale are not all there yet, so this report draws {len(drawn)} of the "
            f"{len(figures)} paper figures ({figure_list(drawn)}). In place of the others ({figure_list(not_drawn)}) "
            f"it says which of their runs have finished; their claims are judged on what is there, and are "
            f"inconclusive where evidence is missing.")


def results_show_text(entry: Mapping | None, figures: Mapping[str, C.FigureEvidence]) -> str:
    """The first page's reading of the results (``paper/observations.yaml``, ``<scale>: results_show:``;
    :func:`person_reading` over every run of the report); '' without an entry."""
    return person_reading(entry, [r for fe in figures.values() for r in fe.runs], "") if entry else ""


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
    if kind in ("quality", "samples"):
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


def render_figures(figures: Mapping[str, C.FigureEvidence], captions: Mapping[str, str],
                   claims_results: Sequence[Mapping], policy: C.Policy, scale: str,
                   notes: Mapping[str, str] | None = None,
                   degenerate: Mapping[str, Sequence[str]] | None = None,
                   observations: Mapping[str, Mapping] | None = None, not_drawn: Sequence[str] = ()) -> str:
    """One subsection per paper figure: what the paper's figure shows (``notes``, from
    ``paper/figure_notes.yaml``), ``figures/<scale>/<fig>.pdf`` under the paper's caption (the
    figure draws its own title, so neither heading nor caption repeats it), what a person saw in it
    (``observations``: this scale's entries of ``paper/observations.yaml``, see
    :func:`observation_paragraph`), the runs, the degenerate results (``degenerate``:
    :func:`degenerate_results`) and the claims.  A figure in ``not_drawn`` (a partly trained scale,
    ``--config only_drawable=true``) keeps its section, runs table and claims, and says in place of
    the figure that it waits for runs that have not finished (:func:`waiting_paragraph`)."""
    out = ["% generated by sinkgan.report -- do not edit"]
    notes, degenerate, observations = notes or {}, degenerate or {}, observations or {}
    for fig, fe in figures.items():
        num = int(fig[3:])
        out += [
            rf"\subsection{{Figure {num}}}\label{{sec:{fig}}}",
            rf"\paragraph{{What the paper's figure shows.}} {latex_text(notes.get(fig, '(not described)'))}",
        ]
        if fig in not_drawn:
            out += [rf"\phantomsection\label{{fig:{fig}}}{waiting_paragraph(fe)}"]
        else:
            out += [
                rf"\setcounter{{figure}}{{{num - 1}}}% numbered as in the paper",
                r"\begin{figure}[H]\centering",
                rf"\includegraphics[width=0.9\linewidth,height=0.3\textheight,keepaspectratio]{{{scale}/{fig}.pdf}}",
                rf"\caption{{\textbf{{Paper:}} {latex_text(captions.get(fig, '(caption missing)'))} "
                rf"\textbf{{Here:}} scale \texttt{{\ReproScale}}, file \texttt{{figures/{scale}/{fig}.pdf}}.}}",
                rf"\label{{fig:{fig}}}",
                r"\end{figure}",
                *([observation_paragraph(observations[fig], fe)] if fig in observations else []),
            ]
        out += [r"\paragraph{What we measured.}", measured_table(fe, policy)]
        if degenerate.get(fig):
            out.append(r"\paragraph{Degenerate results.} ")
            out.append(r"\begin{itemize}\small")
            out += [rf"\item {latex_text(n)}" for n in degenerate[fig]]
            out.append(r"\end{itemize}")
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


def waiting_paragraph(fe: C.FigureEvidence | None) -> str:
    """In place of a figure not drawn yet: which of its runs have finished (``fe``; ``None`` for a
    SiNG experiment) and how to draw it once they all have."""
    if fe is None:
        done = "its experiment has not finished at this scale"
    else:
        done = (f"{sum(1 for r in fe.runs if r.summary)} of its {len(fe.runs)} runs have finished training at "
                f"this scale (the table below names them), and the figure needs all of them and their measurements")
    return (rf"\paragraph{{Not drawn yet.}} \emph{{This figure waits for results: {latex_text(done)}. "
            r"\texttt{make figures-cached SCALE=\ReproScale} draws it, and \texttt{make paper-cached "
            r"SCALE=\ReproScale} shows it here, once they are committed.}")


def observation_paragraph(obs: Mapping, fe: C.FigureEvidence) -> str:
    """``What we see.`` and a ``paper/observations.yaml`` entry about figure ``fe`` (:func:`person_reading`)."""
    return person_reading(obs, fe.runs, r"\paragraph{What we see.} ")


def person_reading(entry: Mapping, runs: Sequence[C.RunResult], lead: str) -> str:
    """A person's reading of results (an entry of ``paper/observations.yaml``: ``text``, and
    ``results``: the commits of the runs looked at, comma-separated) after ``lead``.  When ``runs``
    were made by other commits, it says the text was written for other results and may be stale."""
    seen = sorted(c.strip() for c in str(entry.get("results", "")).split(",") if c.strip())
    made_by = sorted({str(r.summary.get("commit")) for r in runs if r.summary})
    text = lead + latex_text(str(entry.get("text", "")).strip())
    commits = f"commit{'s' if len(seen) > 1 else ''} \\texttt{{{latex_escape(', '.join(seen) or '?')}}}"
    if made_by == seen:
        return text + rf" {{\footnotesize (Looked at the runs of {commits}.)}}"
    return text + (rf" \emph{{Written for the runs of {commits}; these were made by "
                   rf"\texttt{{{latex_escape(', '.join(made_by) or 'no finished run')}}}: the text may be stale.}}")


def _breakable(ident: str) -> str:
    """An identifier or path in typewriter type that may break after '-', '.', '_', '=', ',' and '/'
    (typewriter type has no hyphenation: without these a long path runs into the next column); a
    decimal point is no break ('0.01')."""
    out = latex_escape(ident)
    for ch, tex in (("-", "-"), ("=", "="), (",", ","), ("_", r"\_")):
        out = out.replace(tex, tex + r"\allowbreak{}")
    return re.sub(r"\.(?!\d)", r".\\allowbreak{}", out)


def _breakable_prose(text: str) -> str:
    """Prose for a narrow table column: :func:`latex_escape`, and a file or function name in it
    (``sinkhorn_util.potential_operator_grad``) may break after '_' and after a '.' that is no
    decimal point, as hyphenation cannot break it."""
    out = latex_escape(text).replace(r"\_", r"\_\allowbreak{}")
    return re.sub(r"\.(?=[A-Za-z_\\])", r".\\allowbreak{}", out)


def render_scorecard(claims_results: Sequence[Mapping], built: Sequence[str] = ()) -> str:
    """Every claim with its verdict; ``built``: the figures this report shows (their sections are
    link targets; a claim about a figure the scale does not build names it without a link)."""
    rows = []
    for c in claims_results:
        where = latex_text(c["where"])
        if c["figure"] in built or c["figure"] in SING_FIGURES:
            where = rf"\hyperref[fig:{c['figure']}]{{{where}}}"
        rows.append(
            rf"\hypertarget{{claim-{c['id']}}}{{\texttt{{{_breakable(c['id'])}}}}} & {latex_text(c['claim'])} & "
            rf"{where} & \ClaimStatus{{{c['status']}}} & "
            rf"{{\footnotesize {latex_text(c['evidence'])}}} \\"
        )
    return "\n".join([
        "% generated by sinkgan.report -- do not edit",
        r"\begin{small}",
        r"\begin{longtable}{>{\raggedright}p{0.13\linewidth}>{\raggedright}p{0.25\linewidth}"
        r">{\raggedright}p{0.1\linewidth}>{\raggedright}p{0.12\linewidth}>{\raggedright\arraybackslash}p{0.27\linewidth}}",
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


#: The paper's values of the settings in the hyperparameter table: the hyperparameters (27)
#: (p = 2, eps = 1.0, L = 10, alpha = 1e-4, m = 100, n_critic = 10, Adam) and the iteration counts
#: of Section IV.  Every other setting is :data:`NOT_STATED` -- never a code default.
PAPER_HYPERPARAMETERS = {
    "variant": "SeqSGDA (Algorithm 1)", "p": "2", "eps": "1.0", "n_iter": "10 (L)",
    "lr_g": "1e-4 (alpha)", "lr_d": "1e-4 (alpha)", "batch_size": "100 (m)", "n_critic": "10",
    "optimizer": "Adam", "iterations": "about 1,000,000 (600,000 for Fig. 17)",
}
NOT_STATED = "not stated"


def paper_value(key: str) -> str:
    """The paper's value of setting ``key`` (:data:`PAPER_HYPERPARAMETERS`), else ``"not stated"``."""
    return PAPER_HYPERPARAMETERS.get(key, NOT_STATED)


def render_setup(raw: Mapping, scale: str, figures: Mapping[str, C.FigureEvidence], summary: Mapping) -> str:
    runs = [r for r in _unique_runs(figures) if r.summary]
    scale_train = ((raw.get("scales") or {}).get(scale) or {}).get("train") or {}
    hp_rows = []
    for k in SETUP_KEYS:
        pv = paper_value(k)
        pv = rf"\emph{{{pv}}}" if pv == NOT_STATED else latex_text(pv)
        mark = r" $\ast$" if k in scale_train else ""
        hp_rows.append(rf"\texttt{{{latex_escape(k)}}} & {pv} & {latex_escape(_values(runs, k))}{mark} \\")
    data_rows = []
    for key, d in sorted(summary["data"].items(), key=lambda kv: str(kv[0])):
        data_rows.append(rf"{latex_escape(key)} & {latex_escape(', '.join(d['trained_on']))} & "
                         rf"{'yes' if d['standin'] else 'no'} & {d['runs']} \\")
    dev_rows = []
    by_dev: dict[str, list[float]] = {}
    for r in runs:
        if not r.summary.get("copied_from"):  # a twin's copy ran on no device (sinkgan.twins)
            by_dev.setdefault(str(r.summary.get("device")), []).append(own_seconds(r.summary))
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
        r"\paragraph{Hyperparameters.} ``Paper'' is the paper's value: the hyperparameters (27) and the "
        r"iteration counts of its Section~IV; \emph{not stated} where the paper gives none (the value used "
        r"is then a choice of this repository, see Section~\ref{sec:deviations}); ``this scale'' lists every value the runs "
        r"used (from their \texttt{config.yaml}); $\ast$ marks settings the scale overrides.",
        r"\begin{center}\small\begin{tabular}{lll}",
        r"\toprule Setting & Paper & This scale \\ \midrule",
        *hp_rows,
        r"\bottomrule\end{tabular}\end{center}",
        r"\paragraph{Hardware and compute.} Training wall-clock time from each run's \texttt{summary.json} "
        r"(\texttt{wall\_seconds}), by the device it ran on (evaluation: next table).",
        r"\begin{center}\small\begin{tabular}{llrr}",
        r"\toprule Device & Kind & Runs & Hours \\ \midrule",
        *(dev_rows or [r"\multicolumn{4}{l}{no finished runs} \\"]),
        r"\midrule",
        r"\multicolumn{3}{l}{Total GPU-hours / CPU-hours} & \ReproGPUHours{} / \ReproCPUHours \\",
        r"\bottomrule\end{tabular}\end{center}",
        render_compute(raw, scale, figures),
        render_environment(runs),
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


def render_sing(captions: Mapping[str, str], requested: Sequence[str], scale: str,
                not_drawn: Sequence[str] = (), observations: Mapping[str, Mapping] | None = None,
                evidence: Mapping[str, C.FigureEvidence] | None = None) -> str:
    """The SiNG section: a requested figure is included (missing file = build error) unless it is
    ``not_drawn`` (its experiment has not finished: said so in its place), with its ``What we see``
    (``observations``, checked against the commit of its experiment's ``evidence``); one the study
    does not request is shown only if its PDF exists, marked as not rebuilt."""
    observations, evidence = observations or {}, evidence or {}
    out = ["% generated by sinkgan.report -- do not edit"]
    for f in SING_FIGURES:
        cap = latex_text(captions.get(f, ""))
        # fig:<f> is the scorecard's link target whether or not the figure is built at this scale
        head = rf"\subsection{{SiNG experiment {f[4]}.{f[5]}}}\label{{sec:{f}}}\phantomsection\label{{fig:{f}}}"
        graphic = rf"\includegraphics[width=\linewidth,height=0.4\textheight,keepaspectratio]{{{scale}/{f}.pdf}}"
        if f in requested and f in not_drawn:
            out += [head, waiting_paragraph(None), ""]
        elif f in requested:
            out += [head, r"\begin{figure}[H]\centering", graphic,
                    rf"\caption{{\textbf{{SiNG paper:}} {cap} \textbf{{Here:}} \texttt{{figures/{scale}/{f}.pdf}}, "
                    r"rebuilt by the DAG at scale \texttt{\ReproScale}.}",
                    r"\end{figure}",
                    *([observation_paragraph(observations[f], evidence[f])] if f in observations and f in evidence
                      else []), ""]
        else:
            out += [head, rf"\IfFileExists{{../figures/{scale}/{f}.pdf}}{{%",
                    r"\begin{figure}[H]\centering", graphic,
                    rf"\caption{{\textbf{{SiNG paper:}} {cap} \textbf{{Here:}} \texttt{{figures/{scale}/{f}.pdf}}, "
                    r"\emph{not} requested by \texttt{config/study.yaml} at this scale and so not rebuilt; "
                    r"its own stamp gives the scale and commit it was made at.}",
                    r"\end{figure}}{%",
                    rf"\emph{{Not built: \texttt{{config/study.yaml}} requests no \texttt{{{f}}} figure at scale "
                    rf"\texttt{{\ReproScale}}.}}}}", ""]
    return "\n".join(out)



# --------------------------------------------------------------------------- summary, environment, provenance


def figure_verdict(statuses: Sequence[str]) -> str:
    """One verdict for a figure from its claims' verdicts: ``contradicted`` if any claim is,
    ``supported`` if every decidable claim is, ``not-decidable`` if none is decidable (or there
    is no claim), else ``inconclusive``."""
    decidable = [s for s in statuses if s != "not-decidable"]
    if not decidable:
        return "not-decidable"
    if "contradicted" in decidable:
        return "contradicted"
    return "supported" if all(s == "supported" for s in decidable) else "inconclusive"


def _what_we_ran(fe: C.FigureEvidence | None) -> str:
    if fe is None:
        return "SiNG experiments (Section~\\ref{sec:sing})"
    done = [r for r in fe.runs if r.summary]
    iters = sorted({int(r.summary["iterations"]) for r in done if r.summary.get("iterations") is not None})
    data = []
    for r in done:
        s = r.summary
        d = str(s.get("dataset"))
        if whole := paper_subset(d):
            d += f" (subset of {whole})"
        elif s.get("dataset_is_standin"):
            d += f" for {r.paper_dataset or s.get('stands_in_for') or '?'}"
        if d not in data:
            data.append(d)
    text = f"{len(done)}/{len(fe.runs)} runs, " + (
        f"{_range(iters[0], iters[-1])} it." if iters else "none finished")
    return latex_text(text) + ("; " + latex_escape(", ".join(data)) if data else "")


def _short_paths(text: str) -> str:
    """A result file's path in a message cut to its name (the run is named beside it)."""
    return re.sub(r"\S*/results/\S*?/([^/\s]+(?:/[^/\s]+)?)(?=\s|$)",
                  lambda m: m.group(1).split("/")[-1] if "/" in m.group(1) else m.group(1), text)


def _why(related: Sequence[Mapping], verdict: str) -> str:
    if not related:
        return "no claim of \\texttt{config/claims.yaml} refers to this figure (visual comparison only)"
    caveats = list(dict.fromkeys(c for r in related for c in r.get("caveats") or ()))
    if verdict == "inconclusive" and caveats:
        return latex_text(_short_paths("; ".join(caveats)))
    pick = next((r for r in related if r["status"] == verdict), related[0])
    ev = _short_paths(str(pick.get("evidence", "")))
    return latex_text(ev if len(ev) <= 160 else ev[:157].rsplit(" ", 1)[0] + " ...")


def summary_rows(figures: Mapping[str, C.FigureEvidence], claims_results: Sequence[Mapping],
                 sing: Sequence[str] = ()) -> list[dict]:
    """One row per figure of the report (paper figures of the scale, then SiNG figures that are
    built or have claims): ``figure``, ``claims`` (the claim results about it), ``verdict``
    (:func:`figure_verdict`)."""
    names = list(figures) + [f for f in SING_FIGURES
                             if f in sing or any(c["figure"] == f for c in claims_results)]
    rows = []
    for fig in names:
        related = [c for c in claims_results if c["figure"] == fig]
        rows.append({"figure": fig, "claims": related, "verdict": figure_verdict([c["status"] for c in related])})
    return rows


def render_summary_table(figures: Mapping[str, C.FigureEvidence], claims_results: Sequence[Mapping],
                         sing: Sequence[str] = ()) -> str:
    """The one-page summary: figure | paper's claim | what we ran | verdict | why."""
    body = []
    for row in summary_rows(figures, claims_results, sing):
        fig, related = row["figure"], row["claims"]
        name = f"Fig.~{int(fig[3:])}" if fig.startswith("fig") else f"SiNG {fig[4]}.{fig[5]}"
        claim = latex_text(related[0]["claim"]) if related else r"\emph{(no checkable claim)}"
        if len(related) > 1:
            claim += rf" \emph{{(+{len(related) - 1} more)}}"
        counts = ""
        if len({c["status"] for c in related}) > 1:
            n = {s: sum(1 for c in related if c["status"] == s) for s in C.STATUSES}
            counts = r"\newline{\scriptsize " + ", ".join(f"{v} {k}" for k, v in n.items() if v) + "}"
        body.append(rf"\hyperref[fig:{fig}]{{{name}}} & {claim} & {_what_we_ran(figures.get(fig))} & "
                    rf"\ClaimStatus{{{row['verdict']}}}{counts} & {_why(related, row['verdict'])} \\")
    return "\n".join([
        "% generated by sinkgan.report -- do not edit",
        r"\begin{scriptsize}",
        r"\setlength{\tabcolsep}{3pt}",
        r"\begin{longtable}{>{\raggedright}p{0.06\linewidth}>{\raggedright}p{0.34\linewidth}"
        r">{\raggedright}p{0.16\linewidth}>{\raggedright}p{0.1\linewidth}>{\raggedright\arraybackslash}p{0.27\linewidth}}",
        r"\toprule",
        r"\textbf{Figure} & \textbf{Paper's claim} & \textbf{What we ran} & \textbf{Verdict} & \textbf{Why} \\",
        r"\midrule", r"\endhead",
        *body,
        r"\bottomrule",
        r"\end{longtable}",
        r"\end{scriptsize}",
        "",
    ])


def run_commits(r: C.RunResult) -> list[str]:
    """Every code commit a finished run was trained at, one per sitting: ``summary.json``
    ``sittings`` (a run resumed under newer code has several), else ``config.yaml``
    ``provenance.commit`` (or the summary's ``commit``).  An unfinished run has none."""
    if r.summary is None:
        return []
    sittings = [c for c in rundir.sitting_commits(r.summary) if c != "?"]
    if sittings:
        return sittings
    prov = (r.config or {}).get("provenance") or {}
    commit = prov.get("commit") or r.summary.get("commit")
    return [str(commit)] if commit else []


def results_commits(figures: Mapping[str, C.FigureEvidence]) -> list[str]:
    """The commits whose code made the results the report shows (every sitting of every finished run)."""
    return sorted({c for r in _unique_runs(figures) for c in run_commits(r)})


def same_commit(a: str, b: str) -> bool:
    """Two (possibly abbreviated) commit ids name the same commit; a ``+dirty`` tree never does."""
    if "+dirty" in a or "+dirty" in b:
        return False
    n = min(len(a), len(b))
    return n >= 7 and a[:n] == b[:n]


def commit_mismatch(report_commit: str, commits: Sequence[str]) -> str:
    """'' when every result was made at the report's commit, else a sentence saying what differs."""
    other = [c for c in commits if not same_commit(report_commit, c)]
    if not other:
        return ""
    return (f"MISMATCH: the report's code is {report_commit}, its results and figures come from "
            f"{', '.join(other)}; the text describes the code at {report_commit}, the numbers the code at "
            f"{', '.join(other)}.")


_PACKAGES = ("torch", "numpy", "scipy", "pandas", "matplotlib", "PyYAML", "scikit-image", "statsmodels",
             "torch-fidelity", "snakemake")


def build_environment() -> dict[str, str]:
    """The machine that writes the report: Python, OS, CPU, package versions, date (UTC;
    ``SOURCE_DATE_EPOCH`` when set)."""
    import datetime
    import platform
    from importlib import metadata

    env = {"Python": platform.python_version(), "OS": platform.platform(),
           "CPU / GPU": f"{platform.machine()}, {os.cpu_count()} cores (the report needs no GPU)"}
    for pkg in _PACKAGES:
        try:
            env[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            env[pkg] = "not installed"
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch and epoch != "0"
            else datetime.datetime.now(datetime.timezone.utc))
    env["Date"] = when.strftime("%Y-%m-%d")
    return env


def runs_environment(runs: Sequence[C.RunResult]) -> dict[str, str]:
    """What the runs recorded (``config.yaml`` ``provenance:`` and ``summary.json``), each item as
    the distinct values over the runs; ``not recorded`` where no run has it."""
    keys = {"Python": ("python",), "OS": ("os", "host"), "CPU / GPU": ("device",), "torch": ("torch",),
            "numpy": ("numpy",), "Date": ("date", "finished", "started")}
    out = {}
    for item, names in keys.items():
        vals = []
        for r in runs:
            prov = {**(r.summary or {}), **((r.config or {}).get("provenance") or {})}
            v = next((prov[n] for n in names if prov.get(n)), None)
            if v is not None and str(v) not in vals:
                vals.append(str(v))
        out[item] = ", ".join(vals) if vals else "not recorded"
    return out


def render_environment(runs: Sequence[C.RunResult], build: Mapping[str, str] | None = None) -> str:
    build = build if build is not None else build_environment()
    ran = runs_environment(runs)
    rows = [rf"{latex_escape(k)} & {latex_escape(ran.get(k, 'not recorded'))} & {latex_escape(v)} \\"
            for k, v in build.items()]
    return "\n".join([
        r"\paragraph{Environment.} Where the runs were trained (their \texttt{config.yaml} \texttt{provenance:} "
        r"and \texttt{summary.json}) and where this report was written.",
        r"\begin{center}\small\begin{tabular}{>{\raggedright}p{0.16\linewidth}>{\raggedright}p{0.38\linewidth}"
        r">{\raggedright\arraybackslash}p{0.38\linewidth}}",
        r"\toprule Item & Training runs & Report build \\ \midrule",
        *rows,
        r"\bottomrule\end{tabular}\end{center}",
    ])


def evaluation_seconds(runs: Sequence[C.RunResult]) -> dict[str, float | None]:
    """Recorded evaluation wall time: ``quality`` (``quality.json`` ``wall_seconds``) and
    ``tracking`` (``tracking/rate.json`` ``wall_seconds``); None where a run that has the file did not
    record it (or no run has it)."""
    out: dict[str, float | None] = {}
    for name, attr in (("quality", "quality"), ("tracking", "rate")):
        docs = [d for r in runs if (d := getattr(r, attr)) and not d.get("copied_from")]  # a twin's copy: none
        secs = [d.get("wall_seconds") for d in docs]
        out[name] = float(sum(secs)) if docs and all(v is not None for v in secs) else None
    return out


def compute_estimate(raw: Mapping, scale: str, figures: Mapping[str, C.FigureEvidence]) -> list[dict]:
    """Training time the larger scales of ``config/study.yaml`` would need, estimated: for every run
    of a figure the larger scale builds, the run's measured seconds per generator iteration at
    this scale (``wall_seconds / iterations``) times that scale's iterations for the figure
    (``iterations_by_figure``, else ``train.iterations``); rows ``scale``, ``runs``, ``iterations``, ``hours``."""
    scales = raw.get("scales") or {}
    here = int(((scales.get(scale) or {}).get("train") or {}).get("iterations") or 0)
    rate = {}
    for fig, fe in figures.items():
        for r in fe.runs:
            s = r.summary or {}
            if s.get("wall_seconds") and s.get("iterations"):
                rate[str(r.run_dir)] = float(s["wall_seconds"]) / float(s["iterations"])
    out = []
    for name, info in scales.items():
        train = (info or {}).get("train") or {}
        its = int(train.get("iterations") or 0)
        if name == scale or its <= here:
            continue
        by_fig = info.get("iterations_by_figure") or {}
        need: dict[str, float] = {}
        for fig in paper_figures(raw, name):
            for r in (figures[fig].runs if fig in figures else ()):
                if str(r.run_dir) in rate:
                    n = int(by_fig.get(fig, its))
                    need[str(r.run_dir)] = max(need.get(str(r.run_dir), 0), n)
        hours = sum(rate[k] * n for k, n in need.items()) / 3600
        out.append({"scale": name, "runs": len(need), "iterations": its, "hours": hours})
    return out


def render_compute(raw: Mapping, scale: str, figures: Mapping[str, C.FigureEvidence]) -> str:
    runs = [r for r in _unique_runs(figures) if r.summary]
    ev = evaluation_seconds(runs)
    train_h = sum(own_seconds(r.summary) for r in runs) / 3600

    def hours(v):
        return r"\emph{not recorded}" if v is None else tex_num(v / 3600, 3)

    est = compute_estimate(raw, scale, figures)
    est_rows = [rf"\texttt{{{latex_escape(e['scale'])}}} & {e['runs']} & {tex_num(e['iterations'])} & "
                rf"{tex_num(e['hours'], 3)} \\" for e in est] or [r"\multicolumn{4}{l}{no larger scale} \\"]
    return "\n".join([
        r"\paragraph{Training and evaluation compute.} Wall-clock hours at this scale: training from "
        r"\texttt{summary.json}, FID/KID from \texttt{quality.json} and SSIM tracking from "
        r"\texttt{tracking/rate.json} (\texttt{wall\_seconds}; \emph{not recorded} where the file has none).",
        r"\begin{center}\small\begin{tabular}{lr}",
        r"\toprule Stage & Hours \\ \midrule",
        rf"Training ({len(runs)} runs) & {tex_num(train_h, 3)} \\",
        rf"Evaluation: FID/KID & {hours(ev['quality'])} \\",
        rf"Evaluation: SSIM tracking & {hours(ev['tracking'])} \\",
        r"\bottomrule\end{tabular}\end{center}",
        r"\paragraph{Estimated compute of the larger scales.} An \emph{estimate}, not a measurement: each "
        r"run's seconds per generator iteration measured here times the larger scale's iterations for "
        r"that figure, summed over the runs of the figures that scale builds. It assumes the same networks, "
        r"batch sizes, device and number of threads as this scale and time linear in iterations; it leaves "
        r"out evaluation and tracking. A scale with wider networks, larger batches or another device "
        r"(a GPU) takes correspondingly longer or shorter.",
        r"\begin{center}\small\begin{tabular}{lrrr}",
        r"\toprule Scale & Runs & Iterations & Estimated training hours \\ \midrule",
        *est_rows,
        r"\bottomrule\end{tabular}\end{center}",
    ])


def degenerate_results(figures: Mapping[str, C.FigureEvidence]) -> dict[str, list[str]]:
    """Per figure, :func:`sinkgan.plotting.degenerate_notes` on its runs' ``log.csv`` losses (and,
    for sample figures, their final sample grids)."""
    from . import plotting

    out = {}
    for fig, fe in figures.items():
        curves = {r.label: {name: r.log[col].to_numpy(dtype=float) for col, name in
                            (("g_loss", "G loss"), ("d_loss", "D loss")) if col in r.log.columns}
                  for r in fe.runs if r.log is not None and len(r.log)}
        images = {}
        if fe.meta.get("kind") == "samples":
            images = {r.label: r.run_dir / rundir.FINAL_SAMPLES for r in fe.runs
                      if (r.run_dir / rundir.FINAL_SAMPLES).is_file()}
        notes = plotting.degenerate_notes(curves, images)
        if notes:
            out[fig] = notes
    return out


# --------------------------------------------------------------------------- writing


JSON_SIGNIFICANT_DIGITS = 12


def stable_numbers(value, digits: int = JSON_SIGNIFICANT_DIGITS):
    """``value`` with every float rounded to ``digits`` significant digits (dicts and lists
    walked): a float64 statistic's last bits depend on the summation order that the CPU's
    vector width picks, and a committed claims.json must come out byte-identical on every
    machine that rebuilds it from the same results."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: stable_numbers(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stable_numbers(v, digits) for v in value]
    return value


def scorecard(scale: str, root: Path = REPO, *, study=None, figures: Mapping[str, C.FigureEvidence] | None = None,
              out_json: Path | None = None, out_dir: Path | None = None, sing: Sequence[str] | None = None,
              claims_path: Path | None = None, deviations_path: Path | None = None,
              captions_path: Path | None = None, commit: str | None = None,
              not_drawn: Sequence[str] = ()) -> list[dict]:
    """Evaluate ``config/claims.yaml`` on ``results/<scale>/``, write ``claims.json`` and the
    ``paper/generated/<scale>/*.tex`` files; returns the claim results.  ``study``: the resolved
    :class:`sinkgan.study.Study` to read (default: ``config/study.yaml`` resolved at ``scale``).
    ``not_drawn``: figures (paper or SiNG) whose results are not all there yet, so the report shows
    no PDF for them (``--config only_drawable=true``); their claims are judged on what is there
    (missing evidence leaves a claim inconclusive) and the summary says the report is partial."""
    root = Path(root)
    raw = study.spec if study is not None else study_raw(root)
    if scale not in (raw.get("scales") or {}):
        raise ValueError(f"scale {scale!r} is not one of {sorted(raw.get('scales') or {})} (config/study.yaml)")
    figures = figures if figures is not None else figure_evidence(scale, root, study=study)
    unknown = sorted(set(not_drawn) - set(figures) - set(SING_FIGURES))
    if unknown:
        raise ValueError(f"not_drawn: {', '.join(unknown)} is not a figure of scale {scale!r} "
                         f"(allowed: {', '.join(list(figures) + list(SING_FIGURES))})")
    spec = C.load_claims(claims_path or root / "config" / "claims.yaml")
    sing_evidence = C.sing_figure_evidence(root / "results" / scale, sing_spec(root))
    results = C.evaluate_claims(spec, {**figures, **sing_evidence},
                                not_built=[f for f in paper_figures(study_raw(root)) if f not in figures],
                                scale_caveat=raw["scales"][scale].get("claims_undecidable"))
    summary = compute_summary(figures)
    commit = commit or git_commit()
    sing = list(sing) if sing is not None else requested_sing_figures(raw, scale, sing_spec(root))
    captions_path = Path(captions_path or root / "paper" / "captions.yaml")
    captions = yaml.safe_load(captions_path.read_text()) or {}
    notes_path = captions_path.with_name("figure_notes.yaml")
    notes = (yaml.safe_load(notes_path.read_text()) or {}) if notes_path.is_file() else {}
    observations_path = captions_path.with_name("observations.yaml")
    observations = ((yaml.safe_load(observations_path.read_text()) or {}).get(scale) or {}) if observations_path.is_file() else {}
    devs = load_deviations(deviations_path or root / "config" / "deviations.yaml")
    scale_info = raw["scales"][scale]

    out_json = Path(out_json or root / "results" / scale / "claims.json")
    doc = {
        # the commits that made the results, not the one that evaluates them: claims.json depends only
        # on the results, config/ and the claim rules, so rebuilding it from committed results gives the
        # committed bytes (make paper on a fresh clone leaves the tree clean)
        "scale": scale, "results_commits": summary["commits"], "policy": spec.policy.__dict__,
        "counts": {s: sum(1 for c in results if c["status"] == s) for s in C.STATUSES},
        "compute": {k: summary[k] for k in ("runs", "finished", "gpu_hours", "cpu_hours", "devices")},
        "claims": results,
    }
    atomic_write_text(out_json, json.dumps(stable_numbers(doc), indent=2, sort_keys=False, allow_nan=False) + "\n")

    out_dir = Path(out_dir or root / "paper" / "generated" / scale)
    texts = {
        "macros": render_macros(scale, scale_info, summary, results, figures, spec.policy, commit,
                                not_drawn=[f for f in list(figures) + sing if f in not_drawn],
                                results_show=observations.get(RESULTS_SHOW)),
        "summary": render_summary_table(figures, results, sing),
        "setup": render_setup(raw, scale, figures, summary),
        "tables": render_tables(captions, raw),
        "figures": render_figures(figures, captions, results, spec.policy, scale, notes, degenerate_results(figures),
                                  observations, not_drawn),
        "scorecard": render_scorecard(results, built=list(figures)),
        "deviations": "% generated by sinkgan.report -- do not edit\n" + deviations_latex(devs),
        "sing": render_sing(captions, sing, scale, not_drawn, observations, sing_evidence),
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


def build_paper(paper_dir: Path = REPO / "paper", out_pdf: Path | None = None, *, scale: str = "smoke",
                quiet: bool = True) -> Path:
    """Run latexmk on ``paper_dir/main.tex`` with job name ``scale`` (so the report reads
    ``generated/<scale>/`` and ``../figures/<scale>/``; output in ``paper_dir/build/<scale>.pdf``),
    check the log, and copy the PDF to ``out_pdf`` (default ``paper_dir/<scale>/main.pdf``).
    Raises ``RuntimeError`` listing problems."""
    paper_dir = Path(paper_dir)
    if not (paper_dir / "generated" / scale / "macros.tex").is_file():
        raise RuntimeError(f"{paper_dir / 'generated' / scale}/macros.tex is missing: run "
                           f"`python -m sinkgan.report scorecard --scale {scale}` first (or `make paper SCALE={scale}`)")
    out_pdf = Path(out_pdf or paper_dir / scale / "main.pdf")
    if shutil.which("latexmk") is None:
        raise RuntimeError("latexmk not found: install the Debian packages latexmk texlive-latex-recommended "
                           "(see README, 'Prerequisites')")
    env = dict(os.environ, SOURCE_DATE_EPOCH=os.environ.get("SOURCE_DATE_EPOCH", "0"), FORCE_SOURCE_DATE="1")
    build = paper_dir / "build"
    proc = subprocess.run(["latexmk", f"-jobname={scale}", "main.tex"], cwd=paper_dir, env=env,
                          capture_output=True, text=True)
    log = build / f"{scale}.log"
    problems = check_latex_log(log.read_text(errors="replace")) if log.is_file() else ["no log written"]
    if proc.returncode != 0 and not problems:
        problems.append(f"latexmk exited with {proc.returncode}")
    if problems:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(f"paper build failed ({log}):\n  " + "\n  ".join(problems) + f"\n--- latexmk output ---\n{tail}")
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_pdf, (build / f"{scale}.pdf").read_bytes())
    if not quiet:
        print(f"wrote {out_pdf}")
    return out_pdf


# --------------------------------------------------------------------------- CLI


def configure(ap: argparse.ArgumentParser) -> None:
    """Add the ``scorecard``, ``build``, ``check-log`` and ``deviations-md`` sub-commands (``sinkgan report``)."""
    sub = ap.add_subparsers(dest="cmd", required=True)
    sc = sub.add_parser("scorecard", help="claims.json and paper/generated/<scale>/*.tex from results/<scale>/")
    sc.add_argument("--scale", default="smoke", help="the scale whose results are scored (default smoke)")
    sc.add_argument("--root", type=Path, default=REPO, help="repository root (config/, results/, paper/)")
    sc.add_argument("--study", type=Path, default=None,
                    help="the resolved study to read (the DAG passes its own, results/<scale>/.study/*.json); "
                         "default: resolve config/study.yaml with --data/--data-root")
    sc.add_argument("--data", choices=("real", "standin"), default=None,
                    help="override the scale's data choice (as snakemake --config data=...); not with --study")
    sc.add_argument("--data-root", default="data", help="folder of the real data sets (as --config data_root=...)")
    sc.add_argument("--sing", default=None,
                    help="comma-separated SiNG figures the DAG built (default: those config/study.yaml requests)")
    sc.add_argument("--not-drawn", default="",
                    help="comma-separated figures whose results are not all there (--config only_drawable=true): "
                         "the report shows no PDF for them and says it is partial")
    b = sub.add_parser("build", help="latexmk paper/main.tex -> paper/<scale>/main.pdf, failing on any log problem")
    b.add_argument("--paper-dir", type=Path, default=REPO / "paper", help="folder of main.tex (default paper/)")
    b.add_argument("--scale", default="smoke", help="the scale whose generated files and figures the report shows")
    b.add_argument("--out", type=Path, default=None, help="the PDF to write (default paper/<scale>/main.pdf)")
    cl = sub.add_parser("check-log", help="list the problems in a pdflatex log (exit 1 if any)")
    cl.add_argument("log", type=Path, help="a pdflatex .log file")
    dm = sub.add_parser("deviations-md", help="print config/deviations.yaml as a Markdown table")
    dm.add_argument("--path", type=Path, default=None, help="the deviations file (default config/deviations.yaml)")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sinkgan.report", description=__doc__.split("\n")[0])
    configure(ap)
    return run(ap.parse_args(argv))


def _study_for(a):
    """The study a scorecard reads: the resolved file the DAG passes (``--study``), else resolved here."""
    from sinkgan.study import Study

    if a.study is None:
        return _load_study(a.scale, a.root, data=a.data, data_root=a.data_root)
    if a.data is not None or a.data_root != "data":
        raise ValueError("--data/--data-root are settled in the resolved --study file; give one or the other")
    study = Study.read(a.study, root=a.root)
    if study.scale_name != a.scale:
        raise ValueError(f"--study {a.study} resolves scale {study.scale_name!r}, not --scale {a.scale!r}")
    return study


def run(a) -> int:
    """Carry out a parsed ``sinkgan report`` command."""
    if a.cmd == "scorecard":
        sing = None if a.sing is None else [s for s in a.sing.split(",") if s]
        try:
            study = _study_for(a)
        except ValueError as err:  # includes ConfigError
            print(f"sinkgan report scorecard: error: {err}", file=sys.stderr)
            return 2
        not_drawn = [f for f in a.not_drawn.split(",") if f]
        try:
            res = scorecard(a.scale, a.root, study=study, sing=sing, not_drawn=not_drawn)
        except ValueError as err:
            print(f"sinkgan report scorecard: error: {err}", file=sys.stderr)
            return 2
        counts = {s: sum(1 for c in res if c["status"] == s) for s in C.STATUSES}
        print(f"{len(res)} claims at scale {a.scale}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    elif a.cmd == "build":
        try:
            build_paper(a.paper_dir, a.out, scale=a.scale, quiet=False)
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
