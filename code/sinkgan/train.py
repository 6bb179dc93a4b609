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
import datetime
import fcntl
import io
import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import atomic
from .config import HOW_NOT_WHAT, ConfigError, TrainConfig, atomic_write_yaml, resolve_memory_format
from .data import load_dataset
from .images import image_grid, save_png
from .models import build_networks, clip_weights_
from .progress import Progress
from .provenance import device_time, provenance, tensor_sha256
from .rundir import LOG_COLUMNS, CheckpointError, checkpoint_path, load_state_dict_into, read_torch_file
from .sinkhorn import entropic_ot, sinkhorn_divergence

# Everything a run writes into its directory (docs/CONTRACT.md), and what the metrics add to it.
RUN_OUTPUTS = ("config.yaml", "log.csv", "summary.json", "generator.pt", "discriminator.pt", "samples", "checkpoints",
               "quality.json", "tracking")
LOCK_NAME = ".sinkgan.lock"
LOG_BUFFER_ROWS = 10_000  # the device loss buffer holds at most this many rows, whatever log_every says


class RunRefused(Exception):
    """The run cannot start as asked (exit status 2); the run directory is left as it was."""


class RunFailed(RuntimeError):
    """The run stopped before finishing (a non-finite loss, a lost log); the last good checkpoint is kept."""


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


def build_optimizer(params, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(cfg.adam_betas))
    return torch.optim.RMSprop(params, lr=lr)


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
        # a layout, not a computation: the convolutions' values agree up to float rounding
        self.memory_format = resolve_memory_format(cfg.memory_format, self.device.type)
        layout = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}[self.memory_format]
        self.G.to(memory_format=layout)
        self.D.to(memory_format=layout)
        self.opt_g = build_optimizer(self.G.parameters(), cfg, cfg.lr_g)
        self.opt_d = build_optimizer(self.D.parameters(), cfg, cfg.lr_d)
        try:
            self.dataset = load_dataset(cfg.dataset, cfg.data_root, max_images=cfg.max_images, download=cfg.download)
        except Exception as err:  # a corrupt or truncated data file: the loaders raise many kinds
            detail = (str(err).strip().splitlines() or ["no detail"])[0]
            raise ConfigError(f"dataset: cannot load {cfg.dataset!r} from data_root {cfg.data_root!r} "
                              f"({type(err).__name__}: {detail})") from None
        self.images = self.dataset.images.to(self.device).contiguous(memory_format=layout)
        if self.images.shape[0] < cfg.batch_size:
            raise ConfigError(f"batch_size: {cfg.batch_size} exceeds the {self.images.shape[0]} images of "
                              f"{cfg.dataset}; allowed [2, {self.images.shape[0]}]")
        # one generator for every random draw of training (batches, latents): its state is checkpointed
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(cfg.seed + 1)
        fixed = torch.Generator(device="cpu")
        fixed.manual_seed(cfg.seed + 2)
        self.z_fixed = torch.randn(cfg.n_grid, cfg.z_dim, generator=fixed).to(self.device)
        self.loss_kw = dict(eps=cfg.eps, p=cfg.p, n_iter=cfg.n_iter, grad=cfg.grad, value=cfg.value, cost=cfg.cost,
                            backend=cfg.backend)
        self.iteration = 0
        self.gen_updates = 0
        self.critic_updates = 0
        if cfg.compile != "none":
            self.compile_steps(cfg.compile)

    def compile_steps(self, mode: str) -> None:
        """``torch.compile`` the step methods (``cfg.compile``): each is traced into a graph of the
        forward pass (with its compiled backward) and a graph of the optimizer update, split at
        ``backward()``; ``"reduce-overhead"`` replays them as CUDA graphs on a GPU."""
        kw = {} if mode == "default" else {"mode": mode}
        for name in ("critic_step", "generator_step", "simultaneous_step"):
            setattr(self, name, torch.compile(getattr(self, name), **kw))

    # ----------------------------------------------------------------- draws
    def real_batch(self) -> torch.Tensor:
        idx = torch.randint(self.images.shape[0], (self.cfg.batch_size,), device=self.device, generator=self.rng)
        return self.images.index_select(0, idx)

    def latent_batch(self) -> torch.Tensor:
        return torch.randn(self.cfg.batch_size, self.cfg.z_dim, device=self.device, generator=self.rng)

    # ----------------------------------------------------------------- losses
    def networks_precision(self):
        """The context the two networks run in: bfloat16 autocast with ``autocast="bf16"`` (their
        convolutions and matrix products in bfloat16, weights and optimizer state float32), else
        float32.  The loss is computed outside it (:meth:`features` hands it float32 features)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.autocast == "bf16")

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        with self.networks_precision():
            return self.G(z)

    def features(self, fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss arguments ``(D(fake), D(real))`` in float32, swapped with ``order="real-fake"``
        (the authors' code)."""
        with self.networks_precision():
            d_fake, d_real = self.D(fake), self.D(real)  # this call order either way (spectral-norm state)
        d_fake, d_real = d_fake.float(), d_real.float()
        return (d_fake, d_real) if self.cfg.order == "fake-real" else (d_real, d_fake)

    def divergence(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """``S_eps(D(fake), D(real))`` (eq. 5) under the learned cost (eq. 20); see :meth:`features`."""
        return sinkhorn_divergence(*self.features(fake, real), **self.loss_kw)

    def generator_objective(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """``W_eps(D(fake), D(real))`` for SeqSGDA/SimSGDA (eq. 26), ``S_eps`` for SGD-AutoDiff."""
        if self.cfg.variant == "sgd-autodiff":
            return self.divergence(fake, real)
        return entropic_ot(*self.features(fake, real), **self.loss_kw)

    # ----------------------------------------------------------------- updates
    def critic_step(self, real: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            fake = self.generate(z)
        s = self.divergence(fake, real)
        self.opt_d.zero_grad(set_to_none=False)
        (-s).backward()  # ascend S_eps
        self.opt_d.step()
        if self.cfg.variant == "sgd-autodiff":
            clip_weights_(self.D, self.cfg.clip)
        return s.detach()

    def generator_step(self, real: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.D.requires_grad_(False)
        try:
            loss = self.generator_objective(self.generate(z), real)
            self.opt_g.zero_grad(set_to_none=False)
            loss.backward()
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        return loss.detach()

    def simultaneous_step(self, real: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both gradients at the same (theta, phi), then both updates (SimSGDA)."""
        fake = self.generate(z)
        g_loss = self.generator_objective(fake, real)
        g_grads = torch.autograd.grad(g_loss, list(self.G.parameters()))
        d_loss = self.divergence(fake.detach(), real)
        self.opt_d.zero_grad(set_to_none=False)
        (-d_loss).backward()
        for p, g in zip(self.G.parameters(), g_grads):
            p.grad = g
        self.opt_d.step()
        self.opt_g.step()
        return g_loss.detach(), d_loss.detach()

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One outer iteration; returns ``(g_loss, d_loss)`` as device tensors (no host sync).

        The update counters are kept here, outside the (possibly compiled) step methods, so that a
        compiled step does not guard on them."""
        if self.cfg.compile == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # a new iteration for the CUDA graphs' memory
        if self.cfg.variant == "simsgda":
            g_loss, d_loss = self.simultaneous_step(self.real_batch(), self.latent_batch())
            self.critic_updates += 1
        else:
            for _ in range(self.cfg.n_critic):
                real, z = self.real_batch(), self.latent_batch()
                d_loss = self.critic_step(real, z)
                self.critic_updates += 1
            g_loss = self.generator_step(real, z)  # same mini-batch as the last critic step
        self.gen_updates += 1
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
        """Restore a :meth:`state` dict or checkpoint file; an unreadable or foreign one raises
        :class:`sinkgan.rundir.CheckpointError` naming the file."""
        if isinstance(path_or_state, dict):
            state, where = copy.deepcopy(path_or_state), "checkpoint"  # optimizers update their loaded state in place
        else:
            state, where = read_checkpoint(path_or_state, self.device), path_or_state
        load_state_dict_into(self.G, state["G"], where, "generator")
        load_state_dict_into(self.D, state["D"], where, "discriminator")
        try:
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
        except (ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"{where}: its optimizer state does not fit ({err})") from None
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
RESUMABLE_CHANGES = {"iterations", "log_every", "sample_every", "checkpoint_every", "name", "device", "data_root", "download",
                     "progress_every_s", *HOW_NOT_WHAT}
CHECKPOINT_KEYS = ("G", "D", "opt_g", "opt_d", "iteration", "gen_updates", "critic_updates", "rng", "torch_rng",
                   "cuda_rng", "numpy_rng", "python_rng", "config")


def read_checkpoint(path: str | Path, device="cpu") -> dict:
    """A full training state written by :func:`train`; :class:`~sinkgan.rundir.CheckpointError` if it is not one."""
    return read_torch_file(path, device, weights_only=False, keys=CHECKPOINT_KEYS)


def check_resumable(cfg: TrainConfig, state: dict, where) -> None:
    """Refuse to continue ``state`` under ``cfg`` when a field outside RESUMABLE_CHANGES differs, or
    when ``cfg.iterations`` is below the iterations already done (their log and summary would disagree)."""
    saved = dict(state["config"])
    diff = sorted(k for k, v in cfg.to_dict().items() if saved.get(k) != v and k not in RESUMABLE_CHANGES)
    if diff:
        what = ", ".join(f"{k} (checkpoint {saved.get(k)!r}, now {getattr(cfg, k)!r})" for k in diff)
        raise ConfigError(f"cannot resume from {where}: the config differs in {what}; only "
                          f"{', '.join(sorted(RESUMABLE_CHANGES))} may change on --resume")
    if cfg.iterations < state["iteration"]:
        raise ConfigError(f"iterations: {cfg.iterations} is below the {state['iteration']} iterations {where} has "
                          f"already done; allowed >= {state['iteration']} on --resume")


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


class RunLock:
    """An exclusive lock on a run directory for one writer (``fcntl.flock`` on ``<dir>/.sinkgan.lock``).

    The kernel releases it when the holder exits in any way, so a lock file left by a killed run
    is simply taken over.  The holder deletes the file while still holding the lock; a process
    that locked the old file meanwhile sees that the path no longer names it and tries again.
    A directory the lock had to create is removed again when it is left empty.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.path = run_dir / LOCK_NAME
        self.fd = None
        self.created = False

    def __enter__(self):
        try:
            self.created = not self.run_dir.exists()
            self.run_dir.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    holder = self.path.read_text().strip() if self.path.exists() else "?"
                    raise RunRefused(f"{self.run_dir} is in use by another sinkgan process ({holder}); "
                                     f"wait for it to finish or choose another --out") from None
                try:
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(fd)  # the previous holder deleted the file we locked: lock the new one
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode())
        except OSError as err:
            self._remove_if_created()
            raise RunRefused(f"--out {self.run_dir}: cannot write the run directory ({err.strerror or err})") from None
        self.fd = fd
        return self

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self._remove_if_created()

    def _remove_if_created(self):
        if self.created and self.run_dir.is_dir() and not any(self.run_dir.iterdir()):
            self.run_dir.rmdir()


def _iterations(rows: list[list[str]]) -> list[int]:
    """The iteration column of well-formed log rows (a row cut short by a crash is skipped)."""
    return [int(r[0]) for r in rows if len(r) == len(LOG_COLUMNS) and r[0].isdigit()]


def _ranges(numbers: list[int]) -> str:
    """``[2, 3, 4, 7]`` -> ``"2..4, 7"``."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(f"{a}..{b}" if b > a else f"{a}" for a, b in runs)


class RunLog:
    """The per-iteration CSV log, appended in blocks; cut back to a checkpoint on resume.

    It must hold exactly the rows ``1 .. n`` of the ``n`` iterations done: :meth:`keep_through`
    refuses a log that lacks rows a checkpoint has done, and :meth:`append` refuses to start a
    new file once rows were written (the log was deleted while the run was going).
    """

    def __init__(self, path: Path):
        self.path = path
        self.last = 0  # the last iteration written to the file

    def rows(self) -> list[list[str]]:
        with self.path.open(newline="") as fh:
            return list(csv.reader(fh))

    def keep_through(self, iteration: int) -> None:
        """Keep rows ``1 .. iteration`` and drop anything after; refuse if any of them is missing."""
        if not self.path.exists():
            raise RunRefused(f"cannot resume: {self.path} is missing, but the checkpoint has done {iteration} "
                             f"iterations whose losses it held; restore it, or start the run afresh in a new --out")
        rows = self.rows()
        body = rows[1:iteration + 1] if rows and tuple(rows[0]) == LOG_COLUMNS else []
        found = _iterations(body)
        if found != list(range(1, iteration + 1)):
            have = set(found)
            missing = [i for i in range(1, iteration + 1) if i not in have]
            gap = f"rows {_ranges(missing)} missing or malformed" if missing else "rows out of order"
            raise RunRefused(f"cannot resume: {self.path} does not match the checkpoint, which has done {iteration} "
                             f"iterations: {gap} ({len(missing)} of {iteration}); restore the log, or start the run "
                             f"afresh in a new --out")
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([rows[0]] + body)
        atomic.atomic_write_text(self.path, buf.getvalue())
        self.last = iteration

    def check_complete(self, iteration: int) -> None:
        """The log holds exactly the rows ``1 .. iteration`` (checked before the summary claims them)."""
        found = _iterations(self.rows()[1:]) if self.path.exists() else []
        if found != list(range(1, iteration + 1)):
            raise RunFailed(f"{self.path} holds {len(found)} rows, not the rows 1..{iteration} of the iterations done; "
                            f"no summary written")

    def append(self, rows: list[tuple]) -> None:
        new = not self.path.exists()
        if new and self.last > 0:
            raise RunFailed(f"{self.path} disappeared during the run (it held iterations 1..{self.last}); "
                            f"the checkpoint is kept, but the log cannot be rebuilt: restore it and --resume")
        with self.path.open("a", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            if new:
                w.writerow(LOG_COLUMNS)
            for r in rows:
                w.writerow([r[0], r[1], r[2], f"{r[3]:.9g}", f"{r[4]:.9g}", f"{r[5]:.3f}"])
            fh.flush()
        if rows:
            self.last = rows[-1][0]


def run_directory(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path; refuses an empty path (the current directory) and an existing non-directory."""
    if str(out_dir).strip() == "":
        raise RunRefused("--out: an empty path would write the run into the current directory; name a run directory")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise RunRefused(f"--out {out}: exists and is not a directory")
    return out


def earlier_sittings(state: dict) -> list[dict]:
    """The sittings that made a checkpoint (:func:`train` records each in it): per sitting its start
    (UTC), commit, device and host, the iterations it took the run from and to, and its wall seconds.
    A checkpoint written before sittings were recorded counts as one sitting whose commit, device,
    host and start are unknown (``None``)."""
    if "sittings" in state:
        return [dict(s) for s in state["sittings"]]
    return [{"started_utc": None, "commit": None, "device": None, "host": None, "from_iteration": 0,
             "to_iteration": state["iteration"], "wall_seconds": state.get("wall_seconds")}]


def _open_run(out: Path, trainer: Trainer, resume: bool, log: RunLog) -> tuple[int | None, float, list[dict]]:
    """Check the (locked) run directory and bring ``trainer`` to where the run stands.

    Without ``resume`` every run output must be absent.  With ``resume`` the checkpoint must be
    readable, its config compatible (:func:`check_resumable`) and the log must hold its rows;
    an unfinished run with no checkpoint yet is started afresh.  Nothing is changed before all
    checks pass.  Returns ``(checkpoint iteration or None, wall seconds already spent, the sittings
    that made the checkpoint)``.
    """
    present = [name for name in RUN_OUTPUTS if (out / name).exists()]
    ckpt_file = checkpoint_path(out)
    if not resume:
        if present:
            raise FileExistsError(f"{out} already holds {', '.join(present)}; pass --resume to continue the run "
                                  f"or choose another --out")
        return None, 0.0, []
    if not ckpt_file.exists():
        if (out / "summary.json").exists():
            raise RunRefused(f"cannot resume {out}: it holds a finished run (summary.json) but no {ckpt_file} to "
                             f"continue from; choose another --out")
        for name in present:  # an unfinished run stopped before its first checkpoint: start afresh
            path = out / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return None, 0.0, []
    state = read_checkpoint(ckpt_file, trainer.device)
    check_resumable(trainer.cfg, state, ckpt_file)
    trainer.load_state(state)
    log.keep_through(trainer.iteration)
    earlier = earlier_sittings(state)
    for k, sitting in enumerate(earlier, 1):
        print(f"[sinkgan] sitting {k}: iterations {sitting['from_iteration']}-{sitting['to_iteration']}, "
              f"commit {sitting['commit']}, {sitting['device']}, {_seconds(sitting['wall_seconds'])}", flush=True)
    print(f"[sinkgan] resumed {out} from checkpoint at iteration {trainer.iteration}", flush=True)
    return trainer.iteration, state.get("wall_seconds", 0.0), earlier


def _seconds(s) -> str:
    return "? s" if s is None else f"{s:.0f} s"


def _finite_weights(trainer: Trainer) -> bool:
    tensors = [t for net in (trainer.G, trainer.D) for t in net.state_dict().values() if t.is_floating_point()]
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def train(cfg: TrainConfig, out_dir: str | Path, resume: bool = False, progress: bool = True, scale: str | None = None) -> Path:
    """Train one run into ``out_dir`` (layout in docs/CONTRACT.md); returns the summary path.

    With ``resume=True`` an existing ``checkpoints/last.pt`` is continued (a fresh start when
    there is none); the result is bit-identical to an uninterrupted run on CPU.  SIGTERM or
    SIGINT writes a checkpoint at the end of the current iteration and raises
    :class:`Interrupted`.  One process at a time writes a run directory (:class:`RunLock`).

    Refusals before anything is written: :class:`ConfigError` (device, data set, batch size,
    a config the checkpoint cannot continue), :class:`FileExistsError` (outputs present without
    ``resume``), :class:`RunRefused` (directory in use or unwritable, log inconsistent with the
    checkpoint) and :class:`~sinkgan.rundir.CheckpointError`.  :class:`RunFailed` when a
    loss or weight turns non-finite (found when the losses are read back, every ``log_every``
    iterations, and at each checkpoint): the last checkpoint, which is finite, is kept.
    """
    out = run_directory(out_dir)
    trainer = Trainer(cfg)  # device, data set and batch size are checked before anything is created
    with RunLock(out):
        log = RunLog(out / "log.csv")
        ckpt_iteration, wall_offset, earlier = _open_run(out, trainer, resume, log)
        stale = [p for d in (out, out / "checkpoints", out / "samples") for p in atomic.remove_stale_temporaries(d)]
        if stale:
            print(f"[sinkgan] removed {len(stale)} temporary file(s) left by an interrupted write: "
                  f"{', '.join(str(p) for p in stale)}", flush=True)
        return _train_locked(cfg, out, trainer, log, ckpt_iteration, wall_offset, earlier, progress, scale)


def _train_locked(cfg: TrainConfig, out: Path, trainer: Trainer, log: RunLog, ckpt_iteration: int | None,
                  wall_offset: float, earlier: list[dict], progress: bool, scale: str | None) -> Path:
    ckpt_file = checkpoint_path(out)
    summary_file = out / "summary.json"
    if summary_file.exists():
        summary_file.unlink()  # the run is (re)opened: it is not complete until a new summary is written

    info = {
        "dataset": cfg.dataset,
        "dataset_is_standin": trainer.dataset.spec.is_standin,
        "stands_in_for": trainer.dataset.spec.stands_in_for,
        "dataset_source": trainer.dataset.source,
        "data_sha256": tensor_sha256(trainer.dataset.images),
        "scale": scale,
        "memory_format": trainer.memory_format,  # what memory_format (auto by default) resolved to here
    }
    # read once: the summary names the code this process trained with, not whatever HEAD is when it ends
    prov = provenance(trainer.device)
    # provenance is this sitting's; a resumed run's earlier sittings are listed beside it
    atomic_write_yaml(out / "config.yaml", {**cfg.to_dict(), "provenance": {**prov, **info, "earlier_sittings": earlier}})
    sitting = {"started_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "commit": prov["commit"], "device": prov["device"], "host": prov["host"],
               "from_iteration": trainer.iteration, "to_iteration": trainer.iteration, "wall_seconds": 0.0}
    sitting_t0 = time.perf_counter()

    def sittings() -> list[dict]:
        """Every sitting so far, this one through the current iteration (kept in each checkpoint)."""
        sitting.update(to_iteration=trainer.iteration, wall_seconds=time.perf_counter() - sitting_t0)
        return [*earlier, dict(sitting)]

    block = min(cfg.log_every, LOG_BUFFER_ROWS)
    if block < cfg.log_every:
        print(f"[sinkgan] log_every={cfg.log_every} exceeds the loss buffer of {LOG_BUFFER_ROWS} rows: losses are "
              f"read back every {block} iterations", flush=True)
    buf = torch.zeros(block, 2, device=trainer.device)
    pending: list[tuple[int, int, int, float]] = []  # host-side bookkeeping of un-flushed rows
    t0 = time.perf_counter() - wall_offset
    last = {"g": float("nan"), "d": float("nan"), "checkpoint": ckpt_iteration}
    bar = None  # the tqdm bar (progress=True); without it, report_progress prints lines for the job's log

    def kept() -> str:
        if last["checkpoint"] is None:
            return "no checkpoint had been written yet"
        return f"{ckpt_file} (iteration {last['checkpoint']}) is kept"

    def flush():
        if not pending:
            return
        values = buf[: len(pending)].cpu()  # the one host sync, every log_every iterations
        bad = (~torch.isfinite(values).all(1)).nonzero()
        n = len(pending) if len(bad) == 0 else int(bad[0]) + 1  # log up to the first non-finite row
        rows = [(it, gu, cu, v[0], v[1], w) for (it, gu, cu, w), v in zip(pending[:n], values[:n].tolist())]
        log.append(rows)
        pending.clear()
        last["g"], last["d"] = rows[-1][3], rows[-1][4]
        if len(bad):
            raise RunFailed(f"non-finite loss at iteration {rows[-1][0]} (g_loss {last['g']}, d_loss {last['d']}): "
                            f"training stopped; {kept()}")
        if bar is None:
            report_progress(rows[-1][0])

    # without a bar (under the DAG): a line at most every progress_every_s seconds for the job's log
    # (`tail -f results/<scale>/logs/train/<run>.log`)
    progress_lines = Progress(f"train {cfg.name}", cfg.iterations, every_s=cfg.progress_every_s, start=trainer.iteration)

    def report_progress(it: int, force: bool = False):
        progress_lines.update(it, force=force, g_loss=float(last["g"]), d_loss=float(last["d"]))

    def require_finite_weights():
        if not _finite_weights(trainer):
            raise RunFailed(f"non-finite network weights after iteration {trainer.iteration}: training stopped; {kept()}")

    def save_snapshot(it: int):
        """``snapshots/generator_<it>.pt``: the generator at iteration ``it`` (IS/FID over training, Fig. 10)."""
        atomic.atomic_torch_save(out / "snapshots" / f"generator_{it:07d}.pt",
                                  {"state_dict": trainer.G.state_dict(), "iteration": it, "gen_updates": trainer.gen_updates})

    def save_checkpoint():
        flush()
        require_finite_weights()
        state = trainer.state()
        state["wall_seconds"] = time.perf_counter() - t0
        state["sittings"] = sittings()
        atomic.atomic_torch_save(ckpt_file, state)
        last["checkpoint"] = trainer.iteration

    if progress:
        from tqdm import tqdm

        from .joblog import unlogged

        bar = tqdm(total=cfg.iterations, initial=trainer.iteration, desc=cfg.name, unit="it", mininterval=1.0,
                   dynamic_ncols=True, file=unlogged(sys.stderr))
    try:
        with _SignalFlag() as flag:
            while trainer.iteration < cfg.iterations:
                g_loss, d_loss = trainer.step()
                buf[len(pending), 0] = g_loss
                buf[len(pending), 1] = d_loss
                it = trainer.iteration
                pending.append((it, trainer.gen_updates, trainer.critic_updates, time.perf_counter() - t0))
                if len(pending) == block:
                    flush()
                    if bar is not None:
                        bar.set_postfix(g=f"{last['g']:.4g}", d=f"{last['d']:.4g}", refresh=False)
                if bar is not None:
                    bar.update(1)
                if it % cfg.sample_every == 0 and it < cfg.iterations:  # the last one is final.png
                    save_png(out / "samples" / f"iter_{it:07d}.png", image_grid(trainer.samples()))
                if cfg.snapshot_every and it % cfg.snapshot_every == 0 and it < cfg.iterations:
                    save_snapshot(it)
                if it % cfg.checkpoint_every == 0 or it == cfg.iterations:
                    save_checkpoint()
                if flag.signum is not None:
                    save_checkpoint()
                    raise Interrupted(flag.signum, it)
            flush()
            require_finite_weights()
            if bar is None:
                report_progress(trainer.iteration, force=True)
    finally:
        if bar is not None:
            bar.close()

    save_png(out / "samples" / "final.png", image_grid(trainer.samples()))
    atomic.atomic_torch_save(out / "generator.pt", {"state_dict": trainer.G.state_dict(), "config": cfg.to_dict()})
    atomic.atomic_torch_save(out / "discriminator.pt", {"state_dict": trainer.D.state_dict(), "config": cfg.to_dict()})
    import pandas as pd

    log.check_complete(trainer.iteration)
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
        "device": prov["device"],
        "device_type": trainer.device.type,
        "commit": prov["commit"],  # the last sitting's; every sitting's in "sittings"
        "sittings": sittings(),
        "torch": str(torch.__version__),
        "finite": bool(np.isfinite(frame[["g_loss", "d_loss"]].to_numpy()).all()),
        **device_time(trainer.device, frame.wall_seconds.iloc[-1]),
    }
    atomic.atomic_write_json(summary_file, summary, strict=True)  # strict: never the bare token NaN
    return summary_file
