"""The fused Triton backend computes the same values and gradients as the torch path.

Runs the kernels in Triton's CPU interpreter (tiny shapes: it executes them in numpy).
Tolerances: float64 agrees with the torch path to 1e-9 relative (the same algorithm, different
summation order); in float32 the fused error against a float64 reference is at most
10 x the torch path's float32 error + 1e-5 (the kernels raise t^p as exp(p log t)), and the
values meet the torch path's bar against a 50-digit reference where C / eps is tiny.
"""
import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is first imported
import pytest  # noqa: E402

pytest.importorskip("triton")
from sinkgan import sinkhorn_fused  # noqa: E402
from sinkgan.sinkhorn import ground_cost, entropic_ot, sinkhorn_divergence, use_fused  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
COMBOS = [(grad, value) for grad in ("autodiff", "envelope") for value in ("dual", "sharp")]


def points(*shape, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype=dtype, device=DEVICE)


def value_and_grads(fn, x, y, **kw):
    x, y = x.clone().requires_grad_(), y.clone().requires_grad_()
    v = fn(x, y, **kw)
    gx, gy = torch.autograd.grad(v.sum(), (x, y))
    return [t.detach().double().cpu() for t in (v, gx, gy)]


def rel_err(a, ref):
    return max(((u - r).abs().max() / r.abs().max().clamp_min(1e-12)).item() for u, r in zip(a, ref))


def test_interpreter_is_active_on_a_cpu_machine():
    assert sinkhorn_fused.unsupported(points(3, 2), points(4, 2)) is None


@pytest.mark.parametrize("cost", ["euclidean", "lp"])
@pytest.mark.parametrize("p", [1.0, 2.0, 2.15, 5.0])
@pytest.mark.parametrize("eps", [1e-3, 1.0, 10.0])
def test_float64_values_and_gradients_equal_the_torch_path(cost, p, eps):
    x, y = points(7, 3, seed=1), points(5, 3, seed=2)  # n != m, neither a power of two
    for grad, value in COMBOS:
        kw = dict(eps=eps, p=p, n_iter=4, grad=grad, value=value, cost=cost)
        ref = value_and_grads(entropic_ot, x, y, **kw)
        fused = value_and_grads(entropic_ot, x, y, backend="fused", **kw)
        assert rel_err(fused, ref) < 1e-9, (grad, value)


@pytest.mark.parametrize("cost", ["euclidean", "lp"])
@pytest.mark.parametrize("p", [1.0, 2.0, 2.15, 5.0])
@pytest.mark.parametrize("eps", [1e-3, 0.1, 10.0])
def test_float32_is_as_accurate_as_the_torch_path(cost, p, eps):
    """The kernels centre each soft minimum as sinkhorn.softmin does, so their float32 error is of
    the torch path's order even where max C / eps is large (here up to about 1e7: the classical
    log-sum-exp of (g - C) / eps, what the kernels evaluated before, is off by about
    2^-24 max C / eps there)."""
    x, y = points(6, 4, seed=3), points(9, 4, seed=4)
    for grad, value in COMBOS:
        kw = dict(eps=eps, p=p, n_iter=5, grad=grad, value=value, cost=cost)
        ref = value_and_grads(entropic_ot, x, y, **kw)
        torch32 = value_and_grads(entropic_ot, x.float(), y.float(), **kw)
        fused32 = value_and_grads(entropic_ot, x.float(), y.float(), backend="fused", **kw)
        assert rel_err(fused32, ref) <= 10 * rel_err(torch32, ref) + 1e-5, (grad, value)


@pytest.mark.parametrize("scale, eps", [(1.0, 1.0), (1e-3, 1.0), (1e-5, 1.0), (1.0, 1e3), (1.0, 1e6)])
def test_float32_value_is_accurate_for_tiny_costs_and_huge_eps(scale, eps):
    """The bar the torch path meets (test_sinkhorn.py): W_eps and S_eps in float32 within 1e-4 of a
    50-digit reference for a weight-clipped critic's feature scale (1e-5) and eps up to 1e6 with
    costs of order 1, where a classical log-sum-exp returns 0 or noise."""
    from test_sinkhorn import clouds, mp_entropic_ot

    x, y = clouds(n=6, m=5, d=3)
    x, y = (scale * x).float().to(DEVICE), (scale * y).float().to(DEVICE)
    L = 10
    ref = {pair: mp_entropic_ot(a.cpu(), b.cpu(), eps, L) for pair, (a, b) in {"xy": (x, y), "xx": (x, x), "yy": (y, y)}.items()}
    for k, value in enumerate(("dual", "sharp")):
        w = ref["xy"][k]
        s = w - (ref["xx"][k] + ref["yy"][k]) / 2
        for grad in ("autodiff", "envelope"):
            kw = dict(eps=eps, n_iter=L, grad=grad, value=value, backend="fused")
            assert entropic_ot(x, y, **kw).item() == pytest.approx(w, rel=1e-4), (value, grad)
            assert sinkhorn_divergence(x, y, **kw).item() == pytest.approx(s, rel=1e-4), (value, grad)


@pytest.mark.parametrize("scale, eps", [(1e-5, 1.0), (1.0, 1e6)])
def test_float32_gradient_matches_float64_for_tiny_costs(scale, eps):
    x, y = points(6, 3, seed=9, dtype=torch.float64) * scale, points(5, 3, seed=10, dtype=torch.float64) * scale
    for grad, value in COMBOS:
        kw = dict(eps=eps, n_iter=10, grad=grad, value=value)
        _, g64, _ = value_and_grads(sinkhorn_divergence, x, y, **kw)
        _, g32, _ = value_and_grads(sinkhorn_divergence, x.float(), y.float(), backend="fused", **kw)
        assert torch.nn.functional.cosine_similarity(g32.flatten(), g64.flatten(), dim=0) > 0.9999, (grad, value)
        assert torch.allclose(g32, g64, rtol=1e-3, atol=1e-3 * g64.abs().max().item()), (grad, value)


@pytest.mark.parametrize("same_size", [True, False])
def test_divergence_batched_and_unbatched(same_size):
    """S_eps (eq. 5): one stacked launch when n = m, three otherwise; batches of problems."""
    m = 5 if same_size else 3
    x, y = points(2, 5, 8, seed=5), points(2, m, 8, seed=6)
    kw = dict(eps=0.5, p=2.15, n_iter=6)
    ref = value_and_grads(sinkhorn_divergence, x, y, **kw)
    assert rel_err(value_and_grads(sinkhorn_divergence, x, y, backend="fused", **kw), ref) < 1e-9
    ref0 = value_and_grads(sinkhorn_divergence, x[1], y[1], **kw)
    assert rel_err(value_and_grads(sinkhorn_divergence, x[1], y[1], backend="fused", **kw), ref0) < 1e-9


def test_single_point_and_many_iterations():
    x, y = points(1, 2, seed=7), points(16, 2, seed=8)
    kw = dict(eps=0.05, p=2.0, n_iter=40)
    assert rel_err(value_and_grads(entropic_ot, x, y, backend="fused", **kw), value_and_grads(entropic_ot, x, y, **kw)) < 1e-9


def test_auto_uses_the_fused_kernels_only_on_cuda():
    x = points(4, 2)
    assert use_fused("auto", x, x) is (DEVICE == "cuda")
    assert use_fused("fused", x, x) is True and use_fused("torch", x, x) is False
    big = points(sinkhorn_fused.MAX_POINTS + 1, 2)
    assert use_fused("auto", big, big) is False  # too large for one tile: torch


def test_bad_backend_and_unsupported_inputs_are_refused():
    x = points(4, 2)
    with pytest.raises(ValueError, match="backend"):
        entropic_ot(x, x, eps=1.0, backend="cuda")
    big = points(sinkhorn_fused.MAX_POINTS + 1, 2)
    with pytest.raises(ValueError, match=r"n and m must be in \[1, 128\]"):
        entropic_ot(big, x, eps=1.0, backend="fused")
    with pytest.raises(ValueError, match="dtype"):
        entropic_ot(x.half(), x.half(), eps=1.0, backend="fused")
    with pytest.raises(ValueError, match="p=-1"):
        sinkhorn_divergence(x, x, eps=1.0, p=-1.0, backend="fused")
    with pytest.raises(ValueError, match="eps=0"):
        sinkhorn_divergence(x, x, eps=0.0, backend="fused")
