"""The claims scorecard: the paper's claims (``config/claims.yaml``) decided from the results.

Each claim names a *rule*, a function registered in :data:`RULES` by :func:`rule`, and the
keyword arguments it is called with.  A rule receives the evidence of one figure
(:class:`FigureEvidence`: the figure's runs, by their labels in ``config/study.yaml``) and the
scorecard :class:`Policy`, and returns a :class:`Verdict`: ``supported``, ``contradicted`` or
``inconclusive``, a one-line evidence text and the numbers it used.

Noise model.  A loss is summarised by its *tail*: the last ``policy.tail`` fraction of the rows of
``log.csv`` (at least :data:`MIN_TAIL_ROWS`), giving a mean ``m`` and a standard deviation ``s``.
Two runs ``a`` and ``b`` differ when ``|m_a - m_b| > z * sqrt(s_a^2 + s_b^2)`` (``z = policy.z``).
The standard deviation of the window, not its standard error, is the noise scale: the losses are
strongly autocorrelated, so ``s / sqrt(n)`` would overstate the precision.

After the rule, :func:`apply_policy` downgrades a decided verdict to ``inconclusive`` when the
runs cannot speak for the paper's setting (offline stand-in data, runs shorter than
``policy.min_iterations``); the rule's own verdict is kept as ``raw_status``.

A run's files are those of ``docs/CONTRACT.md``: ``summary.json``, ``config.yaml``, ``log.csv``,
``quality.json`` ({fid, kid_mean, kid_std, is_mean|null, is_std?, extractor}),
``tracking/rate.json`` ({kappa, ci_low, ci_high, intercept, r2}) and ``tracking/ssim.csv``
(track, step, gen_updates, critic_updates, ssim).
"""
from __future__ import annotations

import inspect
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import yaml

STATUSES = ("supported", "contradicted", "inconclusive")
#: Fewest rows a tail window may have; fewer give no usable noise estimate.
MIN_TAIL_ROWS = 3


class ClaimSpecError(ValueError):
    """``config/claims.yaml`` is malformed (unknown rule, bad argument, unknown label...)."""


class MissingEvidence(LookupError):
    """A result file or a run that a rule needs is absent: the claim is inconclusive."""


# --------------------------------------------------------------------------- the evidence


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _read_yaml(path: Path) -> dict | None:
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else None


def _read_csv(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() else None


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

    FILES = {
        "summary": "summary.json",
        "config": "config.yaml",
        "log": "log.csv",
        "quality": "quality.json",
        "rate": "tracking/rate.json",
        "ssim": "tracking/ssim.csv",
    }

    def require(self, what: str):
        value = getattr(self, what)
        if value is None:
            raise MissingEvidence(f"{self.run_dir / self.FILES[what]} is missing (run {self.label!r})")
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
    """Read every contract file of ``run_dir`` that exists (absent ones stay ``None``)."""
    run_dir = Path(run_dir)
    cfg = _read_yaml(run_dir / "config.yaml")
    return RunResult(
        label=label,
        run_id=run_id or run_dir.name,
        run_dir=run_dir,
        summary=_read_json(run_dir / "summary.json"),
        config=cfg,
        log=_read_csv(run_dir / "log.csv"),
        quality=_read_json(run_dir / "quality.json"),
        rate=_read_json(run_dir / "tracking" / "rate.json"),
        ssim=_read_csv(run_dir / "tracking" / "ssim.csv"),
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
        raise ClaimSpecError(f"figure {self.figure}: no run labelled {label!r}; labels: {self.labels}")


# --------------------------------------------------------------------------- policy, verdict


@dataclass(frozen=True)
class Policy:
    """Scorecard-wide settings (``policy:`` in ``config/claims.yaml``)."""

    standin_data: str = "inconclusive"  #: "inconclusive" or "allow"
    min_iterations: int = 1000
    tail: float = 0.25
    z: float = 1.0

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any] | None) -> "Policy":
        m = dict(m or {})
        known = {"standin_data", "min_iterations", "tail", "z"}
        unknown = set(m) - known
        if unknown:
            raise ClaimSpecError(f"policy: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
        pol = cls(**m)
        if pol.standin_data not in ("inconclusive", "allow"):
            raise ClaimSpecError(f"policy.standin_data: {pol.standin_data!r} is not one of inconclusive, allow")
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


@rule
def lower_fid(fig: FigureEvidence, policy: Policy, better: str, worse: str) -> Verdict:
    """FID(better) < FID(worse), confirmed by KID: supported if FID is lower *and* the KID
    difference exceeds ``z sqrt(kid_std_b^2 + kid_std_w^2)`` in the same direction; contradicted if
    both point the other way; inconclusive otherwise (FID alone has no error bar)."""
    rb, rw = fig.run(better), fig.run(worse)
    qb, qw = rb.require("quality"), rw.require("quality")
    fb, fw = float(qb["fid"]), float(qw["fid"])
    kb, kw = float(qb["kid_mean"]), float(qw["kid_mean"])
    noise = math.hypot(float(qb.get("kid_std", 0.0)), float(qw.get("kid_std", 0.0)))
    dk = kw - kb
    if fb < fw and dk > policy.z * noise:
        status = "supported"
    elif fb > fw and -dk > policy.z * noise:
        status = "contradicted"
    else:
        status = "inconclusive"
    ext = qb.get("extractor") or "unknown extractor"
    ev = (f"FID {better} {g(fb)} vs {worse} {g(fw)}; KID {g(kb)} vs {g(kw)} "
          f"(noise {g(noise)}, z = {g(policy.z)}); features: {ext}")
    return Verdict(status, ev, {"fid_better": fb, "fid_worse": fw, "kid_better": kb, "kid_worse": kw,
                                "kid_noise": noise}, [rb, rw])


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
def loss_order(fig: FigureEvidence, policy: Policy, first: str, second: str,
               g_loss: str | None = None, d_loss: str | None = None) -> Verdict:
    """For each loss given (``"<"`` or ``">"``): tail mean of ``first`` vs ``second`` by :func:`compare`.
    All as stated -> supported; any clearly opposite -> contradicted; else inconclusive."""
    ra, rb = fig.run(first), fig.run(second)
    outcomes, parts, nums = [], [], {}
    for col, expected in (("g_loss", g_loss), ("d_loss", d_loss)):
        if expected is None:
            continue
        if expected not in _OPS:
            raise ClaimSpecError(f"loss_order: {col} must be '<' or '>', got {expected!r}")
        a, b = tail_stat(ra.column(col), policy.tail), tail_stat(rb.column(col), policy.tail)
        rel = compare(a, b, policy.z)
        outcomes.append(_as_outcome(rel, expected))
        parts.append(f"{_LOSS_NAMES[col]} {g(a.mean)}±{g(a.sd)} vs {g(b.mean)}±{g(b.sd)} ({rel})")
        nums[col] = {"first": a.mean, "first_sd": a.sd, "second": b.mean, "second_sd": b.sd, "relation": rel}
    if not outcomes:
        raise ClaimSpecError("loss_order: give g_loss and/or d_loss")
    return Verdict(combine(outcomes), f"{first} vs {second}: " + "; ".join(parts), nums, [ra, rb])


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


@rule
def converges(fig: FigureEvidence, policy: Policy, labels: Sequence[str], rel_tol: float = 0.05,
              columns: Sequence[str] = ("g_loss", "d_loss")) -> Verdict:
    """Every loss of every run is finite and steady over the tail window: the least-squares drift
    across the window, |slope| (x_last - x_first), is at most max(rel_tol |m|, z s_resid).
    Any non-finite loss -> contradicted (diverged); all steady -> supported; still drifting ->
    inconclusive (the paper judges convergence after 6e5-1e6 iterations)."""
    runs = [fig.run(lab) for lab in labels]
    outcomes, parts, nums = [], [], {}
    for r in runs:
        x_all = r.column("iteration")
        for col in columns:
            y_all = r.column(col)
            if not np.all(np.isfinite(y_all)):
                outcomes.append("no")
                parts.append(f"{r.label} {_LOSS_NAMES.get(col, col)} non-finite (diverged)")
                continue
            y, x = tail_window(y_all, policy.tail), tail_window(x_all, policy.tail)
            drift, resid = linear_drift(y, x)
            if not math.isfinite(drift):
                outcomes.append("?")
                parts.append(f"{r.label} {_LOSS_NAMES.get(col, col)}: too few rows")
                continue
            allowed = max(rel_tol * abs(float(np.mean(y))), policy.z * resid)
            steady = abs(drift) <= allowed
            outcomes.append("yes" if steady else "?")
            parts.append(f"{r.label} {_LOSS_NAMES.get(col, col)} drift {g(drift)} "
                         f"({'steady' if steady else 'drifting'}; allowed {g(allowed)})")
            nums[f"{r.label}/{col}"] = {"drift": drift, "allowed": allowed, "mean": float(np.mean(y))}
    return Verdict(combine(outcomes), "; ".join(parts), nums, runs)


@rule
def ssim_tends_to_one(fig: FigureEvidence, policy: Policy, labels: Sequence[str],
                      threshold: float = 0.95) -> Verdict:
    """For each run, the SSIM of ``tracking/ssim.csv`` averaged over tracks per tracking step; its
    tail (last ``policy.tail`` of the steps) has mean m and sd s.  All m >= threshold -> supported;
    some m + z s < threshold with no rising trend (drift <= z s) -> contradicted; else inconclusive."""
    runs = [fig.run(lab) for lab in labels]
    outcomes, parts, nums = [], [], {}
    for r in runs:
        df = r.require("ssim")
        curve = df.groupby("step", sort=True)["ssim"].mean()
        st = tail_stat(curve.to_numpy(), policy.tail)
        drift, _ = linear_drift(tail_window(curve.to_numpy(), policy.tail),
                                tail_window(curve.index.to_numpy(dtype=float), policy.tail))
        if not math.isfinite(st.mean):
            outcomes.append("?")
            parts.append(f"{r.label}: no usable SSIM")
            continue
        sd = st.sd if math.isfinite(st.sd) else 0.0
        rising = math.isfinite(drift) and drift > policy.z * sd
        if st.mean >= threshold:
            outcomes.append("yes")
        elif st.mean + policy.z * sd < threshold and not rising:
            outcomes.append("no")
        else:
            outcomes.append("?")
        parts.append(f"{r.label} final SSIM {g(st.mean)}±{g(st.sd)}{' (rising)' if rising else ''}")
        nums[r.label] = {"final_ssim": st.mean, "sd": st.sd, "drift": drift}
    return Verdict(combine(outcomes), f"threshold {g(threshold)}: " + "; ".join(parts), nums, runs)


def _kappa(r: RunResult) -> tuple[float, float, float]:
    rate = r.require("rate")
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
    return Verdict(status, "kappa " + "; ".join(parts) + tail,
                   {lab: {"kappa": k, "ci_low": lo, "ci_high": hi} for lab, (k, lo, hi) in ks.items()}, runs)


@rule
def kappa_signs(fig: FigureEvidence, policy: Policy, expected: Mapping[str, str]) -> Verdict:
    """The sign of kappa per label (``"+"`` or ``"-"``), decided by its confidence interval:
    interval above 0 -> "+", below 0 -> "-", containing 0 -> undetermined."""
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
    return Verdict(combine(outcomes), "; ".join(parts), nums, runs)


# --------------------------------------------------------------------------- the scorecard


@dataclass
class Claim:
    id: str
    claim: str
    where: str
    figure: str
    rule: str
    args: dict


@dataclass
class ClaimsSpec:
    policy: Policy
    claims: list[Claim]


def load_claims(path: str | Path) -> ClaimsSpec:
    """Read and check ``config/claims.yaml``: unique ids, known rules, arguments the rule accepts."""
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
        extra = set(c) - set(required) - {"args"}
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
        claims.append(Claim(c["id"], c["claim"], c["where"], c["figure"], c["rule"], dict(args)))
    return ClaimsSpec(policy, claims)


def policy_caveats(runs: Sequence[RunResult], policy: Policy) -> list[str]:
    """Why these runs cannot decide a claim about the paper's setting (empty list: they can)."""
    caveats = []
    standin = sorted({f"{r.summary.get('dataset')} for {r.summary.get('stands_in_for') or r.paper_dataset or '?'}"
                      for r in runs if r.summary and r.is_standin})
    if standin and policy.standin_data == "inconclusive":
        caveats.append("stand-in data (" + "; ".join(standin) + ")")
    iters = [r.iterations for r in runs if r.iterations is not None]
    if iters and min(iters) < policy.min_iterations:
        caveats.append(f"runs of {min(iters)} generator iterations < {policy.min_iterations}")
    return caveats


def apply_policy(verdict: Verdict, policy: Policy) -> tuple[str, str, list[str]]:
    """``(status, evidence, caveats)``: a decided verdict becomes inconclusive when caveats apply."""
    caveats = policy_caveats(verdict.runs, policy)
    if not caveats:
        return verdict.status, verdict.evidence, caveats
    note = f" [at this scale: {'; '.join(caveats)}"
    if verdict.status != "inconclusive":
        note += f"; the numbers alone would say {verdict.status}"
    return "inconclusive", verdict.evidence + note + "]", caveats


def evaluate_claims(spec: ClaimsSpec, figures: Mapping[str, FigureEvidence]) -> list[dict]:
    """Decide every claim; a claim whose evidence is missing is inconclusive (never skipped)."""
    out = []
    for c in spec.claims:
        if c.figure not in figures:
            raise ClaimSpecError(f"claim {c.id}: figure {c.figure!r} is not in the study ({sorted(figures)})")
        fig = figures[c.figure]
        try:
            verdict = RULES[c.rule](fig, spec.policy, **c.args)
        except MissingEvidence as err:
            verdict = Verdict("inconclusive", f"missing evidence: {err}")
        status, evidence, caveats = apply_policy(verdict, spec.policy)
        out.append({
            "id": c.id, "claim": c.claim, "where": c.where, "figure": c.figure, "rule": c.rule,
            "args": c.args, "status": status, "raw_status": verdict.status, "evidence": evidence,
            "caveats": caveats, "numbers": _jsonable(verdict.numbers),
            "runs": [r.run_id for r in verdict.runs],
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
