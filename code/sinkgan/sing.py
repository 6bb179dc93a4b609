r"""Sinkhorn Natural Gradient (SiNG), Shen, Wang, Ribeiro and Hassani, NeurIPS 2020.

Notation of the SiNG paper: the generator ``T_theta`` pushes a latent measure ``mu`` forward,
``alpha_theta = T_theta # mu``; ``F(theta)`` is the objective; ``S`` is the Sinkhorn divergence
(their eq. 4, our :func:`sinkgan.sinkhorn.sinkhorn_divergence`), with its own regularisation
``gamma`` (called ``eps`` in :mod:`sinkgan.sinkhorn`).

* SiNG update, eq. (8)::

      theta_{t+1} = theta_t + eta * d_t

* SiNG direction, eq. (11) (the limit of the steepest-descent problem (9) inside the Sinkhorn
  ball ``S(alpha_{theta_t + dtheta}, alpha_{theta_t}) <= eps'``)::

      d_t = - sqrt(2 eps') * H^{-1} grad F / sqrt(<H^{-1} grad F, grad F>)

  so that ``<d_t, H d_t> = 2 eps'`` (the second-order model of the constraint is active).

* Sinkhorn information matrix (SIM), eq. (10)::

      H(theta_t) = nabla^2_theta S(alpha_theta, alpha_{theta_t}) |_{theta = theta_t}  (>= 0)

  and its empirical estimator eSIM, eq. (20), on ``n`` latent samples ``z_i ~ mu``::

      Hbar(theta_t) = nabla^2_theta S(alphabar_theta, alphabar_{theta_t}) |_{theta = theta_t},
      alphabar_theta = (1/n) sum_i delta_{T_theta(z_i)}

  i.e. the SAME latent samples are pushed through the moving generator ``T_theta`` and the
  frozen one ``T_{theta_t}``.  Here ``S`` is evaluated with ``L`` log-domain Sinkhorn
  iterations differentiated by automatic differentiation to second order (``grad="autodiff"``;
  the envelope gradient is not differentiable twice), which is the "simple PyTorch
  implementation" the paper describes in its Appendix E: eq. (27) is what autodiff computes
  through the iterations.

* ``H^{-1} grad F`` is computed by conjugate gradient (the paper, end of Section 6) using only
  Hessian-vector products ``v -> Hbar v`` obtained by double back-propagation; the matrix is
  never formed.

Regularisation.  Proposition 4.1 assumes the smallest eigenvalue of ``H`` is strictly positive.
The eSIM of an over-parameterised generator on a mini-batch is rank-deficient (rank at most
``n * q``), and with truncated Sinkhorn iterations it is PSD only approximately, so CG is run
on the damped matrix ``Hbar + lambda I`` (Tikhonov damping ``lambda >= 0``, configurable) and
stopped after ``cg_iters`` iterations or at relative residual ``cg_tol``.  CG also stops at the
first direction of non-positive curvature ``<p, (Hbar + lambda I) p> <= 0``.  If the result
``u`` fails ``<u, grad F> > 0`` (possible only when CG met negative curvature on its first
iteration) the step falls back to ``u = grad F`` (a plain normalised gradient step) and reports
it.  The SiNG main text gives no damping value (its Appendices D/E are not part of the seed
text).

Settings the text leaves open follow the authors' code (``shenzebang/Sinkhorn_Descent``, the
7.2 scripts ``gan_*_fixed_cost_{celeba,cifar10}.py`` with ``n = 3000`` particles): step size
``eta = 30``, 15 CG steps, damping 0.05, maximal step ``max_sd = 0.1`` (their name for
``eps'``: their step is ``eta * s / sqrt(<s, (H + lambda I) s> / (2 max_sd))``, eq. 11).  Their
eSIM is the Hessian of the SUM of the Sinkhorn potentials over the ``n`` particles, ``n`` times
the Hessian of this module's ``S`` of the empirical measures (eq. 20, weights ``1/n``).  Scaling
``H`` by ``n`` gives the same direction as dividing ``eps'`` and ``lambda`` by ``n``::

    sqrt(2 eps') (n H + lambda I)^{-1} g / sqrt(<(n H + lambda I)^{-1} g, g>)
        = sqrt(2 eps' / n) (H + lambda/n I)^{-1} g / sqrt(<(H + lambda/n I)^{-1} g, g>)

so their settings in this module's normalisation are ``eps' = 0.1 / 3000`` and
``lambda = 0.05 / 3000`` (:data:`AUTHORS_EPS_PRIME`, :data:`AUTHORS_DAMPING`).  Every
difference is a row of ``config/deviations.yaml`` (switches ``sing.<key>``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch

from .sinkhorn import sinkhorn_divergence, sinkhorn_potentials

Tensor = torch.Tensor
MatVec = Callable[[Tensor], Tensor]

#: The authors' SiNG settings (shenzebang/Sinkhorn_Descent), in this module's normalisation.
AUTHORS_PARTICLES = 3000  # their n: their eSIM sums the potentials over n particles (n times ours)
AUTHORS_ETA = 30.0  # --eta, the step size of eq. (8)
AUTHORS_CG_ITERS = 15  # conjugate_gradients(fvp, -loss_grad, 15) (7.2; their GAN script uses 20)
AUTHORS_EPS_PRIME = 0.1 / AUTHORS_PARTICLES  # --max_sd 0.1 on their n-times-larger eSIM
AUTHORS_DAMPING = 0.05 / AUTHORS_PARTICLES  # --damping 0.05 on their n-times-larger eSIM


# ----------------------------------------------------------------------------- flat vectors
def flatten(tensors: Iterable[Tensor]) -> Tensor:
    """Concatenate tensors into one flat vector (the parameter vector ``theta`` in R^d)."""
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten_like(vec: Tensor, like: Sequence[Tensor]) -> list[Tensor]:
    """Split a flat vector into tensors shaped like ``like`` (inverse of :func:`flatten`)."""
    out, i = [], 0
    for t in like:
        n = t.numel()
        out.append(vec[i:i + n].view_as(t))
        i += n
    if i != vec.numel():
        raise ValueError(f"vector of length {vec.numel()} does not match parameters of total size {i}")
    return out


def _grad_or_zero(grads: Sequence[Tensor | None], params: Sequence[Tensor]) -> list[Tensor]:
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]


# ----------------------------------------------------------------------------- the divergence
def squared_euclidean_cost(x: Tensor, y: Tensor) -> Tensor:
    r"""``C_ij = ||x_i - y_j||^2 = ||x_i||^2 + ||y_j||^2 - 2 <x_i, y_j>`` for x (n, q), y (m, q).

    The Gram-matrix form needs O(nm + (n + m) q) memory instead of the O(nmq) of the explicit
    differences in :func:`sinkgan.sinkhorn.ground_cost` -- what makes the eSIM affordable for
    images (q = 3072) and large batches (7.3: n = 4000).  It is a polynomial of degree 2, so its
    first and second derivatives are exact; no clamping at 0 (clamping would zero the Hessian
    ``2 I`` of the diagonal ``C_ii`` when rounding makes it slightly negative).
    """
    return (x * x).sum(-1).unsqueeze(-1) + (y * y).sum(-1).unsqueeze(-2) - 2.0 * (x @ y.transpose(-1, -2))


def entropic_ot_squared_euclidean(x: Tensor, y: Tensor, gamma: float, n_iter: int) -> Tensor:
    r"""``OT_gamma(alphabar_x, alphabar_y) = <f, a> + <g, b>`` (SiNG eq. 6, dual value) with the
    squared-l2 cost, ``n_iter`` log-domain Sinkhorn iterations of :func:`sinkgan.sinkhorn.sinkhorn_potentials`
    from zero potentials, differentiated through the iterations (autodiff, twice differentiable)."""
    f, g = sinkhorn_potentials(squared_euclidean_cost(x, y), gamma, n_iter)
    return f.mean(-1) + g.mean(-1)


def sinkhorn_divergence_squared_euclidean(x: Tensor, y: Tensor, gamma: float, n_iter: int) -> Tensor:
    r"""``S(alpha, beta) = OT(alpha, beta) - (OT(alpha, alpha) + OT(beta, beta)) / 2`` (SiNG eq. 4) on the
    rows of ``x`` (n, q) and ``y`` (m, q) with ``c(x, y) = ||x - y||^2``.  Equals
    ``sinkgan.sinkhorn.sinkhorn_divergence(x, y, eps=gamma, p=2, n_iter=n_iter, grad="autodiff")``
    up to rounding (tested), with the memory-lean cost :func:`squared_euclidean_cost`."""
    return entropic_ot_squared_euclidean(x, y, gamma, n_iter) - 0.5 * (
        entropic_ot_squared_euclidean(x, x, gamma, n_iter) + entropic_ot_squared_euclidean(y, y, gamma, n_iter))


# ----------------------------------------------------------------------------- the eSIM
@dataclass(frozen=True)
class SinkhornMetric:
    r"""The Sinkhorn divergence that defines the SiNG geometry (the constraint of eq. 9).

    ``gamma``: entropic regularisation of the constraint (paper: 0.01 in 7.1, 1 in 7.3);
    ``p``, ``cost``: ground cost ``||phi(x) - phi(y)||^p`` (``p = 2``: squared l2);
    ``n_iter``: Sinkhorn iterations ``L``.  ``phi`` (the feature map, e.g. a fixed encoder in 7.2)
    is passed separately because it is a network, not a setting.
    """

    gamma: float = 1.0
    p: float = 2.0
    n_iter: int = 10
    cost: str = "euclidean"

    def divergence(self, x: Tensor, y: Tensor) -> Tensor:
        """``S_gamma(alphabar_x, alphabar_y)`` (SiNG eq. 4) on flattened samples, twice differentiable
        (autodiff); the squared-l2 cost (p = 2, euclidean) uses the Gram form."""
        if self.p == 2.0 and self.cost == "euclidean":
            return sinkhorn_divergence_squared_euclidean(x.flatten(1), y.flatten(1), self.gamma, self.n_iter)
        return sinkhorn_divergence(x.flatten(1), y.flatten(1), eps=self.gamma, p=self.p,
                                   n_iter=self.n_iter, grad="autodiff", value="dual", cost=self.cost)


def sinkhorn_information_hvp(
    generated: Tensor,
    params: Sequence[Tensor],
    metric: SinkhornMetric,
    feature_map: Callable[[Tensor], Tensor] | None = None,
) -> MatVec:
    r"""Hessian-vector product with the eSIM, eq. (20): ``v -> Hbar(theta_t) v``.

    ``generated`` must be ``T_theta(z_i)``, i = 1..n, computed at ``theta = theta_t`` with its
    autograd graph to ``params``.  Its detached copy is ``T_{theta_t}(z_i)`` (same ``z_i``, frozen
    parameters), so::

        s(theta)     = S(phi(T_theta(z)), phi(T_{theta_t}(z)))
        Hbar v       = nabla_theta < nabla_theta s(theta), v >   at theta = theta_t

    (double back-propagation through the ``L`` Sinkhorn iterations; Pearlmutter's trick).  The
    returned function may be called many times (the first-order graph is kept).
    """
    phi = feature_map if feature_map is not None else (lambda t: t)
    x = phi(generated)
    y = phi(generated.detach()).detach()
    s = metric.divergence(x, y)
    grads = _grad_or_zero(torch.autograd.grad(s, params, create_graph=True, allow_unused=True), params)
    grad_s = flatten(grads)
    if not grad_s.requires_grad:  # the divergence does not depend on params: H = 0
        return lambda v: torch.zeros_like(v)

    def hvp(v: Tensor) -> Tensor:
        hv = torch.autograd.grad(grad_s, params, grad_outputs=v, retain_graph=True, allow_unused=True)
        return flatten(_grad_or_zero(hv, params)).detach()

    return hvp


# ----------------------------------------------------------------------------- CG
@dataclass
class CGResult:
    """Output of :func:`conjugate_gradient`.

    ``residual`` is the relative residual ``||b - A u|| / ||b||`` of the returned ``u``
    (the CG recursion's residual, equal to the true one in exact arithmetic);
    ``negative_curvature`` is True if CG stopped at ``<p, A p> <= 0``.
    """

    solution: Tensor
    residual: float
    iterations: int
    negative_curvature: bool


def conjugate_gradient(matvec: MatVec, b: Tensor, max_iter: int, tol: float, damping: float = 0.0) -> CGResult:
    r"""Solve ``(A + lambda I) u = b`` for symmetric ``A`` given only ``v -> A v`` (Hestenes-Stiefel CG).

    From ``u_0 = 0``, ``r_0 = p_0 = b``::

        alpha_k = <r_k, r_k> / <p_k, (A + lambda I) p_k>
        u_{k+1} = u_k + alpha_k p_k,    r_{k+1} = r_k - alpha_k (A + lambda I) p_k
        p_{k+1} = r_{k+1} + (<r_{k+1}, r_{k+1}> / <r_k, r_k>) p_k

    stopping after ``max_iter`` iterations, when ``||r_k|| <= tol ||b||``, or at the first
    ``<p_k, (A + lambda I) p_k> <= 0`` (non-positive curvature; the iterate so far is returned).
    """
    if max_iter < 1:
        raise ValueError(f"max_iter={max_iter} must be >= 1")
    if not tol >= 0:
        raise ValueError(f"tol={tol} must be >= 0")
    if not damping >= 0:
        raise ValueError(f"damping={damping} must be >= 0")
    b = b.detach()
    b_norm = float(b.norm())
    u = torch.zeros_like(b)
    if b_norm == 0.0:
        return CGResult(u, 0.0, 0, False)
    r = b.clone()
    p = r.clone()
    rr = float(r @ r)
    negative = False
    k = 0
    for k in range(1, max_iter + 1):
        Ap = matvec(p) + damping * p
        pAp = float(p @ Ap)
        if not pAp > 0:
            negative = True
            k -= 1
            break
        alpha = rr / pAp
        u = u + alpha * p
        r = r - alpha * Ap
        rr_new = float(r @ r)
        if math.sqrt(rr_new) <= tol * b_norm:
            rr = rr_new
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return CGResult(u, math.sqrt(rr) / b_norm, k, negative)


# ----------------------------------------------------------------------------- direction
@dataclass
class SiNGDirection:
    """A SiNG direction with its diagnostics (logged every step).

    ``cosine`` = cos(d, -grad F); ``fallback`` is True if ``<u, grad F> <= 0`` forced the
    normalised-gradient fallback (see the module docstring).
    """

    direction: Tensor
    cg_residual: float
    cg_iterations: int
    cosine: float
    fallback: bool
    grad_norm: float


def sing_direction(grad_F: Tensor, hvp: MatVec, eps_prime: float, cg_iters: int, cg_tol: float,
                   damping: float) -> SiNGDirection:
    r"""The SiNG direction, eq. (11), with ``H^{-1}`` applied by CG on ``Hbar + lambda I``::

        u = (Hbar + lambda I)^{-1} grad F         (conjugate_gradient)
        d = - sqrt(2 eps') u / sqrt(<u, grad F>)
    """
    if not eps_prime > 0:
        raise ValueError(f"eps_prime={eps_prime} must be > 0")
    g = grad_F.detach()
    cg = conjugate_gradient(hvp, g, cg_iters, cg_tol, damping)
    u = cg.solution
    ug = float(u @ g)
    fallback = not (ug > 0 and math.isfinite(ug))
    if fallback:
        u = g
        ug = float(g @ g)
    if ug == 0.0:  # zero gradient: stationary point, no move
        return SiNGDirection(torch.zeros_like(g), cg.residual, cg.iterations, 0.0, fallback, 0.0)
    d = -math.sqrt(2.0 * eps_prime) * u / math.sqrt(ug)
    g_norm = float(g.norm())
    cosine = float(-(d @ g) / (d.norm() * g_norm))
    return SiNGDirection(d, cg.residual, cg.iterations, cosine, fallback, g_norm)


# ----------------------------------------------------------------------------- optimizer
@dataclass
class SiNGStep:
    """What one :meth:`SinkhornNaturalGradient.step` did (one row of the experiment log)."""

    cg_residual: float
    cg_iterations: int
    cosine: float
    grad_norm: float
    direction_norm: float
    fallback: bool


class SinkhornNaturalGradient:
    r"""The SiNG optimizer for a generator: ``theta <- theta + eta * d_t`` (eqs. 8, 11, 20).

    Usage, one step::

        x = G(z)                                   # n generated samples, graph to G's params
        loss = F(x)                                # the objective, e.g. S(x, real batch)
        info = opt.step(loss, x)                   # gradient, eSIM on x, CG, update

    ``lr`` is ``eta``; ``eps_prime`` is the radius ``eps'`` of the Sinkhorn ball;
    ``metric`` defines ``S`` of the constraint and ``feature_map`` its ground-cost features
    (identity: pixels).  ``cg_iters``, ``cg_tol``, ``damping`` configure the solve (defaults: the
    authors' 15 CG steps run in full and their damping, see the module docstring).
    """

    def __init__(self, params: Iterable[Tensor], lr: float, eps_prime: float, metric: SinkhornMetric,
                 cg_iters: int = AUTHORS_CG_ITERS, cg_tol: float = 0.0, damping: float = AUTHORS_DAMPING,
                 feature_map: Callable[[Tensor], Tensor] | None = None):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("SinkhornNaturalGradient: no parameters that require gradients")
        if not lr > 0:
            raise ValueError(f"lr={lr} must be > 0")
        if not eps_prime > 0:
            raise ValueError(f"eps_prime={eps_prime} must be > 0")
        self.lr, self.eps_prime, self.metric = lr, eps_prime, metric
        self.cg_iters, self.cg_tol, self.damping = cg_iters, cg_tol, damping
        self.feature_map = feature_map

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def direction(self, loss: Tensor, generated: Tensor) -> SiNGDirection:
        """``d_t`` of eq. (11) for objective value ``loss`` and eSIM samples ``generated``."""
        grads = torch.autograd.grad(loss, self.params, retain_graph=True, allow_unused=True)
        grad_F = flatten(_grad_or_zero(grads, self.params)).detach()
        hvp = sinkhorn_information_hvp(generated, self.params, self.metric, self.feature_map)
        return sing_direction(grad_F, hvp, self.eps_prime, self.cg_iters, self.cg_tol, self.damping)

    def step(self, loss: Tensor, generated: Tensor) -> SiNGStep:
        """One SiNG update, eq. (8), in place on the parameters."""
        res = self.direction(loss, generated)
        with torch.no_grad():
            for p, dp in zip(self.params, unflatten_like(res.direction, self.params)):
                p.add_(dp, alpha=self.lr)
        return SiNGStep(cg_residual=res.cg_residual, cg_iterations=res.cg_iterations, cosine=res.cosine,
                        grad_norm=res.grad_norm, direction_norm=float(res.direction.norm()), fallback=res.fallback)


def dense_sinkhorn_information(generated_fn: Callable[[Tensor], Tensor], theta: Tensor, metric: SinkhornMetric,
                               feature_map: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    r"""The dense eSIM ``Hbar(theta_t)`` (d x d) by ``torch.autograd.functional.hessian``.

    For tests and tiny generators only (the optimizer never forms it).  ``generated_fn`` maps a
    flat parameter vector to the generated samples ``T_theta(z)`` for fixed latents.
    """
    phi = feature_map if feature_map is not None else (lambda t: t)
    theta_t = theta.detach()
    y = phi(generated_fn(theta_t)).detach()

    def s(th: Tensor) -> Tensor:
        return metric.divergence(phi(generated_fn(th)), y)

    return torch.autograd.functional.hessian(s, theta_t)
