"""Sinkhorn Natural Gradient (sinkgan.sing): eSIM, Hessian-vector products, CG, the direction.

A generator small enough for a dense Hessian (an MLP 2 -> 4 -> 3, 27 parameters) on 10
fixed latents, float64, so every quantity can be compared with its dense counterpart.
"""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from sinkgan.sing import (
    SinkhornMetric,
    SinkhornNaturalGradient,
    conjugate_gradient,
    dense_sinkhorn_information,
    flatten,
    sing_direction,
    sinkhorn_information_hvp,
    unflatten_like,
)
from sinkgan.sinkhorn import sinkhorn_divergence

DT = torch.float64
METRIC = SinkhornMetric(gamma=0.5, p=2.0, n_iter=60)


@pytest.fixture()
def tiny():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 3)).to(DT)
    z = torch.randn(10, 2, dtype=DT)
    names = [n for n, _ in G.named_parameters()]
    params = list(G.parameters())
    theta = flatten(params).detach().clone()

    def generated_fn(th):
        return functional_call(G, dict(zip(names, unflatten_like(th, params))), (z,))

    return G, z, params, theta, generated_fn


def dense_H(tiny):
    G, z, params, theta, generated_fn = tiny
    return dense_sinkhorn_information(generated_fn, theta, METRIC)


def test_esim_symmetric_positive_semidefinite(tiny):
    H = dense_H(tiny)
    assert H.shape == (27, 27)
    assert torch.allclose(H, H.T, atol=1e-10 * H.abs().max())
    eig = torch.linalg.eigvalsh(H)
    assert eig.max() > 0
    assert eig.min() >= -1e-6 * eig.max(), f"eSIM has a negative eigenvalue {eig.min():.3e} (max {eig.max():.3e})"


def test_hvp_matches_dense_hessian_columns(tiny):
    G, z, params, theta, generated_fn = tiny
    H = dense_H(tiny)
    hvp = sinkhorn_information_hvp(G(z), params, METRIC)
    V = torch.randn(27, 3, dtype=DT)
    for j in range(3):
        assert torch.allclose(hvp(V[:, j]), H @ V[:, j], rtol=1e-8, atol=1e-10)


def test_hvp_matches_finite_difference_of_gradient(tiny):
    """Hbar v = (grad s(theta_t + h v) - grad s(theta_t - h v)) / 2h + O(h^2), s(th) = S(T_th z, T_theta_t z)."""
    G, z, params, theta, generated_fn = tiny
    y = generated_fn(theta).detach()

    def grad_s(th):
        th = th.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(METRIC.divergence(generated_fn(th), y), th)
        return g

    v = torch.randn(27, dtype=DT)
    v /= v.norm()
    h = 1e-5
    fd = (grad_s(theta + h * v) - grad_s(theta - h * v)) / (2 * h)
    hv = sinkhorn_information_hvp(G(z), params, METRIC)(v)
    assert torch.allclose(hv, fd, rtol=1e-5, atol=1e-7 * fd.abs().max())
    # the gradient of s vanishes at theta_t (first-order condition, eq. 10)
    assert grad_s(theta).abs().max() < 1e-6 * fd.abs().max()


def test_cg_direction_equals_dense_solve(tiny):
    G, z, params, theta, generated_fn = tiny
    H = dense_H(tiny)
    lam, eps_prime = 1e-3, 0.05
    grad_F = torch.randn(27, dtype=DT)
    hvp = sinkhorn_information_hvp(G(z), params, METRIC)
    res = sing_direction(grad_F, hvp, eps_prime=eps_prime, cg_iters=500, cg_tol=1e-12, damping=lam)
    u = torch.linalg.solve(H + lam * torch.eye(27, dtype=DT), grad_F)
    d_dense = -math.sqrt(2 * eps_prime) * u / torch.sqrt(u @ grad_F)
    assert not res.fallback
    assert res.cg_residual <= 1e-10
    assert torch.allclose(res.direction, d_dense, rtol=1e-6, atol=1e-9 * d_dense.abs().max())
    # the direction lies on the boundary of the (damped) second-order Sinkhorn ball: <d, (H + lam) d> = 2 eps'
    Hl = H + lam * torch.eye(27, dtype=DT)
    assert float(res.direction @ Hl @ res.direction) == pytest.approx(2 * eps_prime, rel=1e-6)
    assert 0 < res.cosine <= 1


def test_conjugate_gradient_on_spd_matrix_and_budget():
    torch.manual_seed(1)
    A = torch.randn(20, 20, dtype=DT)
    A = A @ A.T + 0.1 * torch.eye(20, dtype=DT)
    b = torch.randn(20, dtype=DT)
    exact = conjugate_gradient(lambda v: A @ v, b, max_iter=200, tol=1e-13)
    assert torch.allclose(exact.solution, torch.linalg.solve(A, b), rtol=1e-8, atol=1e-10)
    assert exact.residual <= 1e-12 and not exact.negative_curvature
    short = conjugate_gradient(lambda v: A @ v, b, max_iter=3, tol=0.0)
    assert short.iterations == 3
    true_res = float((b - A @ short.solution).norm() / b.norm())
    assert short.residual == pytest.approx(true_res, rel=1e-6)
    # negative curvature on the first direction: CG returns zero, the direction falls back to -grad
    neg = conjugate_gradient(lambda v: -v, b, max_iter=5, tol=1e-8)
    assert neg.negative_curvature and neg.iterations == 0
    d = sing_direction(b, lambda v: -v, eps_prime=0.5, cg_iters=5, cg_tol=1e-8, damping=0.0)
    assert d.fallback and d.cosine == pytest.approx(1.0)


def test_optimizer_step_decreases_objective(tiny):
    """One SiNG step with a small eta decreases F(theta) = S(T_theta z, target) (descent direction)."""
    G, z, params, theta, generated_fn = tiny
    target = torch.randn(10, 3, dtype=DT)

    def F():
        return sinkhorn_divergence(G(z), target, eps=0.5, n_iter=60)

    opt = SinkhornNaturalGradient(G.parameters(), lr=0.1, eps_prime=0.01, metric=METRIC, cg_iters=20,
                                  cg_tol=1e-8, damping=1e-4)
    with torch.no_grad():
        before = float(F())
    x = G(z)
    info = opt.step(sinkhorn_divergence(x, target, eps=0.5, n_iter=60), x)
    with torch.no_grad():
        after = float(F())
    assert info.cosine > 0 and math.isfinite(info.cg_residual)
    assert after < before


def test_feature_map_enters_the_metric(tiny):
    """With an encoder phi the eSIM is that of S(phi(T_theta z), phi(T_theta_t z)) (SiNG 7.2)."""
    G, z, params, theta, generated_fn = tiny
    torch.manual_seed(2)
    enc = nn.Sequential(nn.Linear(3, 5), nn.LeakyReLU(0.2)).to(DT)
    for p in enc.parameters():
        p.requires_grad_(False)
    H = dense_sinkhorn_information(generated_fn, theta, METRIC, feature_map=enc)
    v = torch.randn(27, dtype=DT)
    hv = sinkhorn_information_hvp(G(z), params, METRIC, feature_map=enc)(v)
    assert torch.allclose(hv, H @ v, rtol=1e-8, atol=1e-10)
    assert not torch.allclose(H, dense_H(tiny))


def test_gram_form_divergence_matches_sinkhorn_module():
    torch.manual_seed(3)
    x = torch.randn(7, 5, dtype=DT, requires_grad=True)
    y = torch.randn(9, 5, dtype=DT)
    a = METRIC.divergence(x, y)
    b = sinkhorn_divergence(x, y, eps=METRIC.gamma, p=2.0, n_iter=METRIC.n_iter, grad="autodiff")
    assert torch.allclose(a, b, rtol=1e-10)
    (ga,) = torch.autograd.grad(a, x)
    (gb,) = torch.autograd.grad(b, x)
    assert torch.allclose(ga, gb, rtol=1e-8, atol=1e-12)
    assert float(METRIC.divergence(y, y)) == 0.0


# ----------------------------------------------------------------------------- experiment config and driver
from sinkgan.config import ConfigError  # noqa: E402
from sinkgan.sing_experiments import EXPERIMENTS, load_sing_config, run_experiment  # noqa: E402


@pytest.mark.parametrize("scale", ["smoke", "small", "paper"])
def test_every_sing_experiment_validates_at_every_scale(scale):
    for exp in EXPERIMENTS:
        cfg = load_sing_config(exp, scale)
        assert cfg.experiment == exp and cfg.steps >= 1
    assert load_sing_config("gan", "paper").batch_size == 4000  # the paper's batch (7.3)
    assert (load_sing_config("gan", "paper").objective_gamma, load_sing_config("gan", "paper").constraint_gamma) == (100.0, 1.0)


@pytest.mark.parametrize("override, needle", [
    ("cg_iters=0", "cg_iters: 0 is out of range; allowed [1, 10000]"),
    ("eps_prime=-1.0", "eps_prime: -1.0 is out of range; allowed (0, inf)"),
    ("optimizers=[sing, lbfgs]", "optimizers: 'lbfgs' is not one of sing, adam, amsgrad, rmsprop, sgd"),
    ("datasets=[mnist]", "datasets: 'mnist' is not one of celeba, cifar10"),
    ("cg_tol=2.0", "cg_tol: 2.0 is out of range; allowed [0, 1]"),
])
def test_sing_config_errors_name_field_and_range(override, needle):
    with pytest.raises(ConfigError) as err:
        load_sing_config("l2", "smoke", overrides=[override])
    assert needle in str(err.value)


@pytest.mark.parametrize("standin", ["photos-standin", "fashion-rgb"])
def test_l2_driver_writes_log_and_summary(tmp_path, standin):
    cfg = load_sing_config("l2", "smoke", overrides=[
        "generator=mlp", "ngf=4", "steps=2", "batch_size=8", "max_images=64", "match_time=false", f"standin={standin}"])
    summary = run_experiment(cfg, "smoke", tmp_path)
    import pandas as pd

    log = pd.read_csv(tmp_path / "log.csv")
    assert list(log.columns) == ["step", "wall_seconds", "loss", "cg_residual", "cosine", "optimizer", "dataset", "d_loss"]
    assert set(log["optimizer"]) == {"sing", "adam"}
    sing = log[log["optimizer"] == "sing"]
    assert sing["cg_residual"].notna().all() and (sing["cosine"] > 0).all()
    assert log[log["optimizer"] == "adam"]["cosine"].isna().all()
    assert (log.groupby("optimizer")["wall_seconds"].min() == 0).all()
    assert summary["dataset"] == standin and summary["dataset_is_standin"]
    assert summary["stands_in_for"] == "celeba" and summary["scale"] == "smoke" and summary["commit"]
    assert summary["gpu_seconds"] is None and summary["wall_seconds"] > 0
    assert all(r["dataset_is_standin"] for r in summary["runs"])


# ----------------------------------------------------------------------------- the authors' settings
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

from sinkgan import sing  # noqa: E402
from sinkgan.sing import sinkhorn_divergence_squared_euclidean  # noqa: E402
from sinkgan.sing_experiments import SiNGExperiment  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_summed_potentials_equal_scaled_eps_prime_and_damping(tiny):
    """The authors' eSIM sums the potentials over n particles (n H); their damping lambda and max
    step eps' on n H give the direction of lambda / n and eps' / n on H (the conversion in sinkgan.sing)."""
    G, z, params, theta, generated_fn = tiny
    n, lam, eps_prime = 3000, 0.05, 0.1
    hvp = sinkhorn_information_hvp(G(z), params, METRIC)
    grad_F = torch.randn(27, dtype=DT)
    theirs = sing_direction(grad_F, lambda v: n * hvp(v), eps_prime, cg_iters=200, cg_tol=1e-13, damping=lam)
    ours = sing_direction(grad_F, hvp, eps_prime / n, cg_iters=200, cg_tol=1e-13, damping=lam / n)
    assert not theirs.fallback and not ours.fallback
    torch.testing.assert_close(ours.direction, theirs.direction, rtol=1e-6, atol=1e-9 * float(theirs.direction.abs().max()))
    assert (sing.AUTHORS_EPS_PRIME, sing.AUTHORS_DAMPING) == (eps_prime / n, lam / n)


def test_half_cost_at_eps_is_half_the_full_cost_at_two_eps():
    """geomloss's p = 2 cost |x - y|^2 / 2 at eps 100 (the authors' 7.2 objective) is half of S with
    |x - y|^2 at gamma 200 (this repository's 7.2 objective_gamma)."""
    torch.manual_seed(4)
    x, y = 6 * torch.randn(9, 4, dtype=DT), 6 * torch.randn(11, 4, dtype=DT) + 3
    half = sinkhorn_divergence_squared_euclidean(x / 2 ** 0.5, y / 2 ** 0.5, 100.0, 200)  # |x - y|^2 / 2
    full = sinkhorn_divergence_squared_euclidean(x, y, 200.0, 200)
    assert float(half) > 0 and float(half) == pytest.approx(0.5 * float(full), rel=1e-9)


AUTHORS = {"lr_sing": 30.0, "eps_prime": 0.1 / 3000, "damping": 0.05 / 3000, "cg_tol": 0.0}


@pytest.mark.parametrize("scale", ["small", "paper"])
def test_sing_settings_follow_the_authors_where_the_text_is_silent(scale):
    """shenzebang/Sinkhorn_Descent: eta 30, max step 0.1 and damping 0.05 on an eSIM summed over
    3000 particles, 15 CG steps (20 in their GAN script), blur 10 in 7.2; the text's gammas stay."""
    for exp in EXPERIMENTS:
        cfg = load_sing_config(exp, scale)
        assert {k: getattr(cfg, k) for k in AUTHORS} == AUTHORS, exp
        assert cfg.cg_iters == (20 if exp == "gan" else 15), exp
    assert (load_sing_config("encoder", scale).objective_gamma, load_sing_config("encoder", scale).constraint_gamma) == (200.0, 100.0)
    assert (load_sing_config("l2", scale).objective_gamma, load_sing_config("l2", scale).constraint_gamma) == (0.01, 0.01)
    default = SiNGExperiment()
    assert {k: getattr(default, k) for k in AUTHORS} == AUTHORS and default.cg_iters == 15
    # the SGD-type baselines of their scripts: 7.1 Adam 5e-3; Fig. 1's Adam, AMSGrad and RMSprop at 1e-3;
    # 7.3's discriminator Adam(1e-3, betas (0.5, 0.9), amsgrad)
    l2, enc, gan = (load_sing_config(exp, scale) for exp in ("l2", "encoder", "gan"))
    assert (l2.optimizers, l2.lr_adam) == (["sing", "adam"], 5e-3)
    assert (enc.optimizers, enc.lr_adam, enc.lr_rmsprop) == (["sing", "adam", "amsgrad", "rmsprop"], 1e-3, 1e-3)
    assert (gan.lr_d, gan.d_adam_betas, gan.d_amsgrad, gan.lr_adam) == (1e-3, [0.5, 0.9], True, 1e-3)


def test_the_gan_discriminator_steps_with_amsgrad_and_its_own_betas(tmp_path, monkeypatch):
    from sinkgan import sing_experiments as se

    made = []

    class Recorded(torch.optim.Adam):
        def __init__(self, params, **kw):
            made.append(kw)
            super().__init__(params, **kw)

    monkeypatch.setattr(se.torch.optim, "Adam", Recorded)
    cfg = load_sing_config("gan", "smoke", overrides=["steps=1", "batch_size=8", "max_images=64", "ngf=4", "ndf=4",
                                                      "critic_dim=4", "n_grid=4", "optimizers=[adam]"])
    run_experiment(cfg, "smoke", tmp_path)
    d, g = made  # the discriminator's, then the generator's
    assert (d["lr"], tuple(d["betas"]), d["amsgrad"]) == (cfg.lr_d, (0.5, 0.9), True)
    assert (g["lr"], tuple(g["betas"]), g["amsgrad"]) == (cfg.lr_adam, (0.5, 0.999), False)


@pytest.mark.parametrize("optimizer, g_steps", [("adam", 1), ("adam", 2), ("sing", 3)])
def test_the_gan_takes_g_steps_generator_steps_per_discriminator_round(tmp_path, monkeypatch, optimizer, g_steps):
    """7.3's schedule: a round is n_critic discriminator steps then g_steps_sing (SiNG) or g_steps_sgd
    (Adam) generator steps (the authors: 3 and 2); `steps` counts generator steps, so 5 steps take
    ceil(5 / g_steps) rounds, and the log has every generator step."""
    from sinkgan import sing_experiments as se

    d_steps = []

    class Counted(torch.optim.Adam):
        def step(self, *args, **kw):
            d_steps.append(1)
            return super().step(*args, **kw)

    monkeypatch.setattr(se.torch.optim, "Adam", Counted)  # the discriminator's (and Adam's generator's) optimizer
    other = "g_steps_sgd" if optimizer == "sing" else "g_steps_sing"
    cfg = load_sing_config("gan", "smoke", overrides=[
        "steps=5", "batch_size=8", "max_images=64", "ngf=4", "ndf=4", "critic_dim=4", "n_grid=4", "n_critic=2",
        "cg_iters=2", f"optimizers=[{optimizer}]", f"g_steps_{'sing' if optimizer == 'sing' else 'sgd'}={g_steps}",
        f"{other}=7"])
    rows, _ = se.train_gan(cfg, optimizer, torch.rand(64, 3, 32, 32) * 2 - 1, "photos-standin", torch.device("cpu"), tmp_path)
    rounds = -(-5 // g_steps)
    generator_adam_steps = 5 if optimizer == "adam" else 0
    assert len(d_steps) == 2 * rounds + generator_adam_steps
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]


def test_a_spent_time_budget_stops_either_loop_at_once_even_mid_round(tmp_path):
    """time_budget_s (what match_time gives the SGD-type solvers): the step that spends it is the
    last one and is logged; in 7.3 it also ends a round of g_steps generator steps part-way."""
    from sinkgan import sing_experiments as se

    gan = load_sing_config("gan", "smoke", overrides=[
        "steps=6", "batch_size=8", "max_images=64", "ngf=4", "ndf=4", "critic_dim=4", "n_grid=4", "n_critic=1",
        "optimizers=[adam]", "g_steps_sgd=3", "log_every=100", "time_budget_s=1e-9"])
    rows, wall = se.train_gan(gan, "adam", torch.rand(64, 3, 32, 32) * 2 - 1, "photos-standin", torch.device("cpu"),
                              tmp_path)
    assert [r["step"] for r in rows] == [1] and wall > 0
    l2 = load_sing_config("l2", "smoke", overrides=[
        "generator=mlp", "ngf=4", "steps=6", "batch_size=8", "max_images=64", "log_every=100", "time_budget_s=1e-9"])
    rows, _ = se.minimise_divergence(l2, "adam", torch.rand(64, 3, 32, 32) * 2 - 1, "photos-standin",
                                     torch.device("cpu"))
    assert [r["step"] for r in rows] == [1]
    budget = dataclasses.replace(gan, time_budget_s=0.0)  # 0: no limit
    rows, _ = se.train_gan(budget, "adam", torch.rand(64, 3, 32, 32) * 2 - 1, "photos-standin", torch.device("cpu"),
                           tmp_path)
    assert [r["step"] for r in rows] == [1, 6]


def test_each_sgd_type_solver_is_the_named_torch_optimizer():
    from sinkgan.sing_experiments import OPTIMIZERS, sgd_type_optimizer

    cfg = load_sing_config("encoder", "small")
    w = [torch.nn.Parameter(torch.zeros(3))]
    built = {name: sgd_type_optimizer(name, w, cfg) for name in OPTIMIZERS if name != "sing"}
    assert type(built["adam"]) is torch.optim.Adam and not built["adam"].defaults["amsgrad"]
    assert type(built["amsgrad"]) is torch.optim.Adam and built["amsgrad"].defaults["amsgrad"]
    assert built["amsgrad"].defaults["betas"] == tuple(cfg.adam_betas) and built["amsgrad"].defaults["lr"] == cfg.lr_adam
    assert type(built["rmsprop"]) is torch.optim.RMSprop and built["rmsprop"].defaults["lr"] == cfg.lr_rmsprop
    assert type(built["sgd"]) is torch.optim.SGD and built["sgd"].defaults["lr"] == cfg.lr_sgd
    with pytest.raises(ConfigError, match=r"d_adam_betas: \[0.5, 1.0\] must be two numbers, each in \[0, 1\)"):
        load_sing_config("gan", "small", overrides=["d_adam_betas=[0.5, 1.0]"])


@pytest.mark.parametrize("scale", ["smoke", "small"])
def test_the_72_encoder_was_trained_on_the_stand_in_that_sing_matches(scale):
    """On stand-in data, 7.2's fixed encoder (the discriminator of a study run) encodes the images
    it was trained on: the SiNG stand-in of the scale is that run's data set (fashion-rgb at small)."""
    from sinkgan.study import Study

    cfg = load_sing_config("encoder", scale)
    run = Study.load(scale, root=REPO).figure_runs(cfg.encoder_figure)[cfg.encoder_index]
    assert run.config.dataset == cfg.standin
    assert all(load_sing_config(exp, scale).standin == cfg.standin for exp in EXPERIMENTS)


def test_smoke_scale_stays_cheap():
    for exp in EXPERIMENTS:
        cfg = load_sing_config(exp, "smoke")
        assert cfg.device == "cpu" and cfg.cg_iters <= 5 and cfg.steps <= 8 and cfg.batch_size <= 32


def test_every_sing_deviation_names_a_setting_and_the_open_settings_have_one():
    rows = yaml.safe_load((REPO / "config" / "deviations.yaml").read_text())["deviations"]
    keys = [r["switch"].split(".", 1)[1] for r in rows if (r["switch"] or "").startswith("sing.")]
    assert set(keys) <= set(SiNGExperiment.__dataclass_fields__)
    assert {"lr_sing", "eps_prime", "damping", "cg_iters", "objective_gamma", "constraint_gamma"} <= set(keys)
    assert "README" not in sing.__doc__ and "config/deviations.yaml" in sing.__doc__
