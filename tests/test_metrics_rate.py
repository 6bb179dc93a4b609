"""The kappa regression log(1/SSIM) = a + kappa log(eta_theta + eta_phi) (sinkgan.metrics.rate)."""
import numpy as np
import pandas as pd
import pytest

from sinkgan.metrics.rate import fit_rate, fit_rate_frame


def _power_law(kappa, a, n_critic=10, tracks=3, points=40, noise=0.05, seed=0):
    """Synthetic tracks with SSIM = exp(-(a + kappa log(eta) + noise)), eta = (1 + n_critic) eta_theta."""
    rng = np.random.default_rng(seed)
    eta_theta = np.tile(np.arange(0, points + 1), tracks)
    eta_phi = n_critic * eta_theta
    x = np.log(np.maximum(eta_theta + eta_phi, 1))
    y = a + kappa * x + rng.normal(0, noise, x.size)
    return eta_theta, eta_phi, np.exp(-y)


@pytest.mark.parametrize("kappa,a,seed", [(-0.7, 0.3, 0), (0.4, -3.0, 1), (1.5, -8.0, 2)])
def test_fit_recovers_known_slope_within_ci(kappa, a, seed):
    fit = fit_rate(*_power_law(kappa, a, seed=seed))
    assert fit.ci_low < kappa < fit.ci_high
    assert fit.ci_low < fit.kappa < fit.ci_high
    assert fit.intercept_ci_low < a < fit.intercept_ci_high
    assert fit.r2 > 0.9
    assert fit.n_dropped == 3  # the three track starts (eta = 0)
    assert fit.n_points == 3 * 40
    assert fit.unavailable_reason is None


def test_ci_widens_with_noise():
    narrow = fit_rate(*_power_law(0.5, -2.0, noise=0.01, seed=3))
    wide = fit_rate(*_power_law(0.5, -2.0, noise=0.2, seed=3))
    assert (wide.ci_high - wide.ci_low) > (narrow.ci_high - narrow.ci_low)


def test_non_positive_ssim_is_dropped_and_counted():
    et, ep, s = _power_law(0.5, -2.0, tracks=1)
    s = s.copy()
    s[5] = 0.0
    s[6] = -0.2
    fit = fit_rate(et, ep, s)
    assert fit.n_dropped == 3 and fit.n_points == 38


def test_too_few_points_is_unavailable_not_a_number():
    fit = fit_rate([0, 1, 2], [0, 10, 20], [1.0, 0.9, 0.8])
    assert fit.kappa is None and fit.ci_low is None
    assert "need >= 3" in fit.unavailable_reason
    flat = fit_rate([1, 1, 1], [10, 10, 10], [0.9, 0.8, 0.7])
    assert flat.kappa is None and "constant" in flat.unavailable_reason


def test_fit_from_frame_and_input_errors():
    et, ep, s = _power_law(0.2, -1.0, tracks=1)
    frame = pd.DataFrame({"gen_updates": et, "critic_updates": ep, "ssim": s})
    assert fit_rate_frame(frame).kappa == pytest.approx(fit_rate(et, ep, s).kappa)
    with pytest.raises(ValueError, match="lacks columns"):
        fit_rate_frame(frame.drop(columns="ssim"))
    with pytest.raises(ValueError, match=">= 0"):
        fit_rate([-1, 2, 3], [1, 2, 3], [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="equal length"):
        fit_rate([1, 2], [1, 2, 3], [0.5, 0.5, 0.5])


def test_lack_of_fit_accepts_a_line_and_rejects_a_curve():
    et, ep, s = _power_law(0.5, -2.0, noise=0.05, seed=4)
    line = fit_rate(et, ep, s)
    assert line.lack_of_fit_df == (40 - 2, 3 * 40 - 40)  # c = 40 update counts, 3 tracks each
    assert line.lack_of_fit_p > 0.01
    x = np.log(np.maximum(et + ep, 1))
    bent = s * np.exp(-0.3 * (x - x.mean()) ** 2)  # log(1/SSIM) gains a quadratic term in x, same noise
    curve = fit_rate(et, ep, bent)
    assert curve.lack_of_fit_p < 1e-6 and curve.lack_of_fit_f > line.lack_of_fit_f


def test_lack_of_fit_needs_replicated_tracks():
    single = fit_rate(*_power_law(0.5, -2.0, tracks=1))
    assert single.kappa is not None and single.lack_of_fit_p is None
    assert "repeated tracks" in single.lack_of_fit_reason
