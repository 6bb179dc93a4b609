r"""The fused Sinkhorn backend: all ``L`` iterations of a problem, and their reverse pass, in one kernel.

Same algorithm and the same numbers as :mod:`sinkgan.sinkhorn` (``backend="torch"``), written
as two Triton kernels so that one Sinkhorn loss costs two launches instead of thousands:

* ``_forward_kernel`` (one program per problem of a batch): computes the cost tile
  ``C_ij = c(x_i, y_j)`` on chip from the features (``||x_i - y_j||_2^p``, eq. 20, or the
  authors' ``sum_k |x_ik - y_jk|^p``; differences formed in chunks of ``BLOCK_D`` features, never
  an (n, m, d) tensor in memory), then runs the ``L`` log-domain iterations of Algorithm 1 from
  zero potentials, Gauss-Seidel order (eq. 3-4)::

      f_i <- softmin_j(C_ij - g_j),   g_j <- softmin_i(C_ij - f_i)

  each soft minimum centred as :func:`sinkgan.sinkhorn.softmin` centres it (the line's minimum
  ``c``, then ``c - eps * log mean exp(t)``, ``t = (c - h) / eps <= 0``, the mean's log as
  ``log1p(mean expm1(t))`` where that mean is above -1/2), so float32 keeps the part of the value
  that is of the order of ``C`` when ``C / eps`` is tiny, as the torch path does; ``expm1`` and
  ``log1p`` are Kahan's exact-rounding forms built from ``exp`` and ``log`` (:func:`_expm1`,
  :func:`_log1p`).  It writes the value (``<f, a> + <g, b>`` or ``<pi, C>``) and, per iteration
  and line, the centre ``c`` and the log-mean ``log mean exp(t)``.
* ``_backward_kernel`` (one program per problem): recomputes the cost tile and returns the exact
  gradient in ``x`` and ``y``.  ``grad="autodiff"``: the unrolled reverse pass of the ``L``
  iterations, with the soft-minimum weights ``P^k_ij = exp(t_ij - log mean exp(t_i.)) / m`` (the
  softmax that autograd differentiates through) recomputed from the stored centres and
  log-means, in one kernel::

      C_bar += Q^k * g_bar[None, :];   f_bar -= Q^k g_bar        (g^k = T(f^k))
      C_bar += P^k * f_bar[:, None];   g_bar  = -(P^k)^T f_bar   (f^k = T(g^{k-1}))

  ``grad="envelope"``: ``d W / d C = pi`` (dual) or ``pi (1 - C / eps)`` (sharp) at the final
  potentials.  Then ``x_bar_i = sum_j C_bar_ij dC_ij / dx_i`` and ``y_bar_j = -sum_i ...``.

Scope: one problem must fit one tile, ``n, m <= MAX_POINTS`` (the training losses: m = 64 or
100); larger problems use ``backend="torch"`` (``backend="auto"`` does so by itself).  float32
and float64.  On a machine without CUDA the kernels run in Triton's CPU interpreter (slow; it is
how the tests check them against the torch path).  The result is once differentiable (no
double backward: use ``backend="torch"`` for that).
"""
from __future__ import annotations

import functools
import os
import sys

import torch

if not torch.cuda.is_available() and "triton" not in sys.modules:
    # Without CUDA, Triton can only run its interpreter, which must be chosen before triton is imported
    os.environ.setdefault("TRITON_INTERPRET", "1")
import triton  # noqa: E402
import triton.language as tl  # noqa: E402


MAX_POINTS = 128  # n and m of one problem: the cost tile lives on chip
DTYPES = (torch.float32, torch.float64)
INTERPRET = bool(triton.knobs.runtime.interpret)  # kernels run on CPU tensors, in numpy


@triton.jit
def _feature_chunk(x_base, y_base, rows, cols, rmask, cmask, k0, d, BLOCK_D: tl.constexpr):
    """``x_i - y_j`` for the features ``k0 .. k0 + BLOCK_D``: a (BLOCK_N, BLOCK_M, BLOCK_D) chunk."""
    ks = k0 + tl.arange(0, BLOCK_D)
    kmask = ks < d
    xt = tl.load(x_base + rows[:, None] * d + ks[None, :], mask=rmask[:, None] & kmask[None, :], other=0.0)
    yt = tl.load(y_base + cols[:, None] * d + ks[None, :], mask=cmask[:, None] & kmask[None, :], other=0.0)
    return xt[:, None, :] - yt[None, :, :], ks, kmask


@triton.jit
def _pow_pos(a, p):
    """``a^p`` for ``a > 0`` and 0 where ``a == 0`` (the limit for p > 0)."""
    safe = tl.where(a > 0, a, 1.0)
    return tl.where(a > 0, tl.exp(p * tl.log(safe)), 0.0)


@triton.jit
def _cost_tile(x_base, y_base, rows, cols, rmask, cmask, d, p,
               LP: tl.constexpr, P2: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_M: tl.constexpr,
               BLOCK_D: tl.constexpr):
    """``(C, S)``: the cost tile and its inner sum (``sum_k diff^2`` for euclidean, else ``C``)."""
    S = tl.zeros([BLOCK_N, BLOCK_M], dtype=x_base.dtype.element_ty)
    for k0 in range(0, d, BLOCK_D):
        diff, ks, kmask = _feature_chunk(x_base, y_base, rows, cols, rmask, cmask, k0, d, BLOCK_D)
        if P2 or not LP:
            S += tl.sum(diff * diff, axis=2)
        else:
            S += tl.sum(_pow_pos(tl.abs(diff), p), axis=2)
    if LP or P2:
        C = S
    else:
        C = _pow_pos(S, 0.5 * p)
    return C, S


@triton.jit
def _expm1(t):
    """``exp(t) - 1`` for finite ``t <= 0``, to a few ulps (Kahan: ``(u - 1) t / log u``, ``u = exp t``)."""
    u = tl.exp(t)
    inner = (u != 1.0) & (u != 0.0)
    safe = tl.where(inner, u, 0.5)
    return tl.where(u == 1.0, t, tl.where(u == 0.0, -1.0, (safe - 1.0) * t / tl.log(safe)))


@triton.jit
def _log1p(a):
    """``log(1 + a)`` for ``a > -1``, to a few ulps (Kahan: ``log(u) a / (u - 1)``, ``u = 1 + a``)."""
    u = 1.0 + a
    safe = tl.where(u == 1.0, 2.0, u)
    return tl.where(u == 1.0, a, tl.log(safe) * a / (safe - 1.0))


@triton.jit
def _centred_softmin(h, eps, axis: tl.constexpr, valid, mask, count):
    """``(c, l)`` with ``softmin = c - eps * l`` along ``axis`` (sinkhorn.softmin, eq. 12): ``c`` the
    line's minimum, ``l = log mean exp(t)``, ``t = (c - h) / eps``; ``(0, 0)`` on padding lines."""
    c = tl.where(mask, tl.min(tl.where(valid, h, float("inf")), axis=axis), 0.0)
    if axis == 1:
        t = (c[:, None] - h) / eps
    else:
        t = (c[None, :] - h) / eps
    t = tl.where(valid, t, 0.0)
    mean_expm1 = tl.sum(tl.where(valid, _expm1(t), 0.0), axis=axis) / count
    mean_exp = tl.sum(tl.where(valid, tl.exp(t), 0.0), axis=axis) / count
    log_mean = tl.where(mean_expm1 > -0.5, _log1p(tl.maximum(mean_expm1, -0.5)),
                        tl.log(tl.where(mask, mean_exp, 1.0)))  # mean_exp >= 1 / count: max t = 0
    return c, tl.where(mask, log_mean, 0.0)


@triton.jit
def _softmin_weights(h, c, log_mean, eps, axis: tl.constexpr, valid, count):
    """``d softmin / d h``: ``exp(t - l) / count`` along ``axis`` (each line sums to 1), from the
    stored centre ``c`` and log-mean ``l`` of :func:`_centred_softmin`; 0 off the problem."""
    if axis == 1:
        e = (c[:, None] - h) / eps - log_mean[:, None]
    else:
        e = (c[None, :] - h) / eps - log_mean[None, :]
    return tl.exp(tl.where(valid, e, float("-inf"))) / count


@triton.jit
def _params(prm_ptr):
    """``(eps, p)`` in the data's dtype (Python floats would reach a kernel as float32)."""
    return tl.load(prm_ptr), tl.load(prm_ptr + 1)


@triton.jit
def _column_softmax(s, cmask):
    """``softmax_i(s_ij)`` as ``exp(s - max) / sum`` (as torch.softmax: no rounding of a large LSE)."""
    mx = tl.where(cmask, tl.max(s, axis=0), 0.0)
    e = tl.exp(s - mx[None, :])
    return e / tl.where(cmask, tl.sum(e, axis=0), 1.0)[None, :]


@triton.jit
def _tile(n, m, BLOCK_N: tl.constexpr, BLOCK_M: tl.constexpr):
    """Row and column indices of the (BLOCK_N, BLOCK_M) tile, their masks (< n, < m) and the mask
    of the problem's entries."""
    rows = tl.arange(0, BLOCK_N)
    cols = tl.arange(0, BLOCK_M)
    rmask = rows < n
    cmask = cols < m
    return rows, cols, rmask, cmask, rmask[:, None] & cmask[None, :]


@triton.jit
def _forward_kernel(x_ptr, y_ptr, prm_ptr, val_ptr, cf_ptr, lf_ptr, cg_ptr, lg_ptr, n, m, d, n_iter,
                    LP: tl.constexpr, P2: tl.constexpr, SHARP: tl.constexpr,
                    BLOCK_N: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr):
    b = tl.program_id(0)
    eps, p = _params(prm_ptr)
    rows, cols, rmask, cmask, valid = _tile(n, m, BLOCK_N, BLOCK_M)
    C, S = _cost_tile(x_ptr + b * n * d, y_ptr + b * m * d, rows, cols, rmask, cmask, d, p, LP, P2,
                      BLOCK_N, BLOCK_M, BLOCK_D)
    g = tl.zeros([BLOCK_M], dtype=C.dtype)
    f = tl.zeros([BLOCK_N], dtype=C.dtype)
    for k in range(n_iter):
        cf, lf = _centred_softmin(C - g[None, :], eps, 1, valid, rmask, m)
        f = cf - eps * lf
        tl.store(cf_ptr + (b * n_iter + k) * n + rows, cf, mask=rmask)
        tl.store(lf_ptr + (b * n_iter + k) * n + rows, lf, mask=rmask)
        cg, lg = _centred_softmin(C - f[:, None], eps, 0, valid, cmask, n)
        g = cg - eps * lg
        tl.store(cg_ptr + (b * n_iter + k) * m + cols, cg, mask=cmask)
        tl.store(lg_ptr + (b * n_iter + k) * m + cols, lg, mask=cmask)
    if SHARP:  # <pi, C>, pi = softmax_i((f_i - C_ij) / eps) / m  (sinkhorn.transport_plan)
        s = tl.where(valid, (f[:, None] - C) / eps, float("-inf"))
        pi = _column_softmax(s, cmask) / m
        value = tl.sum(tl.sum(pi * C, axis=1), axis=0)
    else:  # <f, a> + <g, b>
        value = tl.sum(f, axis=0) / n + tl.sum(g, axis=0) / m
    tl.store(val_ptr + b, value)


@triton.jit
def _backward_kernel(x_ptr, y_ptr, prm_ptr, cf_ptr, lf_ptr, cg_ptr, lg_ptr, gv_ptr, gx_ptr, gy_ptr, n, m, d, n_iter,
                     LP: tl.constexpr, P2: tl.constexpr, SHARP: tl.constexpr,
                     ENVELOPE: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_M: tl.constexpr,
                     BLOCK_D: tl.constexpr):
    b = tl.program_id(0)
    eps, p = _params(prm_ptr)
    rows, cols, rmask, cmask, valid = _tile(n, m, BLOCK_N, BLOCK_M)
    x_base = x_ptr + b * n * d
    y_base = y_ptr + b * m * d
    C, S = _cost_tile(x_base, y_base, rows, cols, rmask, cmask, d, p, LP, P2, BLOCK_N, BLOCK_M, BLOCK_D)
    last = b * n_iter + n_iter - 1
    f = tl.load(cf_ptr + last * n + rows, mask=rmask, other=0.0) - eps * tl.load(lf_ptr + last * n + rows, mask=rmask, other=0.0)
    # seeds: the adjoints of the value in (f^L, g^L, C)
    s = tl.where(valid, (f[:, None] - C) / eps, float("-inf"))
    Q = _column_softmax(s, cmask)  # m * pi
    if ENVELOPE:
        if SHARP:
            Cbar = Q / m * (1.0 - C / eps)
        else:
            Cbar = Q / m
    else:
        if SHARP:
            centred = tl.where(valid, C - tl.sum(Q * C, axis=0)[None, :], 0.0)
            Cbar = Q / m - Q * centred / (m * eps)
            fbar = tl.sum(Q * centred, axis=1) / (m * eps)
            gbar = tl.zeros([BLOCK_M], dtype=C.dtype)
        else:
            Cbar = tl.zeros([BLOCK_N, BLOCK_M], dtype=C.dtype)
            fbar = tl.where(rmask, (tl.zeros([BLOCK_N], dtype=C.dtype) + 1.0) / n, 0.0)  # a = 1 / n
            gbar = tl.where(cmask, (tl.zeros([BLOCK_M], dtype=C.dtype) + 1.0) / m, 0.0)  # b = 1 / m
        for r in range(n_iter):
            k = n_iter - 1 - r
            cf = tl.load(cf_ptr + (b * n_iter + k) * n + rows, mask=rmask, other=0.0)
            lf = tl.load(lf_ptr + (b * n_iter + k) * n + rows, mask=rmask, other=0.0)
            cg = tl.load(cg_ptr + (b * n_iter + k) * m + cols, mask=cmask, other=0.0)
            lg = tl.load(lg_ptr + (b * n_iter + k) * m + cols, mask=cmask, other=0.0)
            f = cf - eps * lf
            # g^k = softmin_i(C_ij - f^k_i)
            Qk = _softmin_weights(C - f[:, None], cg, lg, eps, 0, valid, n)
            Cbar += Qk * gbar[None, :]
            fbar -= tl.sum(Qk * gbar[None, :], axis=1)
            # f^k = softmin_j(C_ij - g^{k-1}_j),  g^0 = 0
            has_prev = cmask & (cols * 0 + k > 0)
            cg_prev = tl.load(cg_ptr + (b * n_iter + k - 1) * m + cols, mask=has_prev, other=0.0)
            lg_prev = tl.load(lg_ptr + (b * n_iter + k - 1) * m + cols, mask=has_prev, other=0.0)
            g_prev = cg_prev - eps * lg_prev
            Pk = _softmin_weights(C - g_prev[None, :], cf, lf, eps, 1, valid, m)
            Cbar += Pk * fbar[:, None]
            gbar = -tl.sum(Pk * fbar[:, None], axis=0)
            fbar = tl.zeros([BLOCK_N], dtype=C.dtype)
    # C_bar -> x_bar, y_bar through the cost: dC_ij/dx_i = W_ij (x_i - y_j) (euclidean) or
    # p |x_ik - y_jk|^(p-1) sign(x_ik - y_jk) (lp)
    gv = tl.load(gv_ptr + b)
    if P2:
        W = 2.0 * Cbar
    elif LP:
        W = Cbar
    else:
        W = Cbar * p * _pow_pos(S, 0.5 * p - 1.0)
    for k0 in range(0, d, BLOCK_D):
        diff, ks, kmask = _feature_chunk(x_base, y_base, rows, cols, rmask, cmask, k0, d, BLOCK_D)
        if LP and not P2:
            a = tl.abs(diff)
            dC = tl.where(diff > 0, 1.0, -1.0) * p * _pow_pos(a, p - 1.0)
            contrib = W[:, :, None] * tl.where(a > 0, dC, 0.0)
        else:
            contrib = W[:, :, None] * diff
        tl.store(gx_ptr + b * n * d + rows[:, None] * d + ks[None, :], gv * tl.sum(contrib, axis=1),
                 mask=rmask[:, None] & kmask[None, :])
        tl.store(gy_ptr + b * m * d + cols[:, None] * d + ks[None, :], -gv * tl.sum(contrib, axis=0),
                 mask=cmask[:, None] & kmask[None, :])


def _blocks(n: int, m: int, d: int) -> tuple[int, int, int, int]:
    bn, bm = triton.next_power_of_2(n), triton.next_power_of_2(m)
    bd = max(1, min(triton.next_power_of_2(d), 4096 // (bn * bm)))
    return bn, bm, bd, 4 if bn * bm <= 4096 else 8


@functools.lru_cache(maxsize=64)
def _params_tensor(eps: float, p: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The kernels' scalar parameters as a cached device tensor (no host-to-device copy per call)."""
    return torch.tensor([eps, p], dtype=dtype, device=device)


class _FusedEntropicOT(torch.autograd.Function):
    """``W_eps`` of a batch (B, n, d) x (B, m, d) -> (B,); forward and backward are one kernel each."""

    @staticmethod
    def forward(ctx, x, y, eps, p, n_iter, grad, value, cost):
        B, n, d = x.shape
        m = y.shape[1]
        bn, bm, bd, warps = _blocks(n, m, d)
        val = torch.empty(B, dtype=x.dtype, device=x.device)
        # per iteration and line: the soft minimum's centre and log-mean (f = cf - eps lf, g likewise)
        cf, lf = (torch.empty(B, n_iter, n, dtype=x.dtype, device=x.device) for _ in range(2))
        cg, lg = (torch.empty(B, n_iter, m, dtype=x.dtype, device=x.device) for _ in range(2))
        flags = dict(LP=cost == "lp", P2=float(p) == 2.0, SHARP=value == "sharp")
        _forward_kernel[(B,)](x, y, _params_tensor(eps, p, x.dtype, x.device), val, cf, lf, cg, lg, n, m, d, n_iter,
                              **flags, BLOCK_N=bn, BLOCK_M=bm, BLOCK_D=bd, num_warps=warps)
        ctx.save_for_backward(x, y, cf, lf, cg, lg)
        ctx.opts = (eps, p, n_iter, flags, grad == "envelope", (bn, bm, bd, warps))
        return val

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gv):
        x, y, cf, lf, cg, lg = ctx.saved_tensors
        eps, p, n_iter, flags, envelope, (bn, bm, bd, warps) = ctx.opts
        B, n, d = x.shape
        m = y.shape[1]
        gx, gy = torch.empty_like(x), torch.empty_like(y)
        _backward_kernel[(B,)](x, y, _params_tensor(eps, p, x.dtype, x.device), cf, lf, cg, lg, gv.contiguous(),
                               gx, gy, n, m, d, n_iter, **flags, ENVELOPE=envelope,
                               BLOCK_N=bn, BLOCK_M=bm, BLOCK_D=bd, num_warps=warps)
        return gx, gy, None, None, None, None, None, None


def unsupported(x: torch.Tensor, y: torch.Tensor) -> str | None:
    """Why the fused backend cannot take ``(x, y)``, or None when it can."""
    if x.dim() not in (2, 3) or y.dim() != x.dim():
        return f"inputs must both be (n, d) or both (B, n, d), got {tuple(x.shape)} and {tuple(y.shape)}"
    if x.shape[:-2] != y.shape[:-2] or x.shape[-1] != y.shape[-1]:
        return f"batch and feature dimensions differ: {tuple(x.shape)} and {tuple(y.shape)}"
    if max(x.shape[-2], y.shape[-2]) > MAX_POINTS or min(x.shape[-2], y.shape[-2]) < 1:
        return f"n and m must be in [1, {MAX_POINTS}] (one tile), got {x.shape[-2]} and {y.shape[-2]}"
    if x.dtype not in DTYPES or y.dtype != x.dtype:
        return f"dtype must be float32 or float64 (both the same), got {x.dtype} and {y.dtype}"
    if x.device != y.device:
        return f"x and y are on different devices ({x.device}, {y.device})"
    if (x.device.type == "cpu") != INTERPRET:
        return (f"{x.device.type} tensors with TRITON_INTERPRET={int(INTERPRET)}: CPU tensors need Triton's interpreter "
                "(TRITON_INTERPRET=1, set before triton is first imported), CUDA tensors need it off")
    return None


def entropic_ot(x, y, eps: float, p: float = 2.0, n_iter: int = 10, grad: str = "autodiff",
                value: str = "dual", cost: str = "euclidean") -> torch.Tensor:
    """:func:`sinkgan.sinkhorn.entropic_ot` (eq. 3-4, Algorithm 1) computed by the fused kernels.

    Called by :mod:`sinkgan.sinkhorn` (``backend=``), which has checked ``grad``, ``value`` and
    ``cost``; this module imports nothing from the package (no import circle)."""
    if not p > 0:
        raise ValueError(f"p={p} must be > 0")
    if not eps > 0:
        raise ValueError(f"eps={eps} must be > 0")
    if n_iter < 1:
        raise ValueError(f"n_iter={n_iter} must be >= 1")
    why = unsupported(x, y)
    if why is not None:
        raise ValueError(f"backend='fused': {why}; use backend='torch'")
    batched = x.dim() == 3
    xb = (x if batched else x.unsqueeze(0)).contiguous()
    yb = (y if batched else y.unsqueeze(0)).contiguous()
    out = _FusedEntropicOT.apply(xb, yb, eps, p, n_iter, grad, value, cost)
    return out if batched else out[0]


def sinkhorn_divergence(x, y, eps: float, p: float = 2.0, n_iter: int = 10, grad: str = "autodiff",
                        value: str = "dual", cost: str = "euclidean") -> torch.Tensor:
    """Eq. 5, ``W(x, y) - (W(x, x) + W(y, y)) / 2``; the three problems in one launch when n = m."""
    kw = dict(eps=eps, p=p, n_iter=n_iter, grad=grad, value=value, cost=cost)
    if x.shape != y.shape:
        return entropic_ot(x, y, **kw) - 0.5 * (entropic_ot(x, x, **kw) + entropic_ot(y, y, **kw))
    if x.dim() == 2:
        w = entropic_ot(torch.stack((x, x, y)), torch.stack((y, x, y)), **kw)
    else:
        w = entropic_ot(torch.cat((x, x, y)), torch.cat((y, x, y)), **kw).view(3, -1)
    return w[0] - 0.5 * (w[1] + w[2])
