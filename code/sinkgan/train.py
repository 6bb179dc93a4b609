r"""The training loop: Algorithm 1 (SeqSGDA), its simultaneous variant, and SGD-AutoDiff.

One outer iteration of ``seqsgda`` (Algorithm 1 of the paper)::

    repeat n_critic times:                      # critic: ascend S_eps   (eq. 26, max over phi)
        y ~ data (fresh mini-batch of m),  z ~ N(0, I) (fresh)
        phi <- phi + alpha * Adam( grad_phi S_eps(D_phi(G_theta(z)), D_phi(y)) )
    theta <- theta - alpha * Adam( grad_theta W_eps(D_phi(G_theta(z)), D_phi(y)) )   # same y, z as the last critic step

with the learned ground cost ``c_phi(a, b) = ||D_phi(a) - D_phi(b)||^p`` (eq. 20) and spectral
norm on every layer of ``D``.  ``simsgda`` evaluates both gradients at the same point and
updates both players at once (n_critic = 1).  ``sgd-autodiff`` is the baseline of Genevay et al.
(2018): both players on the same ``S_eps``, weight clipping on ``D`` instead of spectral norm.

Written for speed: data and latents live on the training device, batch shapes are static, and
nothing is read back to the host inside an iteration.  Losses are written into a device buffer
and read every ``log_every`` iterations; so whole steps can be captured in CUDA graphs.
"""
from __future__ import annotations

import copy
import csv
import io
import json
import math
import random
import signal
import time
from pathlib import Path

import numpy as np
import torch

from . import checkpoint as ckpt_io
from .config import ConfigError, TrainConfig
from .data import DATASETS, load_dataset
from .models import build_discriminator, build_generator, clip_weights_
from .provenance import git_commit, provenance
from .sinkhorn import entropic_ot, sinkhorn_divergence

LOG_COLUMNS = ("iteration", "gen_updates", "critic_updates", "g_loss", "d_loss", "wall_seconds")


class Interrupted(Exception):
    """Training stopped on a signal after writing a checkpoint."""

    def __init__(self, signum: int, iteration: int):
        super().__init__(f"stopped by signal {signum} at iteration {iteration}; checkpoint written")
        self.signum = signum
        self.iteration = iteration


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' requested but no CUDA device is available (allowed here: auto, cpu)")
    return torch.device(name)


def data_channels(dataset: str) -> int:
    return DATASETS[dataset].channels


def build_networks(cfg: TrainConfig, device) -> tuple[torch.nn.Module, torch.nn.Module]:
    """``(G, D)`` for ``cfg``; spectral norm on D except for the SGD-AutoDiff baseline."""
    channels = data_channels(cfg.dataset)
    G = build_generator(cfg.arch, channels, z_dim=cfg.z_dim, ngf=cfg.ngf)
    D = build_discriminator(
        cfg.arch, channels, ndf=cfg.ndf, critic_dim=cfg.critic_dim, k_sn=cfg.k_sn,
        spectral_norm=cfg.variant != "sgd-autodiff",
    )
    return G.to(device), D.to(device)


def build_optimizer(params, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(cfg.adam_betas))
    return torch.optim.RMSprop(params, lr=lr)


def image_grid(images: torch.Tensor, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """Tile (n, C, H, W) images in [-1, 1] into one uint8 (H', W', C) array."""
    images = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    n, c, h, w = images.shape
    rows = math.ceil(n / nrow)
    grid = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), 255, dtype=torch.uint8)
    for k in range(n):
        r, q = divmod(k, nrow)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = images[k]
    arr = grid.permute(1, 2, 0).numpy()
    return arr[..., 0] if c == 1 else arr


def save_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    ckpt_io.atomic_write_bytes(path, buf.getvalue())


class Trainer:
    """Networks, optimizers, data and RNG of one run; ``step()`` is one outer iteration."""

    def __init__(self, cfg: TrainConfig, device: str | torch.device | None = None):
        self.cfg = cfg
        self.device = torch.device(device) if device is not None else resolve_device(cfg.device)
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = cfg.tf32
            torch.backends.cudnn.allow_tf32 = cfg.tf32
        torch.manual_seed(cfg.seed)
        self.G, self.D = build_networks(cfg, self.device)
        self.opt_g = build_optimizer(self.G.parameters(), cfg, cfg.lr_g)
        self.opt_d = build_optimizer(self.D.parameters(), cfg, cfg.lr_d)
        self.dataset = load_dataset(cfg.dataset, cfg.data_root, max_images=cfg.max_images, download=cfg.download)
        self.images = self.dataset.images.to(self.device)
        if self.images.shape[0] < cfg.batch_size:
            raise ValueError(f"batch_size: {cfg.batch_size} exceeds the {self.images.shape[0]} images of {cfg.dataset}")
        # one generator for every random draw of training (batches, latents): its state is checkpointed
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(cfg.seed + 1)
        fixed = torch.Generator(device="cpu")
        fixed.manual_seed(cfg.seed + 2)
        self.z_fixed = torch.randn(cfg.n_grid, cfg.z_dim, generator=fixed).to(self.device)
        self.loss_kw = dict(eps=cfg.eps, p=cfg.p, n_iter=cfg.n_iter, grad=cfg.grad, value=cfg.value, cost=cfg.cost)
        self.iteration = 0
        self.gen_updates = 0
        self.critic_updates = 0

    # ----------------------------------------------------------------- draws
    def real_batch(self) -> torch.Tensor:
        idx = torch.randint(self.images.shape[0], (self.cfg.batch_size,), device=self.device, generator=self.rng)
        return self.images.index_select(0, idx)

    def latent_batch(self) -> torch.Tensor:
        return torch.randn(self.cfg.batch_size, self.cfg.z_dim, device=self.device, generator=self.rng)

    # ----------------------------------------------------------------- losses
    def divergence(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """``S_eps(D(fake), D(real))`` (eq. 5) under the learned cost (eq. 20)."""
        return sinkhorn_divergence(self.D(fake), self.D(real), **self.loss_kw)

    def generator_objective(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """``W_eps`` for SeqSGDA/SimSGDA (eq. 26), ``S_eps`` for SGD-AutoDiff."""
        if self.cfg.variant == "sgd-autodiff":
            return self.divergence(fake, real)
        return entropic_ot(self.D(fake), self.D(real), **self.loss_kw)

    # ----------------------------------------------------------------- updates
    def critic_step(self, real: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            fake = self.G(z)
        s = self.divergence(fake, real)
        self.opt_d.zero_grad(set_to_none=False)
        (-s).backward()  # ascend S_eps
        self.opt_d.step()
        if self.cfg.variant == "sgd-autodiff":
            clip_weights_(self.D, self.cfg.clip)
        self.critic_updates += 1
        return s.detach()

    def generator_step(self, real: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.D.requires_grad_(False)
        try:
            loss = self.generator_objective(self.G(z), real)
            self.opt_g.zero_grad(set_to_none=False)
            loss.backward()
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        self.gen_updates += 1
        return loss.detach()

    def simultaneous_step(self, real: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both gradients at the same (theta, phi), then both updates (SimSGDA)."""
        fake = self.G(z)
        g_loss = self.generator_objective(fake, real)
        g_grads = torch.autograd.grad(g_loss, list(self.G.parameters()))
        d_loss = self.divergence(fake.detach(), real)
        self.opt_d.zero_grad(set_to_none=False)
        (-d_loss).backward()
        for p, g in zip(self.G.parameters(), g_grads):
            p.grad = g
        self.opt_d.step()
        self.opt_g.step()
        self.gen_updates += 1
        self.critic_updates += 1
        return g_loss.detach(), d_loss.detach()

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One outer iteration; returns ``(g_loss, d_loss)`` as device tensors (no host sync)."""
        if self.cfg.variant == "simsgda":
            g_loss, d_loss = self.simultaneous_step(self.real_batch(), self.latent_batch())
        else:
            for _ in range(self.cfg.n_critic):
                real, z = self.real_batch(), self.latent_batch()
                d_loss = self.critic_step(real, z)
            g_loss = self.generator_step(real, z)  # same mini-batch as the last critic step
        self.iteration += 1
        return g_loss, d_loss

    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        was_training = self.G.training
        self.G.eval()
        try:
            return self.G(self.z_fixed)
        finally:
            self.G.train(was_training)

    # ----------------------------------------------------------------- state
    def state(self) -> dict:
        return {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "iteration": self.iteration,
            "gen_updates": self.gen_updates,
            "critic_updates": self.critic_updates,
            "rng": self.rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy_rng": np.random.get_state(),
            "python_rng": random.getstate(),
            "config": self.cfg.to_dict(),
        }

    def load_state(self, path_or_state) -> dict:
        if isinstance(path_or_state, dict):
            state = copy.deepcopy(path_or_state)  # optimizers update their loaded state in place
        else:
            state = torch.load(path_or_state, map_location=self.device, weights_only=False)
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.iteration = state["iteration"]
        self.gen_updates = state["gen_updates"]
        self.critic_updates = state["critic_updates"]
        self.rng.set_state(state["rng"].cpu() if state["rng"].device.type != "cpu" else state["rng"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
        np.random.set_state(state["numpy_rng"])
        random.setstate(state["python_rng"])
        return state


# Fields that may differ between a checkpoint and the config that resumes it.
RESUMABLE_CHANGES = {"iterations", "log_every", "sample_every", "checkpoint_every", "name", "device", "data_root", "download"}


class _SignalFlag:
    """Turns SIGTERM/SIGINT into a flag checked between iterations (then checkpoint and stop)."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


class RunLog:
    """The per-iteration CSV log, appended in blocks; truncated to a checkpoint on resume."""

    def __init__(self, path: Path):
        self.path = path

    def truncate_after(self, iteration: int) -> None:
        if not self.path.exists():
            return
        with self.path.open() as fh:
            rows = [r for r in csv.reader(fh)]
        kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= iteration]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(kept)
        ckpt_io.atomic_write_text(self.path, buf.getvalue())

    def append(self, rows: list[tuple]) -> None:
        new = not self.path.exists()
        with self.path.open("a", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            if new:
                w.writerow(LOG_COLUMNS)
            for r in rows:
                w.writerow([r[0], r[1], r[2], f"{r[3]:.9g}", f"{r[4]:.9g}", f"{r[5]:.3f}"])
            fh.flush()


def train(cfg: TrainConfig, out_dir: str | Path, resume: bool = False, progress: bool = True, scale: str | None = None) -> Path:
    """Train one run into ``out_dir`` (layout in docs/CONTRACT.md); returns the summary path.

    With ``resume=True`` an existing ``checkpoints/last.pt`` is continued (a fresh start when
    there is none); the result is bit-identical to an uninterrupted run on CPU.  SIGTERM or
    SIGINT writes a checkpoint at the end of the current iteration and raises
    :class:`Interrupted`.
    """
    out = Path(out_dir)
    ckpt_file = ckpt_io.checkpoint_path(out)
    summary_file = out / "summary.json"
    log = RunLog(out / "log.csv")
    if not resume and (ckpt_file.exists() or log.path.exists()):
        raise FileExistsError(f"{out} already holds a run; pass --resume to continue it or choose another --out")

    trainer = Trainer(cfg)
    wall_offset = 0.0
    if resume and ckpt_file.exists():
        state = trainer.load_state(ckpt_file)
        saved = dict(state["config"])
        diff = {k for k, v in cfg.to_dict().items() if saved.get(k) != v} - RESUMABLE_CHANGES
        if diff:
            raise ValueError(f"cannot resume {out}: config differs from the checkpoint in {sorted(diff)}")
        wall_offset = state.get("wall_seconds", 0.0)
        log.truncate_after(trainer.iteration)
        print(f"[sinkgan] resumed {out} from checkpoint at iteration {trainer.iteration}", flush=True)
    elif log.path.exists():
        log.path.unlink()  # no checkpoint: the old log cannot be continued
    if summary_file.exists():
        summary_file.unlink()  # the run is (re)opened: it is not complete until a new summary is written

    info = {
        "dataset": cfg.dataset,
        "dataset_is_standin": trainer.dataset.spec.is_standin,
        "stands_in_for": trainer.dataset.spec.stands_in_for,
        "dataset_source": trainer.dataset.source,
        "scale": scale,
    }
    ckpt_io.atomic_write_yaml(out / "config.yaml", {**cfg.to_dict(), "provenance": {**provenance(trainer.device), **info}})

    buf = torch.zeros(cfg.log_every, 2, device=trainer.device)
    pending: list[tuple[int, int, int, float]] = []  # host-side bookkeeping of un-flushed rows
    t0 = time.perf_counter() - wall_offset
    last = {"g": float("nan"), "d": float("nan")}

    def flush():
        if not pending:
            return
        values = buf[: len(pending)].cpu().tolist()  # the one host sync, every log_every iterations
        log.append([(it, gu, cu, v[0], v[1], w) for (it, gu, cu, w), v in zip(pending, values)])
        last["g"], last["d"] = values[-1]
        pending.clear()

    def save_checkpoint():
        flush()
        state = trainer.state()
        state["wall_seconds"] = time.perf_counter() - t0
        ckpt_io.atomic_torch_save(ckpt_file, state)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.iterations, initial=trainer.iteration, desc=cfg.name, unit="it", mininterval=1.0, dynamic_ncols=True)
    with _SignalFlag() as flag:
        while trainer.iteration < cfg.iterations:
            g_loss, d_loss = trainer.step()
            buf[len(pending), 0] = g_loss
            buf[len(pending), 1] = d_loss
            it = trainer.iteration
            pending.append((it, trainer.gen_updates, trainer.critic_updates, time.perf_counter() - t0))
            if len(pending) == cfg.log_every:
                flush()
                if bar is not None:
                    bar.set_postfix(g=f"{last['g']:.4g}", d=f"{last['d']:.4g}", refresh=False)
            if bar is not None:
                bar.update(1)
            if it % cfg.sample_every == 0:
                save_png(out / "samples" / f"iter_{it:07d}.png", image_grid(trainer.samples()))
            if it % cfg.checkpoint_every == 0 or it == cfg.iterations:
                save_checkpoint()
            if flag.signum is not None:
                save_checkpoint()
                if bar is not None:
                    bar.close()
                raise Interrupted(flag.signum, it)
    if bar is not None:
        bar.close()
    flush()

    save_png(out / "samples" / "final.png", image_grid(trainer.samples()))
    ckpt_io.atomic_torch_save(out / "generator.pt", {"state_dict": trainer.G.state_dict(), "config": cfg.to_dict()})
    ckpt_io.atomic_torch_save(out / "discriminator.pt", {"state_dict": trainer.D.state_dict(), "config": cfg.to_dict()})
    import pandas as pd

    frame = pd.read_csv(log.path)
    tail = frame.iloc[-max(1, len(frame) // 10):]
    summary = {
        **info,
        "name": cfg.name,
        "iterations": trainer.iteration,
        "gen_updates": trainer.gen_updates,
        "critic_updates": trainer.critic_updates,
        "final_g_loss": float(tail.g_loss.mean()),
        "final_d_loss": float(tail.d_loss.mean()),
        "wall_seconds": float(frame.wall_seconds.iloc[-1]),
        "device": provenance(trainer.device)["device"],
        "device_type": trainer.device.type,
        "commit": git_commit(),
        "torch": str(torch.__version__),
        "finite": bool(np.isfinite(frame[["g_loss", "d_loss"]].to_numpy()).all()),
    }
    ckpt_io.atomic_write_json(summary_file, summary)
    return summary_file


def summary_of(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "summary.json").read_text())
