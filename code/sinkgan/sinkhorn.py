r"""Entropic optimal transport and the Sinkhorn divergence, log-domain and batched.

Notation follows the paper (Sinkhorn divergence GANs trained with sequential SGDA,
IEEE Access 2021).  For point clouds ``x`` (n, d) and ``y`` (m, d) with uniform weights
``a = 1/n``, ``b = 1/m`` and a ground cost matrix ``C_ij = c(x_i, y_j)``:

* entropic OT (eq. 3-4), computed by ``L`` log-domain Sinkhorn iterations from zero
  potentials (Gauss-Seidel order: ``f`` then ``g``, as in Algorithm 1 and the authors' code)::

      f_i <- -eps * log sum_j b_j exp((g_j - C_ij) / eps)
      g_j <- -eps * log sum_i a_i exp((f_i - C_ij) / eps)

  each evaluated by :func:`softmin` to the roundoff of ``C``, not of ``eps``, so that the value
  stays accurate in float32 when ``C / eps`` is tiny (weight-clipped critic features, huge eps)

  ``value="dual"``  : W_eps = <f, a> + <g, b>
  ``value="sharp"`` : W_eps = <pi, C>,  pi_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)
  (evaluated stably as ``b_j softmax_i((f_i - C_ij) / eps)``, see :func:`transport_plan`)

* the Sinkhorn divergence (eq. 5)::

      S_eps(x, y) = W_eps(x, y) - (W_eps(x, x) + W_eps(y, y)) / 2

Every function accepts an optional leading batch dimension: ``x`` (B, n, d), ``y`` (B, m, d)
gives a (B,) result.  All shapes are static and nothing reads a value back to the host,
so the functions can be captured in CUDA graphs.
"""
from __future__ import annotations

import torch

COSTS = ("euclidean", "lp")
GRADS = ("autodiff", "envelope")
VALUES = ("dual", "sharp")
BACKENDS = ("torch", "fused", "auto")


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {allowed}")


def use_fused(backend: str, x: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether ``backend`` runs :mod:`sinkgan.sinkhorn_fused` on ``(x, y)``.

    ``"torch"``: never.  ``"fused"``: always (a clear error if Triton is missing or the shapes
    are not supported).  ``"auto"``: on CUDA tensors when Triton is importable and the problem
    fits the fused kernels; otherwise torch (so CPU runs are unchanged).
    """
    _check("backend", backend, BACKENDS)
    if backend == "torch" or (backend == "auto" and x.device.type != "cuda"):
        return False
    import importlib.util

    if importlib.util.find_spec("triton") is None:
        if backend == "fused":
            raise ValueError("backend='fused' needs the triton package (pip install triton); use backend='torch'")
        return False
    from . import sinkhorn_fused

    return backend == "fused" or sinkhorn_fused.unsupported(x, y) is None


#: Problems with at least this many ``n * m * d`` elements get the squared distances of a cost with
#: ``p >= 2`` from the expansion ``|a|^2 + |b|^2 - 2 a.b`` (one matrix product, memory ``n * m``),
#: not from the (n, m, d) tensor of differences (``n = m = 4096``, ``d = 64``: 4 GiB in float32).
#: Below it (the training losses: m <= 300) the differences are formed, which is exact in the
#: ways :func:`ground_cost` states.
EXPANSION_MIN_ELEMENTS = 1 << 24


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""``||x_i - y_j||_2^2``, shape (..., n, m).

    Small problems form the differences (exact symmetry, exact 0 on identical points); problems of
    at least :data:`EXPANSION_MIN_ELEMENTS` ``n * m * d`` elements use
    ``|x_i|^2 + |y_j|^2 - 2 <x_i, y_j>`` clamped at 0, whose rounding is about
    ``2^-24 (|x_i|^2 + |y_j|^2)`` in float32 (absolute) and which never holds an (n, m, d) tensor.
    """
    if x.shape[-2] * y.shape[-2] * x.shape[-1] < EXPANSION_MIN_ELEMENTS:
        return (x.unsqueeze(-2) - y.unsqueeze(-3)).square().sum(-1)
    cross = x @ y.transpose(-1, -2)
    return (x.square().sum(-1).unsqueeze(-1) + y.square().sum(-1).unsqueeze(-2) - 2 * cross).clamp_min(0)


def ground_cost(x: torch.Tensor, y: torch.Tensor, p: float = 2.0, cost: str = "euclidean") -> torch.Tensor:
    r"""Pairwise ground cost matrix ``C_ij = c(x_i, y_j)``, shape (..., n, m).

    ``cost="euclidean"`` is eq. 20 of the paper, ``c(a, b) = ||a - b||_2^p``.
    ``cost="lp"`` is the authors' code, ``c(a, b) = sum_k |a_k - b_k|^p`` (no root).

    Below :data:`EXPANSION_MIN_ELEMENTS` the differences are formed explicitly (no
    ``|a|^2 + |b|^2 - 2ab`` expansion), so ``C(y, x) = C(x, y)^T`` holds exactly and ``C_ii = 0``
    for identical points; the gradient at coincident points is 0 (the limit of ``|t|^p`` for
    p > 1).  Larger problems with ``p >= 2`` (where ``t^(p/2)`` is flat at 0, so the expansion's
    rounding near 0 does not reach the gradient) use :func:`squared_distances`' expansion.
    """
    _check("cost", cost, COSTS)
    if not p > 0:
        raise ValueError(f"p={p} must be > 0")
    if p == 2.0 or (cost == "euclidean" and p > 2.0):
        sq = squared_distances(x, y)
        return sq if p == 2.0 else sq.pow(p / 2)
    diff = x.unsqueeze(-2) - y.unsqueeze(-3)  # (..., n, m, d)
    if cost == "lp":
        absdiff = diff.abs()
        # |t|^p with a zero (not NaN) gradient at t = 0
        safe = torch.where(absdiff > 0, absdiff, torch.ones_like(absdiff))
        return torch.where(absdiff > 0, safe.pow(p), torch.zeros_like(absdiff)).sum(-1)
    sq = diff.square().sum(-1)
    safe = torch.where(sq > 0, sq, torch.ones_like(sq))
    return torch.where(sq > 0, safe.pow(p / 2), torch.zeros_like(sq))


def _check_eps(eps: float, dtype: torch.dtype) -> None:
    """``eps > 0`` with ``eps`` and ``1 / eps`` finite normal numbers of ``dtype``: otherwise ``C / eps``
    underflows to 0 (a loss of 0, trained on silently) or overflows (NaN gradients)."""
    if not eps > 0:
        raise ValueError(f"eps={eps} must be > 0")
    info = torch.finfo(dtype)
    if not 1 / info.max < eps < 1 / info.tiny:
        raise ValueError(f"eps={eps} cannot be represented in {dtype}: allowed ({1 / info.max:.3g}, {1 / info.tiny:.3g})")


def softmin(h: torch.Tensor, eps: float, dim: int) -> torch.Tensor:
    r"""Soft minimum with uniform weights along ``dim``: ``-eps * log mean_j exp(-h_j / eps)`` (eq. 12).

    Evaluated relative to the row minimum ``c = min_j h_j`` (a constant: the value does not
    depend on it, so it carries no gradient) with ``t_j = (c - h_j) / eps <= 0``::

        softmin = c - eps * log mean_j exp(t_j)
        log mean_j exp(t_j) = log1p(mean_j expm1(t_j))          if mean_j expm1(t_j) > -1/2
                            = log(mean_j exp(t_j))               otherwise

    The first form keeps the informative part, of order ``h``, when ``h / eps`` is tiny (a
    weight-clipped critic's features, or a huge ``eps``); the textbook ``logsumexp(log b - h / eps)``
    rounds it away, because its absolute error ``u * log(m) * eps`` (``u`` the unit roundoff) is
    then larger than ``h`` itself (the loss came out exactly 0 in float32).  The second form is the
    ordinary max-shifted log-sum-exp (``max_j t_j = 0``: no overflow, and the mean is at least
    ``1 / m``), used where many ``t_j`` are very negative (there ``1 + mean expm1`` would lose the
    relative accuracy of a mean close to ``1 / m``).  Both are exact in exact arithmetic and twice
    differentiable.
    """
    c = h.detach().amin(dim, keepdim=True)
    t = (c - h) / eps
    mean_expm1 = torch.expm1(t).mean(dim)
    log_mean_exp = torch.where(
        mean_expm1 > -0.5,
        torch.log1p(mean_expm1),
        torch.log(torch.exp(t).mean(dim)),  # no overflow: max_j t_j = 0, mean >= 1 / m
    )
    return c.squeeze(dim) - eps * log_mean_exp


def sinkhorn_potentials(C: torch.Tensor, eps: float, n_iter: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``n_iter`` log-domain Sinkhorn iterations on cost ``C`` (..., n, m), uniform weights.

    Returns the dual potentials ``(f, g)`` of shapes (..., n) and (..., m), starting from
    ``f = g = 0`` (Algorithm 1, lines 3-6), each update the Sinkhorn mapping of eq. 11, a
    :func:`softmin` accurate to the roundoff of ``C``, not of ``eps``.  Differentiable through every iteration.
    """
    _check_eps(eps, C.dtype)
    g = torch.zeros(C.shape[:-2] + (C.shape[-1],), dtype=C.dtype, device=C.device)
    f = torch.zeros(C.shape[:-1], dtype=C.dtype, device=C.device)
    for _ in range(n_iter):
        f = softmin(C - g.unsqueeze(-2), eps, dim=-1)
        g = softmin(C - f.unsqueeze(-1), eps, dim=-2)
    return f, g


def transport_plan(C: torch.Tensor, f: torch.Tensor, eps: float) -> torch.Tensor:
    r"""The plan of the potentials returned by :func:`sinkhorn_potentials`.

    ``pi_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)``; because ``g`` is the soft c-transform of
    ``f`` (the last update), this equals ``b_j softmax_i((f_i - C_ij) / eps)``, which is what we
    evaluate: the same number without the catastrophic cancellation of ``f + g - C`` when
    ``C / eps`` is huge (p = 7, eps = 1e-3 in float32).  Columns sum exactly to ``b``.
    """
    m = C.shape[-1]
    return torch.softmax((f.unsqueeze(-1) - C) / eps, dim=-2) / m


def entropic_ot(
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    p: float = 2.0,
    n_iter: int = 10,
    grad: str = "autodiff",
    value: str = "dual",
    cost: str = "euclidean",
    backend: str = "torch",
) -> torch.Tensor:
    r"""Entropic OT ``W_eps`` between uniform measures on the rows of ``x`` and ``y``.

    Eq. 3-4 of the paper, approximated by ``n_iter`` Sinkhorn iterations (Algorithm 1).

    grad="autodiff"
        back-propagates through all ``n_iter`` iterations (the paper's text, "AutoDiff").
    grad="envelope"
        runs the iterations without a graph and differentiates only through the cost
        matrix at the final potentials (the authors' code):

        * with value="dual" the gradient is ``dW/dC = pi``, the envelope theorem's: exact at
          convergence (and only there; after ``n_iter`` iterations it carries their truncation
          error);
        * with value="sharp" it is the authors' ``d<pi, C>/dC = pi (1 - C / eps)`` with the
          potentials frozen, which is the gradient of neither ``W_eps`` nor ``<pi*, C>``, not
          even at convergence: once ``C / eps`` is about 1 or more its cosine with the true
          gradient is negative (tested).
    value="dual"  -> ``<f, a> + <g, b>``;  value="sharp" -> ``<pi, C>``.
    backend="torch" | "fused" | "auto": the same computation in torch operations or in the
    Triton kernels of :mod:`sinkgan.sinkhorn_fused` (see :func:`use_fused`).

    Returns a scalar for 2-d inputs, a (B,) tensor for batched (B, n, d) inputs.
    """
    _check("grad", grad, GRADS)
    _check("value", value, VALUES)
    _check("cost", cost, COSTS)
    _check_eps(eps, x.dtype)
    if n_iter < 1:
        raise ValueError(f"n_iter={n_iter} must be >= 1")
    if use_fused(backend, x, y):
        from . import sinkhorn_fused

        return sinkhorn_fused.entropic_ot(x, y, eps, p=p, n_iter=n_iter, grad=grad, value=value, cost=cost)
    C = ground_cost(x, y, p=p, cost=cost)
    if grad == "autodiff":
        f, g = sinkhorn_potentials(C, eps, n_iter)
    else:
        with torch.no_grad():
            f, g = sinkhorn_potentials(C.detach(), eps, n_iter)
        if value == "dual":
            return _dual_value_envelope(C, f, g, eps)
        return _sharp_value_envelope(C, f, eps)
    if value == "dual":
        return f.mean(-1) + g.mean(-1)
    return (transport_plan(C, f, eps) * C).sum((-2, -1))


def _dual_value_envelope(C: torch.Tensor, f: torch.Tensor, g: torch.Tensor, eps: float) -> torch.Tensor:
    r"""Value ``<f, a> + <g, b>`` (potentials frozen) whose gradient in ``C`` is ``pi``.

    The envelope gradient of the dual at the final potentials: ``d W / d C = pi``, obtained
    from the surrogate ``<pi, C>`` with ``pi`` held constant (value added and subtracted).
    """
    pi = transport_plan(C.detach(), f, eps)
    surrogate = (pi * C).sum((-2, -1))
    return f.mean(-1) + g.mean(-1) + (surrogate - surrogate.detach())  # adds exactly 0 to the value


def _sharp_value_envelope(C: torch.Tensor, f: torch.Tensor, eps: float) -> torch.Tensor:
    r"""``<pi, C>`` with the authors' gradient: potentials frozen, ``pi = exp((f + g - C)/eps) a b``
    differentiated through ``C`` only, i.e. ``d<pi, C>/dC = pi (1 - C / eps)`` -- the gradient of
    neither ``W_eps`` nor ``<pi*, C>``, even at convergence (see :func:`entropic_ot`).

    Evaluated through the surrogate ``<pi, C - C^2 / (2 eps)>`` (``pi`` held constant), which
    has that gradient, so the value never forms ``exp`` of a huge exponent.
    """
    pi = transport_plan(C.detach(), f, eps)
    value = (pi * C.detach()).sum((-2, -1))
    surrogate = (pi * (C - C.square() / (2 * eps))).sum((-2, -1))
    return value + (surrogate - surrogate.detach())  # adds exactly 0 (|surrogate| may dwarf the value)


def sinkhorn_divergence(
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    p: float = 2.0,
    n_iter: int = 10,
    grad: str = "autodiff",
    value: str = "dual",
    cost: str = "euclidean",
    backend: str = "torch",
) -> torch.Tensor:
    r"""Sinkhorn divergence, eq. 5: ``S_eps(x, y) = W(x, y) - (W(x, x) + W(y, y)) / 2``.

    Same options as :func:`entropic_ot`.  ``S_eps(x, x) = 0`` exactly (the three terms are
    computed by the same code), and ``S_eps`` is symmetric up to the truncation error of
    ``n_iter`` iterations (exactly at convergence).
    """
    kw = dict(eps=eps, p=p, n_iter=n_iter, grad=grad, value=value, cost=cost)
    if use_fused(backend, x, y):
        from . import sinkhorn_fused

        return sinkhorn_fused.sinkhorn_divergence(x, y, **kw)
    return entropic_ot(x, y, **kw) - 0.5 * (entropic_ot(x, x, **kw) + entropic_ot(y, y, **kw))
