"""Sinkhorn losses against independent references (float64 NumPy to convergence, exact OT)."""
import math

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

from sinkgan.sinkhorn import entropic_ot, ground_cost, sinkhorn_divergence

torch.manual_seed(0)


def reference_entropic_ot(x, y, eps, p=2.0, cost="euclidean", tol=1e-13, max_iter=200000):
    """Plain float64 NumPy log-domain Sinkhorn run to convergence; returns (dual, sharp)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    diff = x[:, None, :] - y[None, :, :]
    C = (np.abs(diff) ** p).sum(-1) if cost == "lp" else np.sqrt((diff**2).sum(-1)) ** p
    n, m = C.shape
    la, lb = np.full(n, -np.log(n)), np.full(m, -np.log(m))
    f, g = np.zeros(n), np.zeros(m)
    for _ in range(max_iter):
        f_new = -eps * logsumexp(lb[None, :] + (g[None, :] - C) / eps, axis=1)
        g_new = -eps * logsumexp(la[:, None] + (f_new[:, None] - C) / eps, axis=0)
        done = max(np.abs(f_new - f).max(), np.abs(g_new - g).max()) < tol
        f, g = f_new, g_new
        if done:
            break
    P = np.exp((f[:, None] + g[None, :] - C) / eps + la[:, None] + lb[None, :])
    return f.mean() + g.mean(), (P * C).sum()


def clouds(n=12, m=9, d=4, dtype=torch.float64, shift=0.7):
    return torch.randn(n, d, dtype=dtype), torch.randn(m, d, dtype=dtype) + shift


@pytest.mark.parametrize("cost", ["euclidean", "lp"])
@pytest.mark.parametrize("p", [1.0, 2.0, 2.15, 3.0])
@pytest.mark.parametrize("eps", [0.5, 2.0])
def test_matches_float64_reference_at_convergence(cost, p, eps):
    x, y = clouds()
    dual_ref, sharp_ref = reference_entropic_ot(x.numpy(), y.numpy(), eps, p, cost)
    kw = dict(eps=eps, p=p, n_iter=4000, cost=cost)
    assert entropic_ot(x, y, value="dual", **kw).item() == pytest.approx(dual_ref, rel=1e-8, abs=1e-10)
    assert entropic_ot(x, y, value="sharp", **kw).item() == pytest.approx(sharp_ref, rel=1e-8, abs=1e-10)


def test_truncated_iterations_match_reference_iterates():
    """With L = 10 the value is the L-th Sinkhorn iterate, not the converged one."""
    x, y = clouds()
    C = ground_cost(x, y).numpy()
    n, m = C.shape
    f, g = np.zeros(n), np.zeros(m)
    for _ in range(10):
        f = -1.0 * logsumexp(-np.log(m) + (g[None, :] - C), axis=1)
        g = -1.0 * logsumexp(-np.log(n) + (f[:, None] - C), axis=0)
    assert entropic_ot(x, y, 1.0, n_iter=10).item() == pytest.approx(f.mean() + g.mean(), rel=1e-12)


def test_tends_to_exact_optimal_transport_as_eps_to_zero():
    """n = m uniform: OT is an assignment problem (scipy linear_sum_assignment)."""
    x, y = clouds(n=10, m=10, d=3)
    C = ground_cost(x, y).numpy()
    rows, cols = linear_sum_assignment(C)
    exact = C[rows, cols].mean()
    errors = []
    for eps in (0.1, 0.01, 0.002):
        w = entropic_ot(x, y, eps, n_iter=20000, value="sharp").item()
        errors.append(abs(w - exact))
    assert errors[-1] < 1e-2 * exact
    assert errors[0] > errors[-1]


def test_divergence_is_zero_on_identical_inputs_and_symmetric():
    x, y = clouds()
    for n_iter in (1, 10):
        assert sinkhorn_divergence(x, x, 1.0, n_iter=n_iter).item() == 0.0
    s_xy = sinkhorn_divergence(x, y, 0.5, n_iter=2000).item()
    s_yx = sinkhorn_divergence(y, x, 0.5, n_iter=2000).item()
    assert s_xy == pytest.approx(s_yx, rel=1e-10)
    assert s_xy > 0


def test_ground_cost_formulas():
    x, y = clouds(n=5, m=6, d=3)
    eu = ground_cost(x, y, p=3.0, cost="euclidean")
    lp = ground_cost(x, y, p=3.0, cost="lp")
    assert torch.allclose(eu, torch.cdist(x, y) ** 3)
    assert torch.allclose(lp, (x[:, None] - y[None]).abs().pow(3).sum(-1))
    assert torch.equal(ground_cost(y, x, p=2.15), ground_cost(x, y, p=2.15).T)


def test_batched_equals_loop():
    xs, ys = torch.randn(3, 7, 4, dtype=torch.float64), torch.randn(3, 5, 4, dtype=torch.float64)
    batched = sinkhorn_divergence(xs, ys, 0.3, p=2.1)
    looped = torch.stack([sinkhorn_divergence(a, b, 0.3, p=2.1) for a, b in zip(xs, ys)])
    assert torch.allclose(batched, looped, rtol=1e-12)


@pytest.mark.parametrize("value", ["dual", "sharp"])
def test_autodiff_gradcheck(value):
    x, y = clouds(n=5, m=4, d=3)
    x.requires_grad_(), y.requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: sinkhorn_divergence(a, b, 0.5, p=2.5, value=value), (x, y))
    assert torch.autograd.gradcheck(lambda a, b: entropic_ot(a, b, 0.7, p=2.0, n_iter=5, value=value, cost="lp"), (x, y))


def test_autodiff_is_twice_differentiable():
    x, y = clouds(n=4, m=4, d=2)
    x.requires_grad_()
    assert torch.autograd.gradgradcheck(lambda a: sinkhorn_divergence(a, y, 0.5, n_iter=5), (x,))


def test_envelope_dual_gradcheck_at_convergence():
    """At convergence the envelope gradient is the exact gradient of the dual value."""
    x, y = clouds(n=5, m=4, d=3)
    x.requires_grad_(), y.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, b: sinkhorn_divergence(a, b, 0.5, p=2.5, n_iter=400, grad="envelope"), (x, y)
    )


def test_envelope_value_equals_autodiff_value():
    x, y = clouds()
    for value in ("dual", "sharp"):
        a = entropic_ot(x, y, 0.4, n_iter=10, grad="autodiff", value=value)
        b = entropic_ot(x, y, 0.4, n_iter=10, grad="envelope", value=value)
        assert a.item() == pytest.approx(b.item(), rel=1e-12)


def test_envelope_sharp_gradient_is_the_authors_formula():
    """Authors' code: potentials frozen (no_grad), gradient of <pi(C), C> through C only."""
    x, y = clouds(n=6, m=5, d=3)
    x.requires_grad_()
    eps = 0.5
    entropic_ot(x, y, eps, n_iter=10, grad="envelope", value="sharp").backward()
    ours = x.grad.clone()
    x.grad = None
    # independent re-implementation of the authors' estimator (u, v iterations under no_grad)
    C = ((x[:, None] - y[None]).abs() ** 2).sum(-1)
    mu, nu = torch.full((6,), 1 / 6, dtype=x.dtype), torch.full((5,), 1 / 5, dtype=x.dtype)
    u, v = torch.zeros(6, dtype=x.dtype), torch.zeros(5, dtype=x.dtype)
    M = lambda u, v: (-C + u[:, None] + v[None, :]) / eps  # noqa: E731
    with torch.no_grad():
        for _ in range(10):
            u = eps * (mu.log() - torch.logsumexp(M(u, v), -1)) + u
            v = eps * (nu.log() - torch.logsumexp(M(u, v).T, -1)) + v
    (torch.exp(M(u, v)) * C).sum().backward()
    assert torch.allclose(ours, x.grad, rtol=1e-10)


@pytest.mark.parametrize("grad", ["autodiff", "envelope"])
@pytest.mark.parametrize("eps", [1e-3, 1e-2, 1.0, 10.0])
@pytest.mark.parametrize("p", [1.0, 2.0, 5.0, 7.0])
def test_float32_stays_finite_on_feature_scale_inputs(grad, eps, p):
    """Discriminator features (m = 100, critic_dim = 100, O(1) entries) in float32."""
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(100, 100, generator=gen).requires_grad_()
    b = torch.randn(100, 100, generator=gen) + 0.5
    s = sinkhorn_divergence(a, b, eps, p=p, grad=grad)
    s.backward()
    assert torch.isfinite(s) and torch.isfinite(a.grad).all()


def test_bad_arguments_are_refused():
    x, y = clouds()
    with pytest.raises(ValueError, match="eps"):
        entropic_ot(x, y, 0.0)
    with pytest.raises(ValueError, match="n_iter"):
        entropic_ot(x, y, 1.0, n_iter=0)
    with pytest.raises(ValueError, match="cost"):
        entropic_ot(x, y, 1.0, cost="cosine")
    with pytest.raises(ValueError, match="grad"):
        entropic_ot(x, y, 1.0, grad="implicit")
    with pytest.raises(ValueError, match="p="):
        ground_cost(x, y, p=-1)
    assert math.isfinite(entropic_ot(x, y, 1.0).item())
