r"""The convergence-rate fit of section IV-C (figure 22).

For every captured point of every back-and-forward track, with ``eta_theta`` / ``eta_phi`` the
generator / critic updates since the stationary point, ordinary least squares (``statsmodels``)
fits

    log(1 / SSIM) = a + kappa * log(eta_theta + eta_phi)

and reports the slope ``kappa`` with its two-sided 95% confidence interval
``kappa +- t_{0.975, n-2} * se(kappa)``, the intercept ``a`` and ``R^2``.  Points with
``eta_theta + eta_phi = 0`` (the track's start) or ``SSIM <= 0`` (log undefined) are left out
and counted in ``n_dropped``.  SSIM is that of :mod:`sinkgan.metrics.tracking`: by default
between consecutive captures (section III-D), so kappa < 0 means the step-to-step change shrinks.

Whether a line fits at all is judged by the classical lack-of-fit F test, possible because the
tracks capture at the same update counts (replicates at each x): with c distinct x values,
group means ybar_j, n points and RSS the residual sum of squares of the line,

    SS_pe = sum_i (y_i - ybar_{j(i)})^2      (pure error, df n - c)
    SS_lof = RSS - SS_pe                       (lack of fit, df c - 2)
    F = (SS_lof / (c - 2)) / (SS_pe / (n - c)),   p = P(F_{c-2, n-c} > F).

A small p says the points bend away from any line more than the track-to-track scatter allows.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass
class RateFit:
    kappa: float | None
    ci_low: float | None
    ci_high: float | None
    intercept: float | None
    intercept_ci_low: float | None
    intercept_ci_high: float | None
    r2: float | None
    stderr: float | None
    n_points: int
    n_dropped: int
    confidence: float = CONFIDENCE
    unavailable_reason: str | None = None
    lack_of_fit_f: float | None = None
    lack_of_fit_p: float | None = None
    lack_of_fit_df: tuple[int, int] | None = None  #: (c - 2, n - c)
    lack_of_fit_reason: str | None = None  #: why the test is unavailable

    def to_dict(self) -> dict:
        return asdict(self)


def _clean(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def rate_design(eta_theta, eta_phi, ssim) -> tuple[np.ndarray, np.ndarray, int]:
    """``(x, y, n_dropped)`` with ``x = log(eta_theta + eta_phi)``, ``y = log(1 / SSIM)`` over valid points."""
    eta_theta = np.asarray(eta_theta, dtype=float)
    eta_phi = np.asarray(eta_phi, dtype=float)
    ssim = np.asarray(ssim, dtype=float)
    if not (eta_theta.shape == eta_phi.shape == ssim.shape) or eta_theta.ndim != 1:
        raise ValueError(f"fit_rate: eta_theta, eta_phi, ssim must be 1-d of equal length, got shapes "
                         f"{eta_theta.shape}, {eta_phi.shape}, {ssim.shape}")
    if (eta_theta < 0).any() or (eta_phi < 0).any():
        raise ValueError("fit_rate: update counts eta_theta, eta_phi must be >= 0")
    eta = eta_theta + eta_phi
    ok = (eta > 0) & (ssim > 0) & np.isfinite(ssim)
    return np.log(eta[ok]), -np.log(ssim[ok]), int((~ok).sum())


def fit_rate(eta_theta, eta_phi, ssim, confidence: float = CONFIDENCE) -> RateFit:
    r"""OLS of ``log(1/SSIM)`` on ``log(eta_theta + eta_phi)``: slope kappa with its CI, intercept, R^2.

    Fewer than 3 valid points (no degree of freedom for the CI) or a constant regressor give a
    :class:`RateFit` whose numbers are ``None`` and whose ``unavailable_reason`` says why.
    """
    import statsmodels.api as sm

    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence}: must be in (0, 1)")
    x, y, dropped = rate_design(eta_theta, eta_phi, ssim)
    n = int(x.size)
    empty = dict(kappa=None, ci_low=None, ci_high=None, intercept=None, intercept_ci_low=None,
                 intercept_ci_high=None, r2=None, stderr=None, n_points=n, n_dropped=dropped, confidence=confidence)
    if n < 3:
        return RateFit(**empty, unavailable_reason=f"{n} valid points (need >= 3 with eta > 0 and SSIM > 0)")
    if np.ptp(x) == 0:
        return RateFit(**empty, unavailable_reason="log(eta_theta + eta_phi) is constant: slope undefined")
    res = sm.OLS(y, sm.add_constant(x, has_constant="add")).fit()
    ci = np.asarray(res.conf_int(alpha=1 - confidence))
    lof = lack_of_fit(x, y, float(res.ssr))
    return RateFit(
        kappa=_clean(res.params[1]), ci_low=_clean(ci[1, 0]), ci_high=_clean(ci[1, 1]),
        intercept=_clean(res.params[0]), intercept_ci_low=_clean(ci[0, 0]), intercept_ci_high=_clean(ci[0, 1]),
        r2=_clean(res.rsquared), stderr=_clean(res.bse[1]), n_points=n, n_dropped=dropped, confidence=confidence,
        **lof,
    )


def lack_of_fit(x: np.ndarray, y: np.ndarray, rss: float) -> dict:
    """The lack-of-fit F test of a fitted line (module docstring): ``lack_of_fit_{f, p, df, reason}``."""
    from scipy.stats import f as f_dist

    _, group = np.unique(x, return_inverse=True)
    n, c = len(x), int(group.max()) + 1
    out = dict(lack_of_fit_f=None, lack_of_fit_p=None, lack_of_fit_df=None, lack_of_fit_reason=None)
    if c <= 2 or n <= c:
        out["lack_of_fit_reason"] = (f"{c} distinct update counts and {n} points: the test needs > 2 counts "
                                     f"and repeated tracks at them")
        return out
    means = np.bincount(group, weights=y) / np.bincount(group)
    ss_pe = float(np.sum((y - means[group]) ** 2))
    if not ss_pe > 0:
        out["lack_of_fit_reason"] = "the tracks coincide at every update count (no pure error)"
        return out
    df_lof, df_pe = c - 2, n - c
    stat = max(rss - ss_pe, 0.0) / df_lof / (ss_pe / df_pe)
    out.update(lack_of_fit_f=_clean(stat), lack_of_fit_p=_clean(f_dist.sf(stat, df_lof, df_pe)),
               lack_of_fit_df=(df_lof, df_pe))
    return out


def fit_rate_frame(frame) -> RateFit:
    """:func:`fit_rate` on a tracking table with columns ``gen_updates, critic_updates, ssim``."""
    missing = {"gen_updates", "critic_updates", "ssim"} - set(frame.columns)
    if missing:
        raise ValueError(f"fit_rate_frame: table lacks columns {sorted(missing)}")
    return fit_rate(frame["gen_updates"].to_numpy(), frame["critic_updates"].to_numpy(), frame["ssim"].to_numpy())
