"""sinkgan.sinkhorn at convergence agrees with two independent implementations, POT and GeomLoss,
on small float64 point clouds (the pinned POT and geomloss are used only here, as test oracles).

* POT ``ot.sinkhorn2(a, b, C, eps)`` returns ``<pi, C>`` of the entropic plan: our ``value="sharp"``;
  ``ot.solve(C, a, b, reg=eps)`` returns the entropic value ``<pi, C> + eps KL(pi | a x b)``, which at
  convergence is the dual ``<f, a> + <g, b>``: our ``value="dual"`` (eq. 3-4).
* GeomLoss ``SamplesLoss("sinkhorn", cost=C, blur=eps, debias=False/True)`` (``p = 1`` so that its
  ``eps = blur^p = blur``) is that dual value, and with ``debias=True`` the Sinkhorn divergence
  ``S_eps(x, y) = W(x, y) - (W(x, x) + W(y, y)) / 2`` (eq. 5).
"""
from __future__ import annotations

import pytest
import torch

from sinkgan.sinkhorn import entropic_ot, ground_cost, sinkhorn_divergence

ot = pytest.importorskip("ot")
geomloss = pytest.importorskip("geomloss")

N_ITER = 2000  # far past convergence for these sizes and eps


def clouds(seed: int, n: int = 7, m: int = 5, d: int = 3):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(m, d, generator=g, dtype=torch.float64)


def uniform(k: int) -> torch.Tensor:
    return torch.full((k,), 1.0 / k, dtype=torch.float64)


@pytest.mark.parametrize("eps, p", [(0.5, 2.0), (1.0, 2.0), (2.0, 1.5), (0.3, 3.0)])
def test_entropic_ot_matches_pot(eps, p):
    x, y = clouds(int(eps * 10 + p))
    C = ground_cost(x, y, p)
    a, b = uniform(len(x)), uniform(len(y))
    sharp = entropic_ot(x, y, eps, p, n_iter=N_ITER, value="sharp")
    dual = entropic_ot(x, y, eps, p, n_iter=N_ITER, value="dual")
    pot_sharp = ot.sinkhorn2(a, b, C, eps, method="sinkhorn_log", numItermax=100000, stopThr=1e-14)
    pot_dual = ot.solve(C, a, b, reg=eps, max_iter=100000, tol=1e-14).value
    assert float(sharp) == pytest.approx(float(pot_sharp), rel=1e-9, abs=1e-12)
    assert float(dual) == pytest.approx(float(pot_dual), rel=1e-9, abs=1e-12)


def _geomloss_cost(p: float):
    """GeomLoss's batched cost callable: our ground cost ||x - y||^p (eq. 20)."""
    return lambda u, v: ground_cost(u, v, p)


@pytest.mark.parametrize("eps, p", [(0.5, 2.0), (1.0, 2.0), (2.0, 1.5)])
def test_sinkhorn_divergence_and_dual_match_geomloss(eps, p):
    x, y = clouds(int(eps * 100 + p))
    kw = dict(loss="sinkhorn", p=1, blur=eps, cost=_geomloss_cost(p), scaling=0.999, backend="tensorized")
    dual = geomloss.SamplesLoss(debias=False, **kw)(x, y)
    div = geomloss.SamplesLoss(debias=True, **kw)(x, y)
    # GeomLoss anneals eps down to its target (scaling 0.999) and stops there without iterating to
    # convergence: it agrees to about 1e-6 relative, POT (run to tol 1e-14) to 1e-9.
    assert float(entropic_ot(x, y, eps, p, n_iter=N_ITER)) == pytest.approx(float(dual), rel=2e-5)
    assert float(sinkhorn_divergence(x, y, eps, p, n_iter=N_ITER)) == pytest.approx(float(div), rel=2e-5)
