r"""The experiments of the SiNG paper (Section 7), as drivers for the Snakemake DAG.

``l2`` (7.1)
    ``min_theta F(theta) = S_gamma(alpha_theta, beta)`` (SiNG eq. 30), ``beta`` = CelebA, ground
    cost the squared l2 distance between pixel vectors, ``gamma = 0.01`` for the objective and
    the constraint; generator loss against wall-clock time, SiNG vs Adam.
``encoder`` (7.2, SiNG Fig. 1)
    the same with ``c_xi(x, y) = ||phi_xi(x) - phi_xi(y)||^2``, ``phi_xi`` a FIXED pretrained
    encoder: the discriminator ``D`` of a GAN run of this repository (the CelebA run of
    ``fig07`` at the same scale, :func:`sinkgan.rundir.load_networks`), on CelebA and
    CIFAR-10; SiNG vs Adam, AMSGrad and RMSprop (the authors' Fig. 1) from one common random initialisation.  The text
    gives no gamma here: the authors' blur 10 is objective ``gamma = 200`` and constraint
    ``gamma = 100`` on this repository's cost ``|x - y|^2`` (config/deviations.yaml).
    Deviation: the paper pretrains one encoder per data set (by SiNG on the generator, SGD on
    ``xi``); this study has no CIFAR-10 GAN run, so the CelebA run's D is the encoder for both
    (named in ``summary.json`` and on the figure; ``--encoder-run`` / ``encoder_figure`` change it).
``gan`` (7.3, SiNG Fig. 2)
    the GAN of SiNG eq. 7, ``min_theta max_xi S_{c_xi}(alpha_theta, beta)``, ``c_xi`` the
    repository's discriminator features (squared l2), objective ``gamma = 100``, constraint
    ``gamma = 1``, Adam (1e-3) for the discriminator; the generator by SiNG or by Adam; sample
    grids from 64 (``n_grid``) fixed latents.

Generators: the repository's DCGAN/ResNet generators (:func:`sinkgan.models.build_generator`,
the paper uses a DCGAN generator in all three); ``generator: mlp`` selects :class:`MLPGenerator`,
a two-layer perceptron defined here, for quick checks only (documented, not the paper's).

Every experiment writes ``<out>/log.csv`` with columns
``step, wall_seconds, loss, cg_residual, cosine, optimizer, dataset, d_loss`` (``cg_residual``
and ``cosine`` are empty for the SGD-type optimizers, ``d_loss`` is empty outside 7.3; row ``k`` holds ``loss`` = ``F(theta_{k-1})`` on step k's
mini-batch, i.e. before update k, and ``wall_seconds`` = the time spent in steps 1..k-1 of that
optimizer (logging excluded), so every curve starts at time 0 from the common initialisation) and, last, ``summary.json``
(data sets with their stand-in status, scale, resolved settings, code commit, device, per-run
final losses; ``runs`` holds one provenance record per (data set, optimizer) in the format of
:func:`sinkgan.plotting.stamp`).  With ``match_time`` (default) SiNG runs ``steps`` steps first and
each SGD-type optimizer then runs for the same wall-clock time (the paper compares loss against time).  Command line (the Snakemake rule's command)::

    python -m sinkgan.sing_experiments {l2,encoder,gan} --scale smoke --out results/smoke/sing/l2
"""
from __future__ import annotations

import argparse
import csv
import io
import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import torch
import yaml
from torch import nn

from .progress import Progress
from .config import ConfigError, check_adam_betas, check_max_images, parse_override, validate
from .config import setting as _f
from .sing import (AUTHORS_CG_ITERS, AUTHORS_DAMPING, AUTHORS_EPS_PRIME, AUTHORS_ETA, SinkhornMetric,
                   SinkhornNaturalGradient)
from .train import resolve_device

EXPERIMENTS = ("l2", "encoder", "gan")
PAPER_DATASETS = ("celeba", "cifar10")
#: the offline stand-ins for the colour sets (sinkgan.data): the photo crops (smoke) or Fashion-MNIST
#: in three channels (small: the data the study's ResNet runs, and so the 7.2 encoder, train on)
STANDINS = ("photos-standin", "fashion-rgb")
#: SiNG and the SGD-type solvers it is compared with (the order sets each one's style in every figure)
OPTIMIZERS = ("sing", "adam", "amsgrad", "rmsprop", "sgd")
LOG_COLUMNS = ("step", "wall_seconds", "loss", "cg_residual", "cosine", "optimizer", "dataset", "d_loss")
OPTIMIZER_LABELS = {"sing": "SiNG", "adam": "Adam", "amsgrad": "AMSGrad", "rmsprop": "RMSprop", "sgd": "SGD"}
DEFAULT_CONFIG = Path("config/sing.yaml")
INF = math.inf


@dataclass
class SiNGExperiment:
    """One SiNG experiment at one scale (``config/sing.yaml``, resolved)."""

    experiment: str = _f("l2", "which experiment of SiNG Section 7", choices=EXPERIMENTS)
    section: str = _f("7.1", "section of the SiNG paper (for the record)")
    figure: str = _f("sing71", "figure target drawn from this experiment")
    datasets: list = _f(["celeba"], "paper data sets, each one of celeba, cifar10")
    ground_cost: str = _f("pixels", "features the squared-l2 ground cost is computed on",
                          choices=("pixels", "encoder", "discriminator"))
    data: str = _f("standin", "train on the paper's data (real) or the offline stand-in named by standin",
                   choices=("real", "standin"))
    standin: str = _f("photos-standin", "the offline stand-in for every colour data set (with data=standin)",
                      choices=STANDINS)
    data_root: str = _f("data", "folder of prepared data sets and the cache")
    max_images: int = _f(0, "keep the first N images of each data set (0 = all)", range=(0, INF))
    # networks
    generator: str = _f("dcgan", "generator: the repository's dcgan/resnet, or mlp (quick checks)",
                        choices=("dcgan", "resnet", "mlp"))
    z_dim: int = _f(100, "latent dimension", range=(1, 4096))
    ngf: int = _f(64, "generator width", range=(1, 1024))
    ndf: int = _f(64, "discriminator width (gan)", range=(1, 1024))
    critic_dim: int = _f(100, "discriminator feature length (gan)", range=(1, 4096))
    d_arch: str = _f("dcgan", "discriminator architecture (gan)", choices=("dcgan", "resnet"))
    d_spectral_norm: bool = _f(True, "spectral norm on the discriminator (gan)")
    encoder_figure: str = _f("fig07", "study figure whose run provides the encoder D (encoder)")
    encoder_index: int = _f(0, "index of that run in the figure's run list", range=(0, 100))
    # the divergence
    objective_gamma: float = _f(0.01, "entropic regularisation gamma of the objective S",
                                range=(0, INF), lo_open=True, hi_open=True)
    constraint_gamma: float = _f(0.01, "entropic regularisation gamma of the SiNG constraint (the eSIM)",
                                 range=(0, INF), lo_open=True, hi_open=True)
    p: float = _f(2.0, "ground-cost exponent (2: squared l2)", range=(0, INF), lo_open=True, hi_open=True)
    n_iter: int = _f(10, "Sinkhorn iterations L of the objective", range=(1, 100000))
    constraint_n_iter: int = _f(10, "Sinkhorn iterations L of the constraint", range=(1, 100000))
    # optimisation
    optimizers: list = _f(["sing", "adam"], "optimizers compared, each one of " + ", ".join(OPTIMIZERS))
    steps: int = _f(100, "generator steps per optimizer", range=(1, 10**9))
    time_budget_s: float = _f(0.0, "stop an optimizer after this many seconds of steps (0 = no limit)",
                              range=(0, INF), hi_open=True)
    match_time: bool = _f(True, "run the SGD-type optimizers for the wall-clock time SiNG took (at most "
                                "max_steps_factor * steps steps), for a loss-vs-time comparison over one time span")
    max_steps_factor: int = _f(50, "step cap of match_time, as a multiple of steps", range=(1, 10**6))
    batch_size: int = _f(64, "mini-batch size n (generated and real)", range=(2, 100000))
    # SiNG: the text is silent; defaults are the authors' settings (sinkgan.sing, config/deviations.yaml)
    lr_sing: float = _f(AUTHORS_ETA, "SiNG step size eta (eq. 8)", range=(0, INF), lo_open=True, hi_open=True)
    eps_prime: float = _f(AUTHORS_EPS_PRIME, "SiNG Sinkhorn-ball radius eps' (eq. 11)",
                          range=(0, INF), lo_open=True, hi_open=True)
    cg_iters: int = _f(AUTHORS_CG_ITERS, "conjugate-gradient iterations", range=(1, 10000))
    cg_tol: float = _f(0.0, "CG relative residual tolerance (0: run all cg_iters)", range=(0, 1))
    damping: float = _f(AUTHORS_DAMPING, "Tikhonov damping lambda of the eSIM (H + lambda I)",
                        range=(0, INF), hi_open=True)
    lr_adam: float = _f(1e-3, "Adam (and AMSGrad) step size", range=(0, 1), lo_open=True)
    adam_betas: list = _f([0.5, 0.999], "Adam (and AMSGrad) (beta1, beta2), each in [0, 1)")
    lr_rmsprop: float = _f(1e-3, "RMSprop step size", range=(0, 1), lo_open=True)
    lr_sgd: float = _f(1e-2, "SGD step size", range=(0, INF), lo_open=True, hi_open=True)
    lr_d: float = _f(1e-3, "discriminator Adam step size (gan)", range=(0, 1), lo_open=True)
    d_adam_betas: list = _f([0.5, 0.9], "discriminator Adam (beta1, beta2) (gan), each in [0, 1)")
    d_amsgrad: bool = _f(True, "the discriminator's Adam in its AMSGrad form (gan)")
    n_critic: int = _f(1, "discriminator steps per round (gan)", range=(1, 1000))
    g_steps_sing: int = _f(1, "generator steps per round after the discriminator's, by SiNG (gan)", range=(1, 1000))
    g_steps_sgd: int = _f(1, "generator steps per round after the discriminator's, by an SGD-type solver (gan)",
                          range=(1, 1000))
    n_grid: int = _f(64, "fixed latents in the sample grid (gan)", range=(1, 1024))
    seed: int = _f(0, "seed of the common ('consensus') initialisation and of the draws", range=(0, 2**63 - 1))
    device: str = _f("auto", "cpu, cuda, or auto", choices=("auto", "cpu", "cuda"))
    log_every: int = _f(1, "log every k steps", range=(1, 10**9))
    threads: int = _f(0, "CPU threads for torch (0 = torch's default)", range=(0, 1024))

    def check(self) -> None:
        """Cross-field checks (run by :func:`sinkgan.config.validate`)."""
        for ds in self.datasets:
            if ds not in PAPER_DATASETS:
                raise ConfigError(f"datasets: {ds!r} is not one of {', '.join(PAPER_DATASETS)}")
        if not self.datasets:
            raise ConfigError("datasets: at least one of celeba, cifar10")
        for opt in self.optimizers:
            if opt not in OPTIMIZERS:
                raise ConfigError(f"optimizers: {opt!r} is not one of {', '.join(OPTIMIZERS)}")
        if not self.optimizers or len(set(self.optimizers)) != len(self.optimizers):
            raise ConfigError(f"optimizers: {self.optimizers!r} must be a non-empty list without repeats")
        self.adam_betas = check_adam_betas(self.adam_betas)
        self.d_adam_betas = check_adam_betas(self.d_adam_betas, "d_adam_betas")
        expected = {"l2": "pixels", "encoder": "encoder", "gan": "discriminator"}[self.experiment]
        if self.ground_cost != expected:
            raise ConfigError(f"ground_cost: experiment {self.experiment} uses {expected!r}, got {self.ground_cost!r}")
        check_max_images(self.max_images, self.batch_size)


def load_sing_config(experiment: str, scale: str, path: str | Path = DEFAULT_CONFIG,
                     overrides: list[str] | tuple[str, ...] = ()) -> SiNGExperiment:
    """Resolve ``experiments.<experiment>`` <- ``scales.<scale>.all`` <- ``scales.<scale>.<experiment>``
    <- ``key=value`` overrides, and validate (errors name the field and its allowed range)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"SiNG config {str(path)!r} does not exist")
    spec = yaml.safe_load(path.read_text()) or {}
    experiments, scales = spec.get("experiments", {}), spec.get("scales", {})
    if experiment not in experiments:
        raise ConfigError(f"experiment: {experiment!r} is not one of {', '.join(experiments)} ({path})")
    if scale not in scales:
        raise ConfigError(f"scale: {scale!r} is not one of {', '.join(scales)} ({path})")
    sc = scales[scale] or {}
    mapping = {"experiment": experiment, **(experiments[experiment] or {}), **(sc.get("all") or {}),
               **(sc.get(experiment) or {})}
    for item in overrides:
        key, value = parse_override(item)
        mapping[key] = value
    try:
        return validate(SiNGExperiment, mapping)
    except ConfigError as err:
        raise ConfigError(f"{path}, experiment {experiment}, scale {scale}: {err}") from None


# ----------------------------------------------------------------------------- networks
class MLPGenerator(nn.Module):
    """A small generator for quick checks (``generator: mlp``; not the paper's DCGAN):
    ``z -> Linear(z_dim, 4 ngf) -> ReLU -> Linear(4 ngf, 3*32*32) -> tanh``, reshaped to images."""

    def __init__(self, z_dim: int, ngf: int, channels: int = 3):
        super().__init__()
        self.channels = channels
        self.net = nn.Sequential(nn.Linear(z_dim, 4 * ngf), nn.ReLU(), nn.Linear(4 * ngf, channels * 32 * 32), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, self.channels, 32, 32)


def build_sing_generator(cfg: SiNGExperiment, channels: int = 3) -> nn.Module:
    """The generator ``T_theta`` (seeded by the caller for the common initialisation)."""
    if cfg.generator == "mlp":
        return MLPGenerator(cfg.z_dim, cfg.ngf, channels)
    from .models import build_generator

    return build_generator(cfg.generator, channels, z_dim=cfg.z_dim, ngf=cfg.ngf)


def encoder_run_dir(cfg: SiNGExperiment, scale: str) -> Path:
    """The GAN run whose discriminator is the fixed encoder of 7.2 (``encoder_figure``/``encoder_index``)."""
    from .study import Study

    runs = Study.load(scale).figure_runs(cfg.encoder_figure)
    if cfg.encoder_index >= len(runs):
        raise ConfigError(f"encoder_index: {cfg.encoder_index} out of range; figure {cfg.encoder_figure} "
                          f"has {len(runs)} runs (allowed [0, {len(runs) - 1}])")
    return Path(runs[cfg.encoder_index].run_dir)


def load_encoder(run_dir: Path, device: torch.device) -> tuple[nn.Module, dict]:
    """``phi_xi``: the frozen discriminator of a finished GAN run, with what it was trained on."""
    from .rundir import load_networks

    run_dir = Path(run_dir)
    if not (run_dir / "summary.json").is_file():
        raise FileNotFoundError(f"encoder run {run_dir} is missing or unfinished (no summary.json); train it first, "
                                f"e.g. `snakemake --cores 2 {run_dir / 'summary.json'}`")
    _, D, tcfg = load_networks(run_dir, device)
    D.eval()
    for q in D.parameters():
        q.requires_grad_(False)
    return D, {"run_dir": str(run_dir), "run_id": run_dir.name, "dataset": tcfg.dataset, "arch": tcfg.arch}


# ----------------------------------------------------------------------------- helpers
def generator_update(opt, optimizer: str, loss: torch.Tensor, x: torch.Tensor):
    """One generator step: SiNG takes the loss and the generated batch (it needs both for the
    eSIM); a first-order optimizer back-propagates the loss.  Returns SiNG's step info or None."""
    if optimizer == "sing":
        return opt.step(loss, x)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def data_id(cfg: SiNGExperiment, paper_dataset: str) -> str:
    return cfg.standin if cfg.data == "standin" else paper_dataset


def sgd_type_optimizer(name: str, params, cfg: SiNGExperiment) -> torch.optim.Optimizer:
    if name in ("adam", "amsgrad"):
        return torch.optim.Adam(params, lr=cfg.lr_adam, betas=tuple(cfg.adam_betas), amsgrad=name == "amsgrad")
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr_rmsprop)
    if name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr_sgd)
    raise ValueError(f"not an SGD-type optimizer: {name!r}")


def _divergence(gamma: float, cfg: SiNGExperiment, n_iter: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The objective ``S_gamma`` on flattened samples: the same code as the SiNG constraint
    (:class:`sinkgan.sing.SinkhornMetric`, Gram-form squared l2 for p = 2), autodiff gradients."""
    return SinkhornMetric(gamma=gamma, p=cfg.p, n_iter=n_iter).divergence


def _row(step, wall, loss, optimizer, dataset, info=None, d_loss=None) -> dict:
    return {"step": step, "wall_seconds": wall, "loss": loss,
            "cg_residual": "" if info is None else info.cg_residual,
            "cosine": "" if info is None else info.cosine,
            "optimizer": optimizer, "dataset": dataset, "d_loss": "" if d_loss is None else d_loss}


# ----------------------------------------------------------------------------- 7.1 / 7.2
def minimise_divergence(cfg: SiNGExperiment, optimizer: str, images: torch.Tensor, dataset: str,
                        device: torch.device, encoder: nn.Module | None = None) -> tuple[list[dict], float]:
    r"""Minimise ``F(theta) = S_gamma(phi(T_theta # mu), phi(beta))`` with one optimizer (7.1, 7.2).

    ``phi`` is the identity (7.1, pixels) or the frozen encoder (7.2).  Every optimizer starts from
    the same initialisation (seed ``cfg.seed``) and sees the same sequence of mini-batches.
    Returns the log rows and the total time of the steps.
    """
    torch.manual_seed(cfg.seed)
    G = build_sing_generator(cfg).to(device).train()
    rng = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    phi = encoder if encoder is not None else (lambda t: t)
    S = _divergence(cfg.objective_gamma, cfg, cfg.n_iter)
    if optimizer == "sing":
        metric = SinkhornMetric(gamma=cfg.constraint_gamma, p=cfg.p, n_iter=cfg.constraint_n_iter)
        opt = SinkhornNaturalGradient(G.parameters(), lr=cfg.lr_sing, eps_prime=cfg.eps_prime, metric=metric,
                                      cg_iters=cfg.cg_iters, cg_tol=cfg.cg_tol, damping=cfg.damping,
                                      feature_map=encoder)
    else:
        opt = sgd_type_optimizer(optimizer, G.parameters(), cfg)
    rows, wall = [], 0.0
    progress = Progress(f"sing {optimizer} on {dataset}", cfg.steps, unit="step")
    for step in range(1, cfg.steps + 1):
        wall_before = wall
        _sync(device)
        t0 = time.perf_counter()
        z = torch.randn(cfg.batch_size, cfg.z_dim, device=device, generator=rng)
        idx = torch.randint(images.shape[0], (cfg.batch_size,), device=device, generator=rng)
        with torch.no_grad():
            y = phi(images.index_select(0, idx))
        x = G(z)
        loss = S(phi(x), y)
        info = generator_update(opt, optimizer, loss, x)
        _sync(device)
        wall += time.perf_counter() - t0
        if step == 1 or step % cfg.log_every == 0 or step == cfg.steps:
            rows.append(_row(step, wall_before, float(loss.detach()), optimizer, dataset, info))
            progress.update(step, loss=rows[-1]["loss"])
        if _over_budget(cfg, wall):
            if rows[-1]["step"] != step:
                rows.append(_row(step, wall_before, float(loss.detach()), optimizer, dataset, info))
            break
    return rows, wall


def _over_budget(cfg: SiNGExperiment, wall: float) -> bool:
    """Whether an optimizer has spent its time budget (`time_budget_s`, 0 = no limit) on steps."""
    return bool(cfg.time_budget_s) and wall >= cfg.time_budget_s


# ----------------------------------------------------------------------------- 7.3
def train_gan(cfg: SiNGExperiment, optimizer: str, images: torch.Tensor, dataset: str, device: torch.device,
              out: Path) -> tuple[list[dict], float]:
    r"""The GAN of SiNG eq. 7, ``min_theta max_xi S_{gamma_obj}(D_xi(T_theta z), D_xi(y))``.

    Training alternates rounds: ``n_critic`` Adam (AMSGrad, ``d_amsgrad``) ascent steps on ``xi``
    (fresh batches), then ``g_steps_sing`` (SiNG) or ``g_steps_sgd`` (Adam) generator steps, the
    first on the discriminator's last batch, each further one on a fresh batch; by SiNG (constraint
    ``S_{gamma_con}`` on the same features ``D_xi``, i.e. the eSIM of the current learned cost) or
    by Adam.  ``steps`` counts generator steps.  Writes ``samples_<optimizer>.png``.
    """
    from .models import build_discriminator
    from .images import image_grid, save_png

    torch.manual_seed(cfg.seed)
    G = build_sing_generator(cfg).to(device).train()
    D = build_discriminator(cfg.d_arch, 3, ndf=cfg.ndf, critic_dim=cfg.critic_dim,
                            spectral_norm=cfg.d_spectral_norm).to(device).train()
    z_fixed = torch.randn(cfg.n_grid, cfg.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 2)).to(device)
    rng = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    S = _divergence(cfg.objective_gamma, cfg, cfg.n_iter)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=tuple(cfg.d_adam_betas), amsgrad=cfg.d_amsgrad)
    g_params = list(G.parameters())
    if optimizer == "sing":
        metric = SinkhornMetric(gamma=cfg.constraint_gamma, p=cfg.p, n_iter=cfg.constraint_n_iter)
        opt_g = SinkhornNaturalGradient(g_params, lr=cfg.lr_sing, eps_prime=cfg.eps_prime, metric=metric,
                                        cg_iters=cfg.cg_iters, cg_tol=cfg.cg_tol, damping=cfg.damping, feature_map=D)
    else:
        opt_g = sgd_type_optimizer(optimizer, g_params, cfg)
    g_steps = cfg.g_steps_sing if optimizer == "sing" else cfg.g_steps_sgd

    def batch():
        z = torch.randn(cfg.batch_size, cfg.z_dim, device=device, generator=rng)
        idx = torch.randint(images.shape[0], (cfg.batch_size,), device=device, generator=rng)
        return z, images.index_select(0, idx)

    rows, wall, step = [], 0.0, 0
    progress = Progress(f"sing {optimizer} on {dataset}", cfg.steps, unit="step")
    while step < cfg.steps:
        for g_step in range(g_steps):  # the round's discriminator steps count in its first generator step's time
            wall_before = wall
            _sync(device)
            t0 = time.perf_counter()
            if g_step == 0:
                D.train()
                for _ in range(cfg.n_critic):
                    z, y = batch()
                    with torch.no_grad():
                        x = G(z)
                    fx, fy = D(torch.cat([x, y])).split(cfg.batch_size)  # one forward: one power iteration
                    d_loss = S(fx, fy)
                    opt_d.zero_grad(set_to_none=True)
                    (-d_loss).backward()
                    opt_d.step()
                # generator steps: the cost c_xi is frozen (eval mode: spectral-norm estimates not refreshed,
                # so every D call of the objective and of the eSIM sees the same feature map)
                D.eval()
            else:
                z, y = batch()
            x = G(z)
            with torch.no_grad():
                dy = D(y)
            g_loss = S(D(x), dy)
            info = generator_update(opt_g, optimizer, g_loss, x)
            D.zero_grad(set_to_none=True)
            _sync(device)
            wall += time.perf_counter() - t0
            step += 1
            if step == 1 or step % cfg.log_every == 0 or step == cfg.steps:
                rows.append(_row(step, wall_before, float(g_loss.detach()), optimizer, dataset, info, float(d_loss.detach())))
                progress.update(step, g_loss=rows[-1]["loss"])
            over_budget = _over_budget(cfg, wall)
            if step == cfg.steps or over_budget:
                break
        if over_budget:
            if rows[-1]["step"] != step:
                rows.append(_row(step, wall_before, float(g_loss.detach()), optimizer, dataset, info, float(d_loss.detach())))
            break
    G.eval()
    with torch.no_grad():
        grid = image_grid(G(z_fixed), nrow=int(math.ceil(math.sqrt(cfg.n_grid))))
    save_png(out / f"samples_{optimizer}.png", grid)
    return rows, wall


# ----------------------------------------------------------------------------- the driver
def _write_csv(path: Path, rows: list[dict]) -> None:
    from .atomic import atomic_write_text

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(LOG_COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())


def run_experiment(cfg: SiNGExperiment, scale: str, out: str | Path, encoder_run: str | Path | None = None) -> dict:
    """Run every (data set, optimizer) pair of ``cfg``; write ``log.csv``, then ``summary.json``."""
    from .atomic import atomic_write_json
    from .data import load_dataset
    from .provenance import device_time, provenance

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").unlink(missing_ok=True)  # written last: its presence marks completion
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    prov = provenance(device)
    encoder, encoder_info = None, None
    if cfg.experiment == "encoder":
        run_dir = Path(encoder_run) if encoder_run is not None else encoder_run_dir(cfg, scale)
        encoder, encoder_info = load_encoder(run_dir, device)
    rows: list[dict] = []
    datasets, results, stamps = [], {}, []
    t_start = time.perf_counter()
    for paper_ds in cfg.datasets:
        ds = load_dataset(data_id(cfg, paper_ds), cfg.data_root, max_images=cfg.max_images)
        if ds.images.shape[1] != 3:
            raise ValueError(f"data set {ds.name} has {ds.images.shape[1]} channels; SiNG experiments use colour images")
        if len(ds) < cfg.batch_size:
            raise ConfigError(f"batch_size: {cfg.batch_size} exceeds the {len(ds)} images of {ds.name}")
        images = ds.images.to(device)
        label = f"{paper_ds}.{ds.name}" if ds.name != paper_ds else paper_ds
        datasets.append({"paper_dataset": paper_ds, "dataset": ds.name, "dataset_is_standin": bool(ds.is_standin),
                         "stands_in_for": paper_ds if ds.is_standin else None, "source": ds.source,
                         "scale": scale, "iterations": cfg.steps, "commit": prov["commit"]})
        sing_wall = None
        for opt in sorted(cfg.optimizers, key=lambda o: o != "sing"):  # SiNG first (its time sets match_time)
            run_cfg = cfg
            if cfg.match_time and opt != "sing" and sing_wall is not None:
                budget = min(sing_wall, cfg.time_budget_s) if cfg.time_budget_s else sing_wall
                run_cfg = replace(cfg, steps=cfg.steps * cfg.max_steps_factor, time_budget_s=budget)
            if cfg.experiment == "gan":
                r, run_wall = train_gan(run_cfg, opt, images, label, device, out)
            else:
                r, run_wall = minimise_divergence(run_cfg, opt, images, label, device, encoder)
            if opt == "sing":
                sing_wall = run_wall
            rows += r
            stamps.append({"dataset": ds.name, "dataset_is_standin": bool(ds.is_standin),
                           "stands_in_for": paper_ds if ds.is_standin else None, "scale": scale,
                           "iterations": int(r[-1]["step"]), "commit": prov["commit"], "optimizer": opt})
            tail = r[-max(1, len(r) // 10):]
            results[f"{label}/{opt}"] = {
                "dataset": label, "optimizer": opt, "steps": r[-1]["step"], "wall_seconds": run_wall,
                "first_loss": r[0]["loss"], "final_loss": sum(x["loss"] for x in tail) / len(tail),
                "mean_cosine": (sum(x["cosine"] for x in r) / len(r)) if opt == "sing" else None,
                "max_cg_residual": max(x["cg_residual"] for x in r) if opt == "sing" else None,
            }
    _write_csv(out / "log.csv", rows)
    names = sorted({d["dataset"] for d in datasets})
    summary = {
        "experiment": cfg.experiment, "section": cfg.section, "figure": cfg.figure, "scale": scale,
        "dataset": ", ".join(names), "dataset_is_standin": any(d["dataset_is_standin"] for d in datasets),
        "stands_in_for": ", ".join(d["paper_dataset"] for d in datasets if d["dataset_is_standin"]) or None,
        "datasets": datasets, "iterations": cfg.steps, "encoder": encoder_info, "results": results,
        "runs": stamps,
        "wall_seconds": (wall := time.perf_counter() - t_start), "device": prov["device"], "commit": prov["commit"],
        "torch": prov["torch"], **device_time(device, wall), "config": asdict(cfg),
    }
    atomic_write_json(out / "summary.json", summary)
    return summary


def read_results(results_dir: str | Path, experiment: str):
    """``(summary dict, log DataFrame)`` of a finished experiment under ``results/<scale>/sing/<experiment>/``
    (for the figure notebooks; they never train)."""
    import json

    import pandas as pd

    d = Path(results_dir) / "sing" / experiment
    if not (d / "summary.json").is_file():
        raise FileNotFoundError(f"{d} has no summary.json (missing or unfinished); run it first, e.g. "
                                f"`snakemake --cores 2 {d / 'summary.json'}`")
    summary = json.loads((d / "summary.json").read_text())
    log = pd.read_csv(d / "log.csv")
    missing = [c for c in LOG_COLUMNS if c not in log.columns]
    if missing:
        raise ValueError(f"{d / 'log.csv'}: missing column(s) {missing}")
    return summary, log


def configure(ap: argparse.ArgumentParser) -> None:
    """Add the arguments of ``sinkgan sing`` to ``ap``."""
    ap.add_argument("experiment", choices=EXPERIMENTS, help="l2 (Section 7.1), encoder (7.2) or gan (7.3)")
    ap.add_argument("--scale", default="smoke", help="scale in config/sing.yaml (smoke, small, paper)")
    ap.add_argument("--out", required=True, help="output folder, e.g. results/smoke/sing/l2")
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="the SiNG config (default config/sing.yaml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    ap.add_argument("--encoder-run", default=None, help="run folder whose discriminator is the 7.2 encoder")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sinkgan.sing_experiments", description=__doc__.split("\n\n")[0])
    configure(ap)
    return run(ap.parse_args(argv))


def run(args) -> int:
    """Run the SiNG experiment a parsed ``sinkgan sing`` command names."""
    try:
        cfg = load_sing_config(args.experiment, args.scale, args.config, args.set)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    summary = run_experiment(cfg, args.scale, args.out, args.encoder_run)
    for key, r in summary["results"].items():
        print(f"{key}: {r['steps']} steps, {r['wall_seconds']:.1f} s, loss {r['first_loss']:.4g} -> {r['final_loss']:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
