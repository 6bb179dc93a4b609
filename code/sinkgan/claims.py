"""The claims scorecard: the paper's claims (``config/claims.yaml``) decided from the results.

Each claim names a *rule*, a function registered in :data:`RULES` by :func:`rule`, and the
keyword arguments it is called with.  A rule receives the evidence of one figure
(:class:`FigureEvidence`: the figure's runs, by their labels in ``config/study.yaml``; for the
SiNG figures one run per (optimizer, data set), see :func:`sing_figure_evidence`) and the
scorecard :class:`Policy`, and returns a :class:`Verdict`: ``supported``, ``contradicted`` or
``inconclusive``, a one-line evidence text and the numbers it used; or ``not-decidable`` for a
statement no number can decide (e.g. "SGD-AutoDiff generated more blurry numbers"), which is
shown as such and never counted as evidence either way.

Noise model.  A loss is summarised by its *tail*: the last ``policy.tail`` fraction of the rows of
``log.csv`` (at least :data:`MIN_TAIL_ROWS`), giving a mean ``m`` and a standard deviation ``s``.
Two runs ``a`` and ``b`` differ when ``|m_a - m_b| > z * sqrt(s_a^2 + s_b^2)`` (``z = policy.z``).
The standard deviation of the window, not its standard error, is the noise scale: the losses are
strongly autocorrelated, so ``s / sqrt(n)`` would overstate the precision.

After the rule, :func:`apply_policy` applies the claim's evidence requirement.  Runs shorter than
the claim's ``min_iterations`` (the generator iterations after which the paper makes that claim;
``policy.min_iterations`` when the claim names none): a claim about the state that only the
paper's length reaches (``evidence.needs_paper_length``: convergence, a stationary point) is then
``inconclusive``; any other claim (a comparison of runs trained equally long) keeps its verdict,
*qualified* "at N generator iterations (the paper: M)" (``policy.short_runs: qualify``;
``inconclusive`` downgrades every short run).  A verdict reached on an offline stand-in is
qualified "on stand-in data" (``policy.standin_data: qualify``; ``inconclusive`` downgrades
instead).  The rule's own verdict is kept as ``raw_status``.

A run's files are those of ``docs/CONTRACT.md``: ``summary.json``, ``config.yaml``, ``log.csv``,
``quality.json`` ({fid, kid_mean, kid_std, is_mean|null, is_std?, extractor}),
``tracking/rate.json`` ({kappa, ci_low, ci_high, intercept, r2, reference, lack_of_fit_p}) and
``tracking/ssim.csv`` (track, step, gen_updates, critic_updates, ssim, reference).  The tracking
rules decide the paper's claims only from SSIM "relative to the preceding SeqSGDA iteration"
(section III-D, ``reference: previous``); against the track's start SSIM can only fall and kappa
is >= 0 by construction, so such evidence leaves them inconclusive.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import yaml

from . import rundir
from .config import paper_subset

STATUSES = ("supported", "contradicted", "inconclusive", "not-decidable")
DECIDED = ("supported", "contradicted")
#: The SSIM reference of the paper's protocol (section III-D); see sinkgan.metrics.tracking.
PAPER_REFERENCE = "previous"
#: Fewest rows a tail window may have; fewer give no usable noise estimate.
MIN_TAIL_ROWS = 3


class ClaimSpecError(ValueError):
    """``config/claims.yaml`` is malformed (unknown rule, bad argument, unknown label...)."""


class MissingEvidence(LookupError):
    """A result file or a run that a rule needs is absent: the claim is inconclusive."""


# --------------------------------------------------------------------------- the evidence


@dataclass
class RunResult:
    """One run directory ``results/<scale>/<run_id>/`` as a figure sees it (with its label).

    Missing files are ``None``; :meth:`require` turns an absence into :class:`MissingEvidence`.
    """

    label: str
    run_id: str
    run_dir: Path
    summary: dict | None = None
    config: dict | None = None
    log: pd.DataFrame | None = None
    quality: dict | None = None
    rate: dict | None = None
    ssim: pd.DataFrame | None = None
    paper_dataset: str | None = None  #: the paper's data set this run stands for (study key)
    #: the run directory holds files but no ``summary.json``: training is under way or was stopped,
    #: and what it has written so far (a growing log.csv) is not evidence
    unfinished: bool = False

    FILES = {
        "summary": rundir.SUMMARY,
        "config": rundir.CONFIG,
        "log": rundir.LOG,
        "quality": rundir.QUALITY,
        "rate": rundir.RATE,
        "ssim": rundir.SSIM,
    }

    def require(self, what: str):
        value = getattr(self, what)
        if value is None:
            run = Path(*self.run_dir.parts[-3:])  # results/<scale>/<run>: no machine's path
            if self.unfinished:
                raise MissingEvidence(f"{run / rundir.SUMMARY} is missing: run {self.label!r} has not finished, "
                                      f"so its {self.FILES[what]} is not read")
            raise MissingEvidence(f"{run / self.FILES[what]} is missing (run {self.label!r})")
        return value

    def column(self, name: str) -> np.ndarray:
        """A column of ``log.csv`` as float array, in iteration order."""
        log = self.require("log")
        if name not in log.columns:
            raise MissingEvidence(f"{self.run_dir / 'log.csv'} has no column {name!r}")
        return log[name].to_numpy(dtype=float)

    @property
    def iterations(self) -> int | None:
        s = self.summary or {}
        return s.get("iterations")

    @property
    def is_standin(self) -> bool:
        return bool((self.summary or {}).get("dataset_is_standin", False))

    def setting(self, key: str):
        """A resolved setting from ``config.yaml`` (e.g. ``eps``)."""
        cfg = self.require("config")
        if key not in cfg:
            raise MissingEvidence(f"{self.run_dir / 'config.yaml'} has no setting {key!r}")
        return cfg[key]


def load_run_result(run_dir: str | Path, label: str, run_id: str | None = None,
                    paper_dataset: str | None = None) -> RunResult:
    """Read every contract file of ``run_dir`` that exists (absent ones stay ``None``).

    A run without ``summary.json`` has not finished (training writes it last, and removes it when
    a run is reopened): none of its files is read, so a log that is still growing never decides a
    claim, and the result says the run is unfinished where it holds any file."""
    run_dir = Path(run_dir)
    summary = rundir.read_summary(run_dir, required=False)
    if summary is None:
        return RunResult(label=label, run_id=run_id or run_dir.name, run_dir=run_dir, paper_dataset=paper_dataset,
                         unfinished=run_dir.is_dir() and any(run_dir.iterdir()))
    return RunResult(
        label=label,
        run_id=run_id or run_dir.name,
        run_dir=run_dir,
        summary=summary,
        config=rundir.read_config(run_dir),
        log=rundir.read_csv(run_dir / rundir.LOG),
        quality=rundir.read_json(run_dir / rundir.QUALITY),
        rate=rundir.read_json(run_dir / rundir.RATE),
        ssim=rundir.read_csv(run_dir / rundir.SSIM),
        paper_dataset=paper_dataset,
    )


@dataclass
class FigureEvidence:
    """The runs of one figure of ``config/study.yaml``, in the study's order."""

    figure: str
    runs: list[RunResult]
    meta: dict = field(default_factory=dict)  #: the raw figure entry (title, kind, ...)

    @property
    def labels(self) -> list[str]:
        return [r.label for r in self.runs]

    def run(self, label: str) -> RunResult:
        for r in self.runs:
            if r.label == label:
                return r
        if self.meta.get("runs_from_results"):  # labels that exist only once the experiment ran
            raise MissingEvidence(f"figure {self.figure}: no results for {label!r} (found: {self.labels})")
        raise ClaimSpecError(f"figure {self.figure}: no run labelled {label!r}; labels: {self.labels}")


# --------------------------------------------------------------------------- policy, verdict


STANDIN_CHOICES = ("qualify", "inconclusive", "allow")
SHORT_RUN_CHOICES = ("qualify", "inconclusive")


@dataclass(frozen=True)
class Policy:
    """Scorecard-wide settings (``policy:`` in ``config/claims.yaml``).

    ``standin_data``: ``qualify`` keeps a verdict reached on offline stand-in data and marks it
    "on stand-in data"; ``inconclusive`` downgrades it; ``allow`` neither.  ``min_iterations``:
    the default evidence requirement of a claim that names none (generator iterations).
    ``short_runs``: ``qualify`` keeps the verdict of runs shorter than a claim's requirement,
    marked "at N generator iterations", unless the claim needs the paper's length
    (``evidence.needs_paper_length``); ``inconclusive`` downgrades every such verdict.
    """

    standin_data: str = "qualify"
    min_iterations: int = 600_000
    tail: float = 0.25
    z: float = 1.0
    short_runs: str = "qualify"

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any] | None) -> "Policy":
        m = dict(m or {})
        known = {"standin_data", "min_iterations", "tail", "z", "short_runs"}
        unknown = set(m) - known
        if unknown:
            raise ClaimSpecError(f"policy: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
        pol = cls(**m)
        if pol.standin_data not in STANDIN_CHOICES:
            raise ClaimSpecError(f"policy.standin_data: {pol.standin_data!r} is not one of {', '.join(STANDIN_CHOICES)}")
        if pol.short_runs not in SHORT_RUN_CHOICES:
            raise ClaimSpecError(f"policy.short_runs: {pol.short_runs!r} is not one of {', '.join(SHORT_RUN_CHOICES)}")
        if not (isinstance(pol.tail, (int, float)) and 0 < pol.tail <= 1):
            raise ClaimSpecError(f"policy.tail: {pol.tail!r} is out of range; allowed (0, 1]")
        if not (isinstance(pol.z, (int, float)) and pol.z >= 0):
            raise ClaimSpecError(f"policy.z: {pol.z!r} is out of range; allowed [0, inf)")
        if not (isinstance(pol.min_iterations, int) and pol.min_iterations >= 0):
            raise ClaimSpecError(f"policy.min_iterations: {pol.min_iterations!r} must be an integer >= 0")
        return pol


@dataclass
class Verdict:
    status: str
    evidence: str
    numbers: dict = field(default_factory=dict)
    runs: list[RunResult] = field(default_factory=list)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")


def combine(outcomes: Iterable[str]) -> str:
    """All comparisons as expected -> supported; any clearly opposite -> contradicted; else inconclusive.

    ``outcomes`` holds ``"yes"`` (as the claim says), ``"no"`` (clearly the opposite) or ``"?"``.
    """
    outcomes = list(outcomes)
    if outcomes and all(o == "yes" for o in outcomes):
        return "supported"
    if any(o == "no" for o in outcomes):
        return "contradicted"
    return "inconclusive"


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class TailStat:
    """Mean and standard deviation of the last part of a series: m = mean(x_tail), s = std(x_tail, ddof=1)."""

    mean: float
    sd: float
    n: int

    @property
    def ok(self) -> bool:
        return self.n >= MIN_TAIL_ROWS and math.isfinite(self.mean) and math.isfinite(self.sd)


def tail_window(values: Sequence[float], frac: float) -> np.ndarray:
    """The last ``max(ceil(frac * n), MIN_TAIL_ROWS)`` values (all of them if fewer)."""
    x = np.asarray(values, dtype=float)
    k = max(int(math.ceil(frac * len(x))), MIN_TAIL_ROWS)
    return x[-k:]


def tail_stat(values: Sequence[float], frac: float) -> TailStat:
    """:class:`TailStat` of :func:`tail_window`; non-finite values make the mean non-finite."""
    w = tail_window(values, frac)
    if len(w) == 0:
        return TailStat(math.nan, math.nan, 0)
    sd = float(np.std(w, ddof=1)) if len(w) > 1 else math.nan
    return TailStat(float(np.mean(w)), sd, len(w))


def compare(a: TailStat, b: TailStat, z: float) -> str:
    """Relation of ``a`` to ``b``: ``"<"`` / ``">"`` if ``|m_a - m_b| > z sqrt(s_a^2 + s_b^2)``, ``"="`` if
    within that noise band, ``"?"`` if either tail is unusable (too short or non-finite)."""
    if not (a.ok and b.ok):
        return "?"
    noise = math.hypot(a.sd, b.sd)
    d = a.mean - b.mean
    if abs(d) <= z * noise:
        return "="
    return "<" if d < 0 else ">"


def detrended_sd(y: Sequence[float], x: Sequence[float] | None = None) -> tuple[float, int]:
    """Residual standard deviation after a least-squares line: sqrt(sum r_i^2 / (n - 2)); and n."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 4 or not np.all(np.isfinite(y)):
        return math.nan, n
    x = np.arange(n, dtype=float) if x is None else np.asarray(x, dtype=float)
    coef = np.polyfit(x, y, 1)
    r = y - np.polyval(coef, x)
    return float(np.sqrt(np.sum(r ** 2) / (n - 2))), n


def linear_drift(y: Sequence[float], x: Sequence[float]) -> tuple[float, float]:
    """``(drift, resid_sd)``: drift = slope * (x_last - x_first) of the least-squares line through (x, y)."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    if len(y) < 4 or x[-1] == x[0]:
        return math.nan, math.nan
    coef = np.polyfit(x, y, 1)
    r = y - np.polyval(coef, x)
    return float(coef[0] * (x[-1] - x[0])), float(np.sqrt(np.sum(r ** 2) / (len(y) - 2)))


def g(x: float | None) -> str:
    """Compact number for evidence texts (4 significant digits)."""
    if x is None:
        return "n/a"
    return f"{x:.4g}"


# --------------------------------------------------------------------------- the rules

RULES: dict[str, Callable[..., Verdict]] = {}


def rule(fn: Callable[..., Verdict]) -> Callable[..., Verdict]:
    """Register ``fn`` under its name, the name ``config/claims.yaml`` refers to."""
    RULES[fn.__name__] = fn
    return fn


_LOSS_NAMES = {"g_loss": "G loss", "d_loss": "D loss"}
_OPS = {"<": "lower", ">": "higher"}
_FLIP = {"<": ">", ">": "<"}


def _as_outcome(rel: str, expected: str) -> str:
    if rel == expected:
        return "yes"
    if rel == _FLIP[expected]:
        return "no"
    return "?"


def _labels(x: str | Sequence[str]) -> list[str]:
    """One label or a list of labels, as a list."""
    return [x] if isinstance(x, str) else list(x)


def _quality_numbers(r: RunResult) -> tuple[float, float, float]:
    """``(fid, kid_mean, kid_std)`` of the final generator (``quality.json``)."""
    q = r.require("quality")
    return float(q["fid"]), float(q["kid_mean"]), float(q.get("kid_std") or 0.0)


def _fid_outcome(rb: RunResult, rw: RunResult, z: float) -> tuple[str, str, dict]:
    """``rb`` has the better images than ``rw``: "yes" if FID(b) < FID(w) *and* KID(w) - KID(b) >
    z sqrt(kid_std_b^2 + kid_std_w^2); "no" if both point the other way; "?" otherwise (FID alone
    has no error bar)."""
    fb, kb, sb = _quality_numbers(rb)
    fw, kw, sw = _quality_numbers(rw)
    noise = math.hypot(sb, sw)
    dk = kw - kb
    outcome = "yes" if fb < fw and dk > z * noise else "no" if fb > fw and -dk > z * noise else "?"
    text = f"FID {rb.label} {g(fb)} vs {rw.label} {g(fw)}; KID {g(kb)} vs {g(kw)} (noise {g(noise)})"
    return outcome, text, {"fid_better": fb, "fid_worse": fw, "kid_better": kb, "kid_worse": kw, "kid_noise": noise}


def _extractor(r: RunResult) -> str:
    return (r.quality or {}).get("extractor") or "unknown extractor"


@rule
def lower_fid(fig: FigureEvidence, policy: Policy, better: str, worse: str | Sequence[str]) -> Verdict:
    """``better`` has better images than each of ``worse``: FID lower, confirmed by KID beyond its
    noise (:func:`_fid_outcome`, ``z = policy.z``); all pairs -> supported, any clearly opposite ->
    contradicted, else inconclusive.  Scores of the final generators (``quality.json``)."""
    rb = fig.run(better)
    outcomes, parts, nums, runs = [], [], {}, [rb]
    for lab in _labels(worse):
        rw = fig.run(lab)
        runs.append(rw)
        o, text, n = _fid_outcome(rb, rw, policy.z)
        outcomes.append(o)
        parts.append(text)
        nums[lab] = n
    nums = nums[_labels(worse)[0]] if isinstance(worse, str) else nums
    ev = "; ".join(parts) + f" (z = {g(policy.z)}); features: {_extractor(rb)}"
    return Verdict(combine(outcomes), ev, nums, runs)


@rule
def fid_ranking(fig: FigureEvidence, policy: Policy, labels: Sequence[str]) -> Verdict:
    """``labels`` from best to worst images: every consecutive pair ordered by :func:`_fid_outcome`."""
    runs = [fig.run(lab) for lab in labels]
    outcomes, parts, nums = [], [], {}
    for rb, rw in zip(runs, runs[1:]):
        o, text, n = _fid_outcome(rb, rw, policy.z)
        outcomes.append(o)
        parts.append(text)
        nums[f"{rb.label} / {rw.label}"] = n
    return Verdict(combine(outcomes), "; ".join(parts) + f"; features: {_extractor(runs[0])}", nums, runs)


@rule
def similar_quality(fig: FigureEvidence, policy: Policy, reference: str, others: Sequence[str],
                    rel_tol: float = 0.1) -> Verdict:
    """Comparable image quality: KID within ``rel_tol`` of the reference's.  With d = |KID_o - KID_ref|,
    noise = z sqrt(kid_std_o^2 + kid_std_ref^2), tol = rel_tol KID_ref: supported if every
    d + noise <= tol; contradicted if some d - noise > tol; inconclusive otherwise (FID is shown;
    it has no error bar to judge equivalence with)."""
    ref = fig.run(reference)
    f0, k0, s0 = _quality_numbers(ref)
    outcomes, parts, nums = [], [], {}
    for lab in others:
        f, k, s_ = _quality_numbers(fig.run(lab))
        d, noise, tol = abs(k - k0), policy.z * math.hypot(s_, s0), rel_tol * abs(k0)
        outcomes.append("yes" if d + noise <= tol else "no" if d - noise > tol else "?")
        parts.append(f"{lab} KID {g(k)} vs {g(k0)} (|d| {g(d)}, noise {g(noise)}, tol {g(tol)}), FID {g(f)} vs {g(f0)}")
        nums[lab] = {"kid": k, "kid_reference": k0, "abs_diff": d, "noise": noise, "tol": tol, "fid": f,
                     "fid_reference": f0}
    return Verdict(combine(outcomes), "; ".join(parts) + f"; features: {_extractor(ref)}", nums,
                   [ref] + [fig.run(lab) for lab in others])


@rule
def not_decidable(fig: FigureEvidence, policy: Policy, reason: str) -> Verdict:
    """A statement no number decides (a visual judgement such as "more blurry"): ``not-decidable``
    with the reason, shown as such and never counted for or against the paper."""
    return Verdict("not-decidable", reason, {}, [])


@rule
def higher_is(fig: FigureEvidence, policy: Policy, better: str, worse: str) -> Verdict:
    """IS(better) > IS(worse) beyond ``z sqrt(is_std_b^2 + is_std_w^2)``; inconclusive when IS was
    not computed (``is_mean: null``) or has no spread (``is_std`` absent)."""
    rb, rw = fig.run(better), fig.run(worse)
    qb, qw = rb.require("quality"), rw.require("quality")
    ib, iw = qb.get("is_mean"), qw.get("is_mean")
    if ib is None or iw is None:
        ext = qb.get("extractor") or "unknown extractor"
        return Verdict("inconclusive", f"IS not computed (is_mean is null; features: {ext})", {}, [rb, rw])
    sb, sw = qb.get("is_std"), qw.get("is_std")
    nums = {"is_better": float(ib), "is_worse": float(iw)}
    if sb is None or sw is None:
        return Verdict("inconclusive", f"IS {better} {g(ib)} vs {worse} {g(iw)}, but no is_std to judge the noise",
                       nums, [rb, rw])
    noise = math.hypot(float(sb), float(sw))
    d = float(ib) - float(iw)
    outcome = "yes" if d > policy.z * noise else "no" if -d > policy.z * noise else "?"
    return Verdict(combine([outcome]), f"IS {better} {g(ib)} vs {worse} {g(iw)} (noise {g(noise)})",
                   nums | {"noise": noise}, [rb, rw])


@rule
def loss_order(fig: FigureEvidence, policy: Policy, first: str, second: str | Sequence[str],
               g_loss: str | None = None, d_loss: str | None = None) -> Verdict:
    """For each loss given (``"<"`` or ``">"``) and each run of ``second``: tail mean of ``first`` vs
    that run by :func:`compare`.  All as stated -> supported; any clearly opposite -> contradicted;
    else inconclusive."""
    ra = fig.run(first)
    seconds = [fig.run(lab) for lab in _labels(second)]
    outcomes, parts, nums = [], [], {}
    for col, expected in (("g_loss", g_loss), ("d_loss", d_loss)):
        if expected is None:
            continue
        if expected not in _OPS:
            raise ClaimSpecError(f"loss_order: {col} must be '<' or '>', got {expected!r}")
        a = tail_stat(ra.column(col), policy.tail)
        for rb in seconds:
            b = tail_stat(rb.column(col), policy.tail)
            rel = compare(a, b, policy.z)
            outcomes.append(_as_outcome(rel, expected))
            vs = f" vs {rb.label}" if len(seconds) > 1 else ""
            parts.append(f"{_LOSS_NAMES[col]}{vs} {g(a.mean)}±{g(a.sd)} vs {g(b.mean)}±{g(b.sd)} ({rel})")
            key = col if len(seconds) == 1 else f"{col}/{rb.label}"
            nums[key] = {"first": a.mean, "first_sd": a.sd, "second": b.mean, "second_sd": b.sd, "relation": rel}
    if not outcomes:
        raise ClaimSpecError("loss_order: give g_loss and/or d_loss")
    return Verdict(combine(outcomes), f"{first} vs {', '.join(_labels(second))}: " + "; ".join(parts), nums,
                   [ra] + seconds)


@rule
def monotone_losses(fig: FigureEvidence, policy: Policy, by: str, labels: Sequence[str],
                    g_loss: str | None = None, d_loss: str | None = None) -> Verdict:
    """Along ``labels`` (ordered by increasing setting ``by``), each given loss is ``increasing`` or
    ``decreasing``: every consecutive pair is compared with :func:`compare`."""
    runs = [fig.run(lab) for lab in labels]
    values = [float(r.setting(by)) for r in runs]
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ClaimSpecError(f"monotone_losses: labels {list(labels)} are not in increasing {by} ({values})")
    outcomes, parts, nums = [], [], {}
    for col, direction in (("g_loss", g_loss), ("d_loss", d_loss)):
        if direction is None:
            continue
        if direction not in ("increasing", "decreasing"):
            raise ClaimSpecError(f"monotone_losses: {col} must be increasing or decreasing, got {direction!r}")
        expected = "<" if direction == "increasing" else ">"
        stats = [tail_stat(r.column(col), policy.tail) for r in runs]
        rels = [compare(a, b, policy.z) for a, b in zip(stats, stats[1:])]
        outcomes += [_as_outcome(rel, expected) for rel in rels]
        chain = " ".join(x for pair in zip([g(s.mean) for s in stats], rels + [""]) for x in pair).strip()
        parts.append(f"{_LOSS_NAMES[col]} by {by} {values}: {chain}")
        nums[col] = {"values": values, "means": [s.mean for s in stats], "sds": [s.sd for s in stats],
                     "relations": rels}
    if not outcomes:
        raise ClaimSpecError("monotone_losses: give g_loss and/or d_loss")
    return Verdict(combine(outcomes), "; ".join(parts), nums, runs)


@rule
def less_stable(fig: FigureEvidence, policy: Policy, reference: str, others: Sequence[str],
                columns: Sequence[str] = ("g_loss", "d_loss"), window: float = 0.5) -> Verdict:
    """Each of ``others`` fluctuates more than ``reference``.  Instability = residual standard
    deviation s of the last ``window`` of the log after a least-squares line (so a steady descent
    is not counted).  ``log(s_o / s_ref)`` is compared with its standard error
    ``sqrt(1/(2(n_o - 1)) + 1/(2(n_ref - 1)))`` (normal approximation), times ``z``."""
    ref = fig.run(reference)
    outcomes, parts, nums = [], [], {}
    for col in columns:
        s_ref, n_ref = detrended_sd(tail_window(ref.column(col), window))
        for lab in others:
            o = fig.run(lab)
            s_o, n_o = detrended_sd(tail_window(o.column(col), window))
            if not (math.isfinite(s_ref) and math.isfinite(s_o)) or s_ref <= 0 or s_o <= 0:
                outcomes.append("?")
                parts.append(f"{_LOSS_NAMES.get(col, col)} {lab}: too few or non-finite rows")
                continue
            r = math.log(s_o / s_ref)
            se = math.sqrt(1 / (2 * (n_o - 1)) + 1 / (2 * (n_ref - 1)))
            outcomes.append("yes" if r > policy.z * se else "no" if -r > policy.z * se else "?")
            parts.append(f"{_LOSS_NAMES.get(col, col)} sd {lab} {g(s_o)} vs {g(s_ref)}")
            nums[f"{col}/{lab}"] = {"sd": s_o, "sd_reference": s_ref, "log_ratio": r, "se": se}
    return Verdict(combine(outcomes), "; ".join(parts), nums, [ref] + [fig.run(lab) for lab in others])


@rule
def similar_losses(fig: FigureEvidence, policy: Policy, reference: str, others: Sequence[str],
                   rel_tol: float = 0.1, columns: Sequence[str] = ("g_loss", "d_loss")) -> Verdict:
    """Equivalence within ``rel_tol``: with d = m_o - m_ref, noise = z sqrt(s_o^2 + s_ref^2) and
    tol = rel_tol |m_ref|: supported if every |d| + noise <= tol (the whole noise band lies within
    the tolerance); contradicted if some |d| - noise > tol; inconclusive otherwise."""
    ref = fig.run(reference)
    outcomes, parts, nums = [], [], {}
    for col in columns:
        a = tail_stat(ref.column(col), policy.tail)
        for lab in others:
            b = tail_stat(fig.run(lab).column(col), policy.tail)
            if not (a.ok and b.ok):
                outcomes.append("?")
                parts.append(f"{_LOSS_NAMES.get(col, col)} {lab}: too few or non-finite rows")
                continue
            d = abs(b.mean - a.mean)
            noise = policy.z * math.hypot(a.sd, b.sd)
            tol = rel_tol * abs(a.mean)
            outcomes.append("yes" if d + noise <= tol else "no" if d - noise > tol else "?")
            parts.append(f"{_LOSS_NAMES.get(col, col)} {lab} {g(b.mean)} vs {g(a.mean)} (|d| {g(d)}, noise {g(noise)}, tol {g(tol)})")
            nums[f"{col}/{lab}"] = {"mean": b.mean, "reference": a.mean, "abs_diff": d, "noise": noise, "tol": tol}
    return Verdict(combine(outcomes), "; ".join(parts), nums, [ref] + [fig.run(lab) for lab in others])


def _steadiness(r: RunResult, col: str, policy: Policy, rel_tol: float) -> tuple[str, str, dict]:
    """Is loss ``col`` of ``r`` finite and steady over the tail window?  The least-squares drift across
    the window, |slope| (x_last - x_first), must be at most max(rel_tol |m|, z s_resid).
    Returns ``("yes" | "no" (non-finite: diverged) | "?" (drifting or too short), text, numbers)``."""
    name = f"{r.label} {_LOSS_NAMES.get(col, col)}"
    y_all = r.column(col)
    if not np.all(np.isfinite(y_all)):
        return "no", f"{name} non-finite (diverged)", {}
    y, x = tail_window(y_all, policy.tail), tail_window(r.column("iteration"), policy.tail)
    drift, resid = linear_drift(y, x)
    if not math.isfinite(drift):
        return "?", f"{name}: too few rows", {}
    allowed = max(rel_tol * abs(float(np.mean(y))), policy.z * resid)
    steady = abs(drift) <= allowed
    return ("yes" if steady else "?", f"{name} drift {g(drift)} ({'steady' if steady else 'drifting'}; allowed {g(allowed)})",
            {"drift": drift, "allowed": allowed, "mean": float(np.mean(y))})


@rule
def converges(fig: FigureEvidence, policy: Policy, labels: Sequence[str], rel_tol: float = 0.05,
              columns: Sequence[str] = ("g_loss", "d_loss")) -> Verdict:
    """Every loss of every run is finite and steady over the tail window (:func:`_steadiness`).
    Any non-finite loss -> contradicted (diverged); all steady -> supported; still drifting ->
    inconclusive (the paper judges convergence after 6e5-1e6 iterations)."""
    runs = [fig.run(lab) for lab in labels]
    outcomes, parts, nums = [], [], {}
    for r in runs:
        for col in columns:
            o, text, n = _steadiness(r, col, policy, rel_tol)
            outcomes.append(o)
            parts.append(text)
            if n:
                nums[f"{r.label}/{col}"] = n
    return Verdict(combine(outcomes), "; ".join(parts), nums, runs)


def block_means(y: Sequence[float], x: Sequence[float], blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """``(first x of each block, mean of y over each block)`` for ``blocks`` consecutive, equal blocks."""
    parts = np.array_split(np.arange(len(y)), blocks)
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    return np.array([x[p[0]] for p in parts]), np.array([y[p].mean() for p in parts])


def settling_iteration(r: RunResult, col: str, policy: Policy, rel_tol: float, blocks: int) -> tuple[float, float]:
    """When loss ``col`` of ``r`` reached its final level: with m, s = :func:`tail_stat` of the tail and
    band = max(rel_tol |m|, z s), the log is cut into ``blocks`` equal blocks with means b_k; the
    settling block is the first k with |b_j - m| <= band for every j >= k, and the result is
    ``(its first iteration, the block length in iterations)``."""
    y, x = r.column(col), r.column("iteration")
    st = tail_stat(y, policy.tail)
    band = max(rel_tol * abs(st.mean), policy.z * st.sd)
    starts, means = block_means(y, x, blocks)
    inside = np.abs(means - st.mean) <= band
    k = len(inside)
    while k > 0 and inside[k - 1]:
        k -= 1
    width = (x[-1] - x[0]) / blocks
    return (float(starts[k]) if k < len(starts) else float(x[-1])), float(width)


@rule
def faster_convergence(fig: FigureEvidence, policy: Policy, faster: str, slower: str, rel_tol: float = 0.05,
                       blocks: int = 20, columns: Sequence[str] = ("g_loss", "d_loss")) -> Verdict:
    """``faster`` reaches its final loss level before ``slower`` (:func:`settling_iteration`).  Both must
    be steady (:func:`_steadiness`), else inconclusive; per loss "yes" if t_faster + w < t_slower,
    "no" if t_faster > t_slower + w, "?" otherwise, w the longer of the two block lengths."""
    if not (isinstance(blocks, int) and blocks >= 2):
        raise ClaimSpecError(f"faster_convergence: blocks {blocks!r} must be an integer >= 2")
    rf, rs = fig.run(faster), fig.run(slower)
    outcomes, parts, nums = [], [], {}
    for col in columns:
        steady = [_steadiness(r, col, policy, rel_tol) for r in (rf, rs)]
        if any(o != "yes" for o, _, _ in steady):
            outcomes.append("no" if steady[0][0] == "no" else "?")  # ours diverged: not faster
            parts.append("; ".join(t for _, t, _ in steady))
            continue
        (tf, wf), (ts, ws) = (settling_iteration(r, col, policy, rel_tol, blocks) for r in (rf, rs))
        w = max(wf, ws)
        outcomes.append("yes" if tf + w < ts else "no" if tf > ts + w else "?")
        parts.append(f"{_LOSS_NAMES.get(col, col)} settles at iteration {g(tf)} ({faster}) vs {g(ts)} ({slower}), "
                     f"resolution {g(w)}")
        nums[col] = {"settle_faster": tf, "settle_slower": ts, "resolution": w}
    return Verdict(combine(outcomes), "; ".join(parts), nums, [rf, rs])


@rule
def similar_trends(fig: FigureEvidence, policy: Policy, reference: str, others: Sequence[str], blocks: int = 20,
                   min_corr: float = 0.8, columns: Sequence[str] = ("g_loss", "d_loss")) -> Verdict:
    """The losses move alike over training.  Each run's loss is cut into ``blocks`` block means over the
    iterations all runs share; a run *has a trend* if its block means span more than z s (s the
    tail sd).  Per run and loss vs ``reference``: both with a trend and Pearson r >= min_corr -> yes;
    both with a trend and r < 0, or exactly one with a trend -> no; otherwise ("?") inconclusive."""
    ref = fig.run(reference)
    runs = [fig.run(lab) for lab in others]
    last = min(float(r.column("iteration")[-1]) for r in [ref] + runs)
    outcomes, parts, nums = [], [], {}

    def trend(r, col):
        it, y = r.column("iteration"), r.column(col)
        keep = it <= last
        if keep.sum() < max(blocks, MIN_TAIL_ROWS) or not np.all(np.isfinite(y[keep])):
            return None, False
        _, means = block_means(y[keep], it[keep], blocks)
        return means, bool(np.ptp(means) > policy.z * tail_stat(y[keep], policy.tail).sd)

    for col in columns:
        m0, t0 = trend(ref, col)
        for r in runs:
            m1, t1 = trend(r, col)
            name = f"{_LOSS_NAMES.get(col, col)} {r.label}"
            if m0 is None or m1 is None:
                outcomes.append("?")
                parts.append(f"{name}: too few or non-finite rows")
                continue
            corr = float(np.corrcoef(m0, m1)[0, 1]) if t0 and t1 else math.nan
            if t0 and t1:
                outcomes.append("yes" if corr >= min_corr else "no" if corr < 0 else "?")
            else:
                outcomes.append("no" if t0 != t1 else "?")
            parts.append(f"{name}: r {g(corr) if math.isfinite(corr) else 'n/a'} "
                         f"(trend: {reference} {'yes' if t0 else 'no'}, {r.label} {'yes' if t1 else 'no'})")
            nums[f"{col}/{r.label}"] = {"corr": corr, "trend_reference": t0, "trend": t1}
    return Verdict(combine(outcomes), f"block means over iterations <= {g(last)}: " + "; ".join(parts), nums,
                   [ref] + runs)


def tracking_reference(r: RunResult) -> str | None:
    """The SSIM reference a run was tracked with (``rate.json``, else the ``ssim.csv`` column); None if unrecorded."""
    if r.rate and r.rate.get("reference"):
        return str(r.rate["reference"])
    if r.ssim is not None and "reference" in r.ssim.columns:
        refs = set(r.ssim["reference"].dropna().astype(str))
        return refs.pop() if len(refs) == 1 else None
    return None


def _paper_protocol(v: Verdict) -> Verdict:
    """Leave a tracking verdict inconclusive unless every run measured SSIM relative to the preceding
    capture (section III-D): against the track's start SSIM only falls and kappa >= 0 by construction."""
    refs = {r.label: tracking_reference(r) for r in v.runs}
    off = {lab: ref for lab, ref in refs.items() if ref != PAPER_REFERENCE}
    if not off:
        return v
    listed = ", ".join(f"{lab}: {ref or 'not recorded'}" for lab, ref in off.items())
    note = (f" [SSIM reference {listed}; the paper "
            f"measures change relative to the preceding iteration (reference '{PAPER_REFERENCE}')")
    note += f"; the numbers alone would say {v.status}]" if v.status in DECIDED else "]"
    return Verdict("inconclusive", v.evidence + note, v.numbers | {"references": refs}, v.runs)


@rule
def ssim_tends_to_one(fig: FigureEvidence, policy: Policy, labels: Sequence[str],
                      threshold: float = 0.99) -> Verdict:
    """SSIM between consecutive captures converges to 1 (Fig. 21).  Per run: SSIM of
    ``tracking/ssim.csv`` (steps > 0) averaged over tracks per step; its tail (last ``policy.tail`` of
    the steps) has mean m, sd s and least-squares drift d.  m >= threshold and not falling
    (d >= -z s) -> yes; m + z s < threshold and not rising (d <= z s) -> no; else "?".  Evidence
    tracked against the track's start cannot decide it (:func:`_paper_protocol`)."""
    runs = [fig.run(lab) for lab in labels]
    outcomes, parts, nums = [], [], {}
    for r in runs:
        df = r.require("ssim")
        curve = df[df["step"] > 0].groupby("step", sort=True)["ssim"].mean()
        st = tail_stat(curve.to_numpy(), policy.tail)
        drift, _ = linear_drift(tail_window(curve.to_numpy(), policy.tail),
                                tail_window(curve.index.to_numpy(dtype=float), policy.tail))
        if not math.isfinite(st.mean):
            outcomes.append("?")
            parts.append(f"{r.label}: no usable SSIM")
            continue
        sd = st.sd if math.isfinite(st.sd) else 0.0
        rising = math.isfinite(drift) and drift > policy.z * sd
        falling = math.isfinite(drift) and drift < -policy.z * sd
        if st.mean >= threshold and not falling:
            outcomes.append("yes")
        elif st.mean + policy.z * sd < threshold and not rising:
            outcomes.append("no")
        else:
            outcomes.append("?")
        trend = " (rising)" if rising else " (falling)" if falling else ""
        parts.append(f"{r.label} final SSIM {g(st.mean)}±{g(st.sd)}{trend}")
        nums[r.label] = {"final_ssim": st.mean, "sd": st.sd, "drift": drift}
    return _paper_protocol(Verdict(combine(outcomes), f"threshold {g(threshold)}: " + "; ".join(parts), nums, runs))


def _kappa(r: RunResult) -> tuple[float, float, float]:
    rate = r.require("rate")
    if rate.get("kappa") is None:
        raise MissingEvidence(f"{r.run_dir / r.FILES['rate']}: no kappa ({rate.get('unavailable_reason')})")
    return float(rate["kappa"]), float(rate["ci_low"]), float(rate["ci_high"])


@rule
def kappa_differs(fig: FigureEvidence, policy: Policy, labels: Sequence[str]) -> Verdict:
    """kappa varies across ``labels``: supported if the confidence intervals of some pair are
    disjoint; otherwise inconclusive (overlapping intervals cannot show that kappa is constant)."""
    runs = [fig.run(lab) for lab in labels]
    ks = {r.label: _kappa(r) for r in runs}
    disjoint = [(a, b) for i, a in enumerate(labels) for b in labels[i + 1:]
                if ks[a][2] < ks[b][1] or ks[b][2] < ks[a][1]]
    parts = [f"{lab}: {g(k)} [{g(lo)}, {g(hi)}]" for lab, (k, lo, hi) in ks.items()]
    status = "supported" if disjoint else "inconclusive"
    tail = f"; disjoint: {', '.join(f'{a} / {b}' for a, b in disjoint)}" if disjoint else "; all intervals overlap"
    return _paper_protocol(Verdict(status, "kappa " + "; ".join(parts) + tail,
                                   {lab: {"kappa": k, "ci_low": lo, "ci_high": hi} for lab, (k, lo, hi) in ks.items()},
                                   runs))


@rule
def kappa_signs(fig: FigureEvidence, policy: Policy, expected: Mapping[str, str]) -> Verdict:
    """The sign of kappa per label (``"+"`` or ``"-"``), decided by its confidence interval:
    interval above 0 -> "+", below 0 -> "-", containing 0 -> undetermined.  Only SSIM relative to the
    preceding capture can give kappa < 0 (:func:`_paper_protocol`)."""
    runs, outcomes, parts, nums = [], [], [], {}
    for lab, want in expected.items():
        if want not in ("+", "-"):
            raise ClaimSpecError(f"kappa_signs: expected sign for {lab!r} must be '+' or '-', got {want!r}")
        r = fig.run(lab)
        runs.append(r)
        k, lo, hi = _kappa(r)
        sign = "+" if lo > 0 else "-" if hi < 0 else "0"
        outcomes.append("yes" if sign == want else "?" if sign == "0" else "no")
        parts.append(f"{lab}: {g(k)} [{g(lo)}, {g(hi)}] sign {sign} (paper {want})")
        nums[lab] = {"kappa": k, "ci_low": lo, "ci_high": hi, "sign": sign, "expected": want}
    return _paper_protocol(Verdict(combine(outcomes), "; ".join(parts), nums, runs))


@rule
def rate_fit_holds(fig: FigureEvidence, policy: Policy, labels: Sequence[str], min_r2: float = 0.8,
                   alpha: float = 0.01) -> Verdict:
    """log(1/SSIM) is linear in log(eta_theta + eta_phi) (Fig. 22).  Per run, from ``rate.json``: R^2 of
    the line and the p-value of the lack-of-fit F test (:mod:`sinkgan.metrics.rate`).
    R^2 >= min_r2 and p >= alpha -> yes (the line explains the points and they do not bend away from
    it beyond the track-to-track scatter); p < alpha and R^2 < min_r2 -> no; otherwise "?"."""
    if not (0 < alpha < 1 and 0 <= min_r2 <= 1):
        raise ClaimSpecError(f"rate_fit_holds: alpha {alpha!r} must be in (0, 1) and min_r2 {min_r2!r} in [0, 1]")
    runs = [fig.run(lab) for lab in labels]
    outcomes, parts, nums = [], [], {}
    for r in runs:
        rate = r.require("rate")
        r2, p = rate.get("r2"), rate.get("lack_of_fit_p")
        if r2 is None or p is None:
            why = rate.get("unavailable_reason") or rate.get("lack_of_fit_reason") or "rate.json has no lack-of-fit test"
            outcomes.append("?")
            parts.append(f"{r.label}: R^2 {g(r2)}, lack of fit not testable ({why})")
            continue
        outcomes.append("yes" if r2 >= min_r2 and p >= alpha else "no" if p < alpha and r2 < min_r2 else "?")
        parts.append(f"{r.label}: R^2 {g(r2)}, lack-of-fit p {g(p)}")
        nums[r.label] = {"r2": r2, "lack_of_fit_p": p}
    return _paper_protocol(Verdict(combine(outcomes), f"min R^2 {g(min_r2)}, alpha {g(alpha)}: " + "; ".join(parts),
                                   nums, runs))


@rule
def lower_loss_at_equal_time(fig: FigureEvidence, policy: Policy, better: str, worse: Sequence[str],
                             column: str = "loss") -> Verdict:
    """SiNG 7.1/7.2: ``better`` reaches a lower objective than each of ``worse`` in the same wall-clock
    time.  T = the shortest of the runs' last ``wall_seconds``; each run's loss is summarised by
    :func:`tail_stat` of its rows with wall_seconds <= T and compared by :func:`compare` ("<")."""
    runs = [fig.run(better)] + [fig.run(lab) for lab in _labels(worse)]
    horizon = min(float(np.nanmax(r.column("wall_seconds"))) for r in runs)
    stats = []
    for r in runs:
        keep = r.column("wall_seconds") <= horizon
        stats.append(tail_stat(r.column(column)[keep], policy.tail))
    outcomes, parts, nums = [], [], {}
    for r, st in zip(runs[1:], stats[1:]):
        rel = compare(stats[0], st, policy.z)
        outcomes.append(_as_outcome(rel, "<"))
        parts.append(f"{r.label} {g(st.mean)}±{g(st.sd)} ({rel})")
        nums[r.label] = {"mean": st.mean, "sd": st.sd, "relation": rel}
    nums[better] = {"mean": stats[0].mean, "sd": stats[0].sd}
    ev = f"{column} at {g(horizon)} s: {better} {g(stats[0].mean)}±{g(stats[0].sd)} vs " + "; ".join(parts)
    return Verdict(combine(outcomes), ev, nums | {"horizon_s": horizon}, runs)


# --------------------------------------------------------------------------- SiNG evidence

SING_FIGURE_PATTERN = r"sing\d\d"


def sing_labels(experiment: Mapping[str, Any]) -> list[str]:
    """Run labels of a SiNG experiment of ``config/sing.yaml``: ``"<optimizer>, <paper data set>"``."""
    return [f"{opt}, {ds}" for ds in experiment.get("datasets", []) for opt in experiment.get("optimizers", [])]


def sing_figure_evidence(results_dir: str | Path, sing_spec: Mapping[str, Any]) -> dict[str, FigureEvidence]:
    """The SiNG figures' evidence: for each experiment of ``sing_spec`` (``config/sing.yaml``) one
    :class:`RunResult` per (optimizer, data set), whose ``log`` is that pair's rows of
    ``<results_dir>/sing/<experiment>/log.csv`` and whose ``summary`` is the experiment's
    ``summary.json``.  A missing experiment gives runs without files (inconclusive claims)."""
    out = {}
    for name, exp in (sing_spec.get("experiments") or {}).items():
        folder = Path(results_dir) / "sing" / name
        summary = rundir.read_json(folder / "summary.json")
        log = rundir.read_csv(folder / "log.csv") if summary is not None else None
        runs = []
        for label in sing_labels(exp):
            opt, ds = label.split(", ")
            part = None
            if log is not None:
                rows = log[(log["optimizer"] == opt) & (log["dataset"].astype(str).str.split(".").str[0] == ds)]
                part = rows.reset_index(drop=True) if len(rows) else None
            runs.append(RunResult(label, f"sing/{name}/{opt}/{ds}", folder, summary=summary,
                                  config=(summary or {}).get("config"), log=part, paper_dataset=ds))
        out[exp["figure"]] = FigureEvidence(exp["figure"], runs, {"experiment": name, "runs_from_results": True})
    return out


# --------------------------------------------------------------------------- the scorecard

#: Per-claim evidence requirement (``evidence:`` of a claim in config/claims.yaml).
EVIDENCE_KEYS = ("min_iterations", "needs", "needs_paper_length")


@dataclass
class Claim:
    id: str
    claim: str
    where: str
    figure: str
    rule: str
    args: dict
    #: ``min_iterations`` (the paper's generator iterations for that figure), ``needs`` (what
    #: evidence decides the claim, in words) and ``needs_paper_length`` (true: the claim is about
    #: what training reaches after ``min_iterations`` -- convergence, a stationary point -- so
    #: shorter runs cannot decide it whatever ``policy.short_runs`` says)
    evidence: dict = field(default_factory=dict)

    def min_iterations(self, policy: Policy) -> int:
        return int(self.evidence.get("min_iterations", policy.min_iterations))

    @property
    def needs_paper_length(self) -> bool:
        return bool(self.evidence.get("needs_paper_length", False))


@dataclass
class ClaimsSpec:
    policy: Policy
    claims: list[Claim]


def _check_evidence(where: str, ev) -> dict:
    if ev is None:
        return {}
    if not isinstance(ev, dict):
        raise ClaimSpecError(f"{where}.evidence must be a mapping with keys {', '.join(EVIDENCE_KEYS)}")
    unknown = set(ev) - set(EVIDENCE_KEYS)
    if unknown:
        raise ClaimSpecError(f"{where}.evidence: unknown key(s) {sorted(unknown)}; known: {', '.join(EVIDENCE_KEYS)}")
    m = ev.get("min_iterations", 0)
    if isinstance(m, bool) or not isinstance(m, int) or m < 0:
        raise ClaimSpecError(f"{where}.evidence.min_iterations: {m!r} must be an integer >= 0")
    if "needs" in ev and not (isinstance(ev["needs"], str) and ev["needs"]):
        raise ClaimSpecError(f"{where}.evidence.needs must be a non-empty string")
    if not isinstance(ev.get("needs_paper_length", False), bool):
        raise ClaimSpecError(f"{where}.evidence.needs_paper_length: {ev['needs_paper_length']!r} must be true or false")
    return dict(ev)


def load_claims(path: str | Path) -> ClaimsSpec:
    """Read and check ``config/claims.yaml``: unique ids, known rules, arguments the rule accepts,
    evidence requirements of the known keys."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict) or not isinstance(raw.get("claims"), list):
        raise ClaimSpecError(f"{path}: expected a mapping with a list 'claims'")
    policy = Policy.from_mapping(raw.get("policy"))
    claims, seen = [], set()
    required = ("id", "claim", "where", "figure", "rule")
    for i, c in enumerate(raw["claims"]):
        if not isinstance(c, dict):
            raise ClaimSpecError(f"{path}: claims[{i}] must be a mapping")
        for key in required:
            if not isinstance(c.get(key), str) or not c[key]:
                raise ClaimSpecError(f"{path}: claims[{i}].{key} is missing or not a string")
        extra = set(c) - set(required) - {"args", "evidence"}
        if extra:
            raise ClaimSpecError(f"{path}: claims[{i}] ({c['id']}): unknown key(s) {sorted(extra)}")
        if c["id"] in seen:
            raise ClaimSpecError(f"{path}: claims[{i}].id {c['id']!r} is used twice")
        seen.add(c["id"])
        if c["rule"] not in RULES:
            raise ClaimSpecError(f"{path}: claims[{i}].rule {c['rule']!r} is not one of {sorted(RULES)}")
        args = c.get("args") or {}
        if not isinstance(args, dict):
            raise ClaimSpecError(f"{path}: claims[{i}].args must be a mapping")
        try:
            inspect.signature(RULES[c["rule"]]).bind(None, None, **args)
        except TypeError as err:
            raise ClaimSpecError(f"{path}: claims[{i}] ({c['id']}): bad args for rule {c['rule']}: {err}") from None
        evidence = _check_evidence(f"{path}: claims[{i}] ({c['id']})", c.get("evidence"))
        claims.append(Claim(c["id"], c["claim"], c["where"], c["figure"], c["rule"], dict(args), evidence))
    return ClaimsSpec(policy, claims)


def standin_note(runs: Sequence[RunResult]) -> str | None:
    """``"on stand-in data (photos-standin for cats; ...)"`` when any run used an offline stand-in, else None.
    A subset of the paper's own data (``sinkgan.config.PAPER_SUBSETS``, e.g. mnist5k) is not a stand-in
    (:func:`subset_note`)."""
    standin = sorted({f"{r.summary.get('dataset')} for {r.summary.get('stands_in_for') or r.paper_dataset or '?'}"
                      for r in runs if r.summary and r.is_standin and not paper_subset(r.summary.get("dataset"))})
    return f"on stand-in data ({'; '.join(standin)})" if standin else None


def subset_note(runs: Sequence[RunResult]) -> str | None:
    """``"on a subset of the paper's data (mnist5k: real mnist images, fewer of them)"`` when any run
    trained on one (:data:`sinkgan.config.PAPER_SUBSETS`), else None."""
    subsets = sorted({f"{r.summary.get('dataset')}: real {paper_subset(r.summary.get('dataset'))} images, fewer of them"
                      for r in runs if r.summary and paper_subset(r.summary.get("dataset"))})
    return f"on a subset of the paper's data ({'; '.join(subsets)})" if subsets else None


def copy_note(runs: Sequence[RunResult]) -> str | None:
    """``"on copies of cats.x (twins: ...)"`` when any run is a twin's copy (``copied_from``,
    :mod:`sinkgan.twins`): its evidence is its original's, so this claim and the original's claim
    decide on one training, not on two."""
    originals = sorted({str(r.summary["copied_from"]) for r in runs if r.summary and r.summary.get("copied_from")})
    if not originals:
        return None
    return (f"on copies of {', '.join(originals)} (twins: the same training on the same stand-in images, "
            f"so the same evidence as the claims on those runs)")


def _shortest(runs: Sequence[RunResult]) -> int | None:
    iters = [r.iterations for r in runs if r.iterations is not None]
    return min(iters) if iters else None


def policy_caveats(runs: Sequence[RunResult], policy: Policy, min_iterations: int | None = None,
                   needs_paper_length: bool = True) -> list[str]:
    """Why these runs cannot decide a claim about the paper's setting (empty list: they can): runs
    shorter than ``min_iterations`` (default ``policy.min_iterations``) when the claim needs the
    paper's length or ``policy.short_runs`` is ``inconclusive``, and stand-in data when
    ``policy.standin_data`` is ``inconclusive``."""
    caveats = []
    note = standin_note(runs)
    if note and policy.standin_data == "inconclusive":
        caveats.append(note.replace("on stand-in data", "stand-in data"))
    need = policy.min_iterations if min_iterations is None else min_iterations
    shortest = _shortest(runs)
    if shortest is not None and shortest < need and (needs_paper_length or policy.short_runs == "inconclusive"):
        what = ("the claim is about what training reaches after the paper's count" if needs_paper_length
                else "the paper's count for this claim")
        caveats.append(f"runs of {shortest} generator iterations < {need}, {what}")
    return caveats


def length_note(runs: Sequence[RunResult], min_iterations: int) -> str | None:
    """``"at 500 generator iterations (the paper: 1000000)"`` when the runs are shorter than the
    claim's requirement, else None."""
    shortest = _shortest(runs)
    if shortest is None or shortest >= min_iterations:
        return None
    return f"at {shortest} generator iterations (the paper: {min_iterations})"


def apply_policy(verdict: Verdict, policy: Policy, min_iterations: int | None = None,
                 needs_paper_length: bool = True, scale_caveat: str | None = None
                 ) -> tuple[str, str, list[str], str | None]:
    """``(status, evidence, caveats, qualifier)``: a decided verdict becomes inconclusive when caveats
    apply (:func:`policy_caveats`, and ``scale_caveat``: why the scale's runs decide no claim, e.g.
    the smoke scale's narrowed networks); otherwise it is qualified "on stand-in data"
    (``standin_data: qualify``) and "at N generator iterations" (runs shorter than the claim's
    requirement, ``short_runs: qualify``).  A ``not-decidable`` verdict is left as it is."""
    if verdict.status == "not-decidable":
        return verdict.status, verdict.evidence, [], None
    need = policy.min_iterations if min_iterations is None else min_iterations
    caveats = ([scale_caveat] if scale_caveat else []) + policy_caveats(verdict.runs, policy, need, needs_paper_length)
    notes = [standin_note(verdict.runs) if policy.standin_data == "qualify" else None, subset_note(verdict.runs),
             copy_note(verdict.runs), length_note(verdict.runs, need)]
    qualifier = ", ".join(n for n in notes if n) or None
    evidence = verdict.evidence
    if caveats:
        note = f" [at this scale: {'; '.join(caveats)}"
        if verdict.status != "inconclusive":
            note += f"; the numbers alone would say {verdict.status}"
        return "inconclusive", evidence + note + "]", caveats, qualifier
    if qualifier and verdict.status in DECIDED:
        evidence = f"{verdict.status} {qualifier}: {evidence}"
    return verdict.status, evidence, caveats, qualifier


def evaluate_claims(spec: ClaimsSpec, figures: Mapping[str, FigureEvidence], not_built: Sequence[str] = (),
                    scale_caveat: str | None = None) -> list[dict]:
    """Decide every claim; a claim whose evidence is missing is inconclusive (never skipped).  A SiNG
    figure absent from ``figures`` counts as missing evidence (see :func:`sing_figure_evidence`), and
    so does a figure of the study that this scale does not build (``not_built``, e.g. the cpu scale's
    Figs. 6-22); any other unknown figure is an error in the claims file.  ``scale_caveat``: why
    this scale's runs decide no claim at all (``claims_undecidable`` of the scale in
    config/study.yaml), added to every decidable claim's caveats."""
    import re

    out = []
    for c in spec.claims:
        if c.figure in figures:
            fig = figures[c.figure]
        elif re.fullmatch(SING_FIGURE_PATTERN, c.figure) or c.figure in not_built:
            fig = FigureEvidence(c.figure, [], {"runs_from_results": True})
        else:
            raise ClaimSpecError(f"claim {c.id}: figure {c.figure!r} is not in the study ({sorted(figures)})")
        try:
            verdict = RULES[c.rule](fig, spec.policy, **c.args)
        except MissingEvidence as err:
            verdict = Verdict("inconclusive", f"missing evidence: {err}")
        status, evidence, caveats, qualifier = apply_policy(verdict, spec.policy, c.min_iterations(spec.policy),
                                                            c.needs_paper_length, scale_caveat)
        out.append({
            "id": c.id, "claim": c.claim, "where": c.where, "figure": c.figure, "rule": c.rule,
            "args": c.args, "status": status, "raw_status": verdict.status, "evidence": evidence,
            "caveats": caveats, "qualifier": qualifier if status in DECIDED else None,
            "min_iterations": c.min_iterations(spec.policy), "needs_paper_length": c.needs_paper_length,
            "needs": c.evidence.get("needs"),
            "numbers": _jsonable(verdict.numbers), "runs": [r.run_id for r in verdict.runs],
        })
    return out


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
