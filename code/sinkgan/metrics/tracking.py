r"""Back-and-forward tracking from a stationary point (paper section IV-C, figures 21 and 22).

Protocol, for a finished ("converged") run with full training state ``checkpoints/last.pt``:

    for track k = 0 .. tracks-1:
        go back to the stationary point: restore G, D, both Adam states and the update counters
        from the checkpoint; reseed the training RNG with the track's own seed
        capture  theta^0  (or the images G(z_fixed) in mode "images")
        go forward track_iterations outer iterations of the run's own algorithm
            (seqsgda: n_critic critic updates, then one generator update)
        every capture_every generator updates, capture i:
            reference "previous" (default):  SSIM(theta^i, theta^{i-1})
            reference "start":               SSIM(theta^i, theta^0)

``eta_theta`` and ``eta_phi`` are the generator and critic updates since the stationary point,
so ``n_critic = eta_phi / eta_theta`` for SeqSGDA.  The tracks' points are then fitted by
:func:`sinkgan.metrics.rate.fit_rate`:  ``log(1/SSIM) = a + kappa log(eta_theta + eta_phi)``.

SSIM modes (see :mod:`sinkgan.metrics.ssim`): ``params`` (default; generator parameter tensors,
as the paper's text describes) or ``images`` (64 fixed latents, data_range 255, as the authors'
code).  References: ``previous`` (default) compares each capture with the one before it, the
change "relative to the preceding SeqSGDA iteration" of section III-D (the authors' code also
compares consecutive checkpoints); a converging generator then gives SSIM -> 1 (Fig. 21) and
kappa may take either sign (Fig. 22).  ``start`` (a switch, config/deviations.yaml) compares
each capture with the track's start: SSIM can then only fall from 1 and kappa is >= 0 by
construction.

Outputs (written atomically): ``<out_dir>/ssim.csv`` with columns
``track, step, gen_updates, critic_updates, ssim, mode, reference`` (step = outer iterations
since the stationary point; the counts are eta_theta, eta_phi; step 0 is theta^0 compared with
itself, SSIM 1, left out of the fit) and
``<out_dir>/rate.json`` (kappa, its 95% CI, intercept, R^2, settings and provenance).
"""
from __future__ import annotations

import copy
import io
import time
from pathlib import Path

import pandas as pd
import torch

from ..progress import Progress
from .rate import fit_rate_frame
from .ssim import MODES, snapshot_params, ssim_images, ssim_params

REFERENCES = ("previous", "start")
DEFAULT_REFERENCE = "previous"  # section III-D: "relative to the preceding SeqSGDA iteration"
TRACK_SEED_BASE = 7919  # track k of a run with training seed s uses seed TRACK_SEED_BASE + 1000 s + k
CSV_COLUMNS = ("track", "step", "gen_updates", "critic_updates", "ssim", "mode", "reference")


def track_seed(train_seed: int, k: int) -> int:
    return TRACK_SEED_BASE + 1000 * int(train_seed) + int(k)


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"tracking.{name}: {value!r} must be an integer >= {low}")
    return value


def check_settings(mode: str, reference: str, tracks, track_iterations, capture_every) -> None:
    """Refuse bad tracking settings, naming the field and its allowed values (before any compute)."""
    if mode not in MODES:
        raise ValueError(f"tracking.mode: {mode!r} is not one of {', '.join(MODES)}")
    if reference not in REFERENCES:
        raise ValueError(f"tracking.reference: {reference!r} is not one of {', '.join(REFERENCES)}")
    _check_int("tracks", tracks, 1)
    _check_int("track_iterations", track_iterations, 1)
    _check_int("capture_every", capture_every, 1)


def run_tracks(trainer, state: dict, tracks: int, track_iterations: int, capture_every: int,
               mode: str = "params", reference: str = DEFAULT_REFERENCE, train_seed: int = 0) -> pd.DataFrame:
    """Run the back-and-forward tracks on a :class:`sinkgan.train.Trainer`; returns the SSIM table.

    ``state`` is the stationary point (a checkpoint dict accepted by ``trainer.load_state``).
    ``capture_every`` counts generator updates.
    """
    check_settings(mode, reference, tracks, track_iterations, capture_every)

    def capture():
        return snapshot_params(trainer.G) if mode == "params" else trainer.samples().detach().cpu()

    def similarity(a, b) -> float:
        return ssim_params(a, b) if mode == "params" else ssim_images(a, b)

    rows = []
    progress = Progress("track", tracks * track_iterations)
    for k in range(tracks):
        # back to the stationary point; a deep copy because Optimizer.load_state_dict keeps (and Adam
        # then updates in place) the tensors of the dict it is given
        trainer.load_state(copy.deepcopy(state))
        seed = track_seed(train_seed, k)
        trainer.rng.manual_seed(seed)
        torch.manual_seed(seed)
        g0, c0, it0 = trainer.gen_updates, trainer.critic_updates, trainer.iteration
        ref = capture()
        rows.append((k, 0, 0, 0, similarity(ref, ref), mode, reference))
        last_capture_g = 0
        for i in range(track_iterations):
            trainer.step()
            progress.update(k * track_iterations + i + 1, track=k + 1)
            eta_theta = trainer.gen_updates - g0
            if eta_theta - last_capture_g >= capture_every:
                last_capture_g = eta_theta
                cur = capture()
                rows.append((k, trainer.iteration - it0, eta_theta, trainer.critic_updates - c0,
                             similarity(cur, ref), mode, reference))
                if reference == "previous":
                    ref = cur
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS))


def tracking_settings(scale: str) -> dict:
    from ..study import Study

    return dict(Study.load(scale).scale.get("tracking", {}))


def track_run(run_dir: str | Path, scale: str, out_dir: str | Path | None = None, mode: str | None = None,
              reference: str | None = None, device: str | None = None, tracks: int | None = None,
              track_iterations: int | None = None, capture_every: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Track a finished run from ``checkpoints/last.pt`` and fit the rate; writes ssim.csv and rate.json.

    Unset arguments come from the scale's ``tracking`` settings (``tracks``, ``track_iterations``,
    ``capture_every``, optionally ``mode`` and ``reference``; defaults ``params`` and ``previous``).
    """
    from ..atomic import atomic_write_json, atomic_write_text
    from ..rundir import checkpoint_path, read_summary
    from ..config import load_config
    from ..provenance import git_commit
    from ..train import Trainer, read_checkpoint, resolve_device

    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    commit = git_commit()  # the code that measures, read before HEAD can move under a long measurement
    ckpt = checkpoint_path(run_dir)
    if not ckpt.is_file():
        raise FileNotFoundError(f"{ckpt} does not exist: tracking needs the run's full training state "
                                f"(checkpoints are never committed; retrain the run to recreate it)")
    settings = tracking_settings(scale) if scale is not None else {}
    tracks = tracks if tracks is not None else settings.get("tracks")
    track_iterations = track_iterations if track_iterations is not None else settings.get("track_iterations")
    capture_every = capture_every if capture_every is not None else settings.get("capture_every")
    mode = mode or settings.get("mode", "params")
    reference = reference or settings.get("reference", DEFAULT_REFERENCE)
    check_settings(mode, reference, tracks, track_iterations, capture_every)

    cfg = load_config(run_dir / "config.yaml", check_data=False)
    dev = resolve_device(device or cfg.device)
    state = read_checkpoint(ckpt, dev)
    t0 = time.perf_counter()
    trainer = Trainer(cfg, dev)
    start = {"iteration": int(state["iteration"]), "gen_updates": int(state["gen_updates"]),
             "critic_updates": int(state["critic_updates"])}
    frame = run_tracks(trainer, state, tracks, track_iterations, capture_every, mode, reference, cfg.seed)
    fit = fit_rate_frame(frame)
    rate = {
        **fit.to_dict(),
        "regression": "log(1/SSIM) = intercept + kappa * log(eta_theta + eta_phi)  (statsmodels OLS)",
        "mode": mode,
        "reference": reference,
        "tracks": tracks,
        "track_iterations": track_iterations,
        "capture_every": capture_every,
        "track_seeds": [track_seed(cfg.seed, k) for k in range(tracks)],
        "start": start,
        "run": run_dir.name,
        "variant": cfg.variant,
        "p": cfg.p,
        "n_critic": cfg.n_critic,
        "eps": cfg.eps,
        "dataset": summary.get("dataset", cfg.dataset),
        "dataset_is_standin": summary.get("dataset_is_standin"),
        "stands_in_for": summary.get("stands_in_for"),
        "scale": scale,
        "commit": commit,
        "run_commit": summary.get("commit"),
        "device": str(dev),
        "wall_seconds": round(time.perf_counter() - t0, 3),
    }
    if out_dir is not None:
        out_dir = Path(out_dir)
        buf = io.StringIO()
        frame.to_csv(buf, index=False, float_format="%.10g", lineterminator="\n")
        atomic_write_text(out_dir / "ssim.csv", buf.getvalue())
        atomic_write_json(out_dir / "rate.json", rate)
    return frame, rate
