"""Sinkhorn losses against independent references (float64 NumPy to convergence, exact OT)."""
import math

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

from sinkgan.sinkhorn import GRADS, VALUES, entropic_ot, ground_cost, sinkhorn_divergence

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


def test_envelope_value_is_not_rounded_by_its_gradient_surrogate():
    """float32, p = 7, eps = 1e-3: the sharp surrogate <pi, C - C^2 / (2 eps)> is ~1e6 times the value;
    adding and subtracting it must leave the value untouched (it used to round it to a multiple of 64)."""
    x, y = (t.float() for t in clouds(n=20, m=16, d=5))
    for value in VALUES:
        kw = dict(eps=1e-3, p=7.0, n_iter=10, value=value)
        assert entropic_ot(x, y, grad="envelope", **kw).item() == pytest.approx(
            entropic_ot(x, y, grad="autodiff", **kw).item(), rel=1e-6)


def authors_sinkhorn_loss(x, y, eps, n_iter, p=2.0, log_offset=1e-8):
    """Independent transcription of the authors' Sinkhorn loss (paper-map.md), called loss(real, fake).

    Cost sum_k |a_k - b_k|^p; log-domain Sinkhorn on (u, v) with weights log(mu + 1e-8), the
    iterations under no_grad; returns <pi, C> with pi = exp((u + v - C) / eps) from the final
    potentials, differentiated through C only.  (Their loop also stops early on a tolerance;
    here it runs n_iter iterations, as the n_iter deviation row records.)
    """
    C = (x[:, None] - y[None]).abs().pow(p).sum(-1)
    n, m = C.shape
    mu, nu = torch.full((n,), 1 / n, dtype=x.dtype), torch.full((m,), 1 / m, dtype=x.dtype)
    M = lambda u, v: (-C + u[:, None] + v[None, :]) / eps  # noqa: E731
    with torch.no_grad():
        u, v = torch.zeros(n, dtype=x.dtype), torch.zeros(m, dtype=x.dtype)
        for _ in range(n_iter):
            u = eps * (torch.log(mu + log_offset) - torch.logsumexp(M(u, v), dim=1)) + u
            v = eps * (torch.log(nu + log_offset) - torch.logsumexp(M(u, v).T, dim=1)) + v
    return (torch.exp(M(u, v)) * C).sum()


def _value_and_grads(loss, a, b):
    a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
    value = loss(a, b)
    return (value.detach(), *torch.autograd.grad(value, (a, b)))


@pytest.mark.parametrize("p", [2.0, 3.0])
def test_authors_loss_is_lp_envelope_sharp_in_their_argument_order(p):
    """cost="lp", grad="envelope", value="sharp" called as (real, fake) is the authors' loss:
    exactly (1e-10) without their 1e-8 in log(mu + 1e-8), to ~1e-6 with it; the text's order
    (fake, real) is not (with L = 10 the iterations have not converged, so W is not symmetric)."""
    real, fake = clouds(n=8, m=8, d=4)
    eps, L = 0.5, 10
    ours = lambda a, b: entropic_ot(a, b, eps, p=p, n_iter=L, cost="lp", grad="envelope", value="sharp")  # noqa: E731
    for offset, rel in ((0.0, 1e-10), (1e-8, 1e-6)):
        theirs = _value_and_grads(lambda a, b: authors_sinkhorn_loss(a, b, eps, L, p, offset), real, fake)
        mine = _value_and_grads(ours, real, fake)
        for t, o in zip(theirs, mine):
            assert torch.allclose(o, t, rtol=rel, atol=rel * t.abs().max().item())
    swapped = _value_and_grads(lambda a, b: ours(b, a), real, fake)
    assert not torch.allclose(swapped[2], theirs[2], rtol=0.05)  # gradient for the fake features


def test_envelope_gradient_is_exact_at_convergence_only_for_the_dual_value():
    """At converged potentials (many iterations) grad="envelope" with value="dual" is the gradient
    of W_eps (autodiff through the iterations); the authors' sharp gradient pi (1 - C / eps) is the
    gradient of neither W_eps nor <pi*, C>, and points against both once C / eps is about 1 or more."""
    x, y = clouds(n=6, m=5, d=3)
    eps = 1.0
    assert ground_cost(x, y).mean() > eps
    grad = lambda g, v: _value_and_grads(  # noqa: E731
        lambda a, b: entropic_ot(a, b, eps, n_iter=300, grad=g, value=v), x, y)[1]
    true_dual, true_sharp = grad("autodiff", "dual"), grad("autodiff", "sharp")
    assert torch.allclose(grad("envelope", "dual"), true_dual, rtol=1e-9, atol=1e-12)
    authors = grad("envelope", "sharp")
    cos = lambda u, v: torch.nn.functional.cosine_similarity(u.flatten(), v.flatten(), dim=0)  # noqa: E731
    assert cos(authors, true_sharp) < 0 and cos(authors, true_dual) < 0


def mp_entropic_ot(x, y, eps, n_iter, dps=50):
    """The n_iter-th Sinkhorn iterate for c = ||a - b||^2 in 50-digit mpmath: (dual, sharp), free of float roundoff."""
    import mpmath

    with mpmath.workdps(dps):
        X, Y = ([[mpmath.mpf(float(v)) for v in row] for row in t.tolist()] for t in (x, y))
        C = [[sum((a - b) ** 2 for a, b in zip(xi, yj)) for yj in Y] for xi in X]
        n, m, e = len(X), len(Y), mpmath.mpf(eps)
        f, g = [mpmath.mpf(0)] * n, [mpmath.mpf(0)] * m
        for _ in range(n_iter):
            f = [-e * mpmath.log(mpmath.fsum(mpmath.exp((g[j] - C[i][j]) / e) for j in range(m)) / m) for i in range(n)]
            g = [-e * mpmath.log(mpmath.fsum(mpmath.exp((f[i] - C[i][j]) / e) for i in range(n)) / n) for j in range(m)]
        dual = mpmath.fsum(f) / n + mpmath.fsum(g) / m
        sharp = mpmath.fsum(mpmath.exp((f[i] + g[j] - C[i][j]) / e) * C[i][j] for i in range(n) for j in range(m)) / (n * m)
        return float(dual), float(sharp)


@pytest.mark.parametrize("scale, eps", [(1.0, 1.0), (1e-3, 1.0), (1e-5, 1.0), (1.0, 1e3), (1.0, 1e6), (1.0, 1e12)])
def test_float32_value_is_accurate_for_tiny_costs_and_huge_eps(scale, eps):
    """W_eps and S_eps in float32 match a 50-digit reference when C / eps is tiny: the features of a
    weight-clipped critic (scale 1e-5), or eps up to 1e12 with costs of order 1 (the textbook
    log-sum-exp loses everything below u * eps there, and the loss came out exactly 0)."""
    x, y = clouds(n=6, m=5, d=3)
    x, y = (scale * x).float(), (scale * y).float()
    L = 10
    ref = {pair: mp_entropic_ot(a, b, eps, L) for pair, (a, b) in {"xy": (x, y), "xx": (x, x), "yy": (y, y)}.items()}
    for k, value in enumerate(("dual", "sharp")):
        w = ref["xy"][k]
        s = w - (ref["xx"][k] + ref["yy"][k]) / 2
        for dtype, rel in ((torch.float32, 1e-4), (torch.float64, 1e-9)):
            a, b = x.to(dtype), y.to(dtype)
            for grad in GRADS:
                kw = dict(eps=eps, n_iter=L, grad=grad, value=value)
                assert entropic_ot(a, b, **kw).item() == pytest.approx(w, rel=rel)
                assert sinkhorn_divergence(a, b, **kw).item() == pytest.approx(s, rel=rel)
    if eps >= 1e12:  # the product-plan limit, another check: W -> mean C as eps -> inf
        assert entropic_ot(x, y, eps, n_iter=L).item() == pytest.approx(ground_cost(x, y).double().mean().item(), rel=1e-6)


@pytest.mark.parametrize("grad", GRADS)
@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("scale, eps", [(1e-5, 1.0), (1.0, 1e6)])
def test_float32_gradient_matches_float64_for_tiny_costs(grad, value, scale, eps):
    x, y = clouds(n=6, m=5, d=3)
    x, y = scale * x, scale * y
    loss = lambda a, b: sinkhorn_divergence(a, b, eps, n_iter=10, grad=grad, value=value)  # noqa: E731
    _, g64, _ = _value_and_grads(loss, x, y)
    _, g32, _ = _value_and_grads(loss, x.float(), y.float())
    assert torch.nn.functional.cosine_similarity(g32.double().flatten(), g64.flatten(), dim=0) > 0.9999
    assert torch.allclose(g32.double(), g64, rtol=1e-3, atol=1e-3 * g64.abs().max().item())


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
    with pytest.raises(ValueError, match=r"eps=1e\+38 cannot be represented in torch.float32"):
        entropic_ot(x.float(), y.float(), 1e38)  # C / eps would underflow: a loss of 0, refused
    assert math.isfinite(entropic_ot(x, y, 1.0).item())


@pytest.mark.parametrize("p, cost", [(2.0, "euclidean"), (2.0, "lp"), (3.0, "euclidean"), (5.0, "euclidean")])
def test_large_problems_use_the_expansion_with_the_same_values_and_gradients(monkeypatch, p, cost):
    """Above EXPANSION_MIN_ELEMENTS (n * m * d) the squared distances of p >= 2 come from
    |a|^2 + |b|^2 - 2 a.b (no (n, m, d) tensor): the same S_eps and gradients as the differences
    (float64, 1e-9), and the threshold is where the (n, m, d) tensor would pass 64 MiB in float32."""
    from sinkgan import sinkhorn as S

    assert S.EXPANSION_MIN_ELEMENTS * 4 == 64 * 2**20
    x, y = clouds(n=12, m=9, d=4)
    kw = dict(eps=0.5, p=p, n_iter=10, cost=cost)
    want = _value_and_grads(lambda a, b: sinkhorn_divergence(a, b, **kw), x, y)
    monkeypatch.setattr(S, "EXPANSION_MIN_ELEMENTS", 1)  # every problem counts as large
    got = _value_and_grads(lambda a, b: sinkhorn_divergence(a, b, **kw), x, y)
    for g, w in zip(got, want):
        assert torch.allclose(g, w, rtol=1e-9, atol=1e-12)
    # the expansion is really taken: its rounding differs from the differences' in the last bits
    monkeypatch.setattr(S, "EXPANSION_MIN_ELEMENTS", 1 << 24)
    a = torch.randn(300, 64, dtype=torch.float64) + 3.0
    explicit = S.squared_distances(a, a)
    monkeypatch.setattr(S, "EXPANSION_MIN_ELEMENTS", 1)
    expanded = S.squared_distances(a, a)
    assert torch.equal(explicit.diagonal(), torch.zeros(300, dtype=torch.float64))
    assert not torch.equal(expanded, explicit) and torch.allclose(expanded, explicit, rtol=0, atol=1e-10)
