"""Quality and convergence measurements: IS/FID/KID (fig10), SSIM tracking (fig21), the kappa fit (fig22).

Submodules (imported lazily; torch-fidelity and statsmodels load only when used):

- :mod:`sinkgan.metrics.quality`: ``quality_for_run``, ``compute_quality``, ``resolve_extractor``;
- :mod:`sinkgan.metrics.ssim`: ``ssim_params``, ``ssim_images``, ``ssim_2d``;
- :mod:`sinkgan.metrics.rate`: ``fit_rate`` (OLS of log(1/SSIM) on log(eta_theta + eta_phi));
- :mod:`sinkgan.metrics.tracking`: ``track_run`` (back-and-forward tracks from ``checkpoints/last.pt``).

Command line: ``python -m sinkgan.metrics quality RUN_DIR --scale S --out FILE`` and
``python -m sinkgan.metrics track RUN_DIR --scale S --out-dir DIR``.
"""
from __future__ import annotations

__all__ = ["quality_for_run", "track_run", "fit_rate", "ssim_params", "ssim_images"]


def quality_for_run(*args, **kwargs):
    from .quality import quality_for_run as f

    return f(*args, **kwargs)


def track_run(*args, **kwargs):
    from .tracking import track_run as f

    return f(*args, **kwargs)


def fit_rate(*args, **kwargs):
    from .rate import fit_rate as f

    return f(*args, **kwargs)


def ssim_params(*args, **kwargs):
    from .ssim import ssim_params as f

    return f(*args, **kwargs)


def ssim_images(*args, **kwargs):
    from .ssim import ssim_images as f

    return f(*args, **kwargs)
