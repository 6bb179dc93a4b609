r"""Structural similarity (SSIM) of generator parameters and of generated images.

SSIM (Wang et al. 2004) of two images ``x, y`` with a Gaussian window ``w`` (sigma 1.5)::

    mu_x = w * x,   sigma_x^2 = w * x^2 - mu_x^2,   sigma_xy = w * (x y) - mu_x mu_y
    SSIM(x, y) = mean over window positions of
                 (2 mu_x mu_y + C1) (2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1) (sigma_x^2 + sigma_y^2 + C2)),
    C1 = (0.01 L)^2,  C2 = (0.03 L)^2,  L = data_range.

Computed with ``pytorch_msssim.ssim`` (valid convolution, no padding), always with an explicit
``data_range`` and a window that fits the tensor (:func:`fitting_window`).

Two modes for the convergence protocol (paper section IV-C, figures 21-22):

``params`` (default; what the paper's text describes): SSIM between the generator parameter
    tensors ``theta^i`` captured during a track and a reference capture ``theta^r``: the
    preceding capture ``theta^{i-1}`` (default, section III-D) or the track's start ``theta^0``
    (see :mod:`sinkgan.metrics.tracking`).  Each parameter
    tensor is viewed as a 2-d image by :func:`as_image_2d`:

    * a tensor of shape ``(d0, d1, ..., dk)`` with k >= 1 becomes the matrix ``(d0, d1*...*dk)``
      (row-major: one row per output unit/channel of a linear or convolution layer, its fan-in
      along the row; a transposed convolution's leading dim is its input channels);
    * a 1-d tensor (bias, batch-norm scale/shift) of length n is one row ``(1, n)``;
    * a 0-d tensor is ``(1, 1)``.

    ``pytorch_msssim`` squeezes singleton spatial dims, so a side of length 1 is duplicated
    (``(1, n) -> (2, n)``); duplicating a row or column leaves the mean of the SSIM map unchanged.
    The window side is the largest odd number <= min(11, max(h, w)); along a side shorter than the
    window ``pytorch_msssim`` does not smooth (the SSIM is then the 1-d SSIM along the other side,
    e.g. along a bias vector).  ``data_range`` of tensor t is the peak-to-peak value of the
    reference tensor, ``max(t^r) - min(t^r)`` (1.0 when the reference is constant).  The generator's SSIM is the parameter-count-weighted mean over tensors::

        SSIM(theta, theta^r) = sum_t n_t SSIM(theta_t, theta_t^r) / sum_t n_t.

    Only trainable parameters count (``G.named_parameters()``), not buffers such as batch-norm
    running statistics.

``images`` (the authors' code): SSIM between the images ``G(z_k)`` of 64 fixed latents, mapped
    from [-1, 1] to [0, 255], ``data_range = 255``, window 11, averaged over images and channels.
"""
from __future__ import annotations

import math
import warnings
from typing import Mapping

import torch
from pytorch_msssim import ssim as _ms_ssim

MAX_WINDOW = 11
WINDOW_SIGMA = 1.5
IMAGE_DATA_RANGE = 255.0
MODES = ("params", "images")


def fitting_window(h: int, w: int, max_window: int = MAX_WINDOW) -> int:
    """Largest odd window side ``<= min(max_window, max(h, w))`` (at least 1)."""
    if h < 1 or w < 1:
        raise ValueError(f"image shape ({h}, {w}): both sides must be >= 1")
    if max_window < 1 or max_window % 2 == 0:
        raise ValueError(f"max_window={max_window}: must be an odd integer >= 1")
    side = min(max_window, max(h, w))
    return side if side % 2 == 1 else side - 1


def as_image_2d(t: torch.Tensor) -> torch.Tensor:
    """View a parameter tensor as a 2-d image (see module docstring): ``(d0, numel / d0)``, ``(1, n)``."""
    if t.dim() == 0:
        m = t.reshape(1, 1)
    elif t.dim() == 1:
        m = t.reshape(1, -1)
    else:
        m = t.reshape(t.shape[0], -1)
    if m.shape[0] == 1:
        m = m.repeat(2, 1)
    if m.shape[1] == 1:
        m = m.repeat(1, 2)
    return m


def ssim_2d(x: torch.Tensor, y: torch.Tensor, data_range: float, max_window: int = MAX_WINDOW) -> float:
    """SSIM of two equally shaped tensors viewed by :func:`as_image_2d`, with an explicit ``data_range``."""
    if x.shape != y.shape:
        raise ValueError(f"ssim_2d: shapes differ, {tuple(x.shape)} vs {tuple(y.shape)}")
    if not (data_range > 0 and math.isfinite(data_range)):
        raise ValueError(f"data_range={data_range}: must be a positive finite number")
    a = as_image_2d(x.detach().to(torch.float64).cpu())
    b = as_image_2d(y.detach().to(torch.float64).cpu())
    win = fitting_window(*a.shape, max_window=max_window)
    with warnings.catch_warnings():
        # along a side shorter than the window pytorch_msssim skips smoothing (documented above)
        warnings.filterwarnings("ignore", message="Skipping Gaussian Smoothing")
        value = _ms_ssim(a[None, None], b[None, None], data_range=float(data_range), win_size=win,
                         win_sigma=WINDOW_SIGMA, size_average=True)
    return float(value)


def reference_range(ref: torch.Tensor) -> float:
    """``data_range`` for a parameter tensor: ``max(ref) - min(ref)``, or 1.0 for a constant tensor."""
    ref = ref.detach()
    span = float(ref.max() - ref.min()) if ref.numel() else 0.0
    return span if span > 0 and math.isfinite(span) else 1.0


def ssim_params(params: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor]) -> float:
    r"""Parameter-count-weighted mean SSIM over tensors: ``sum_t n_t SSIM(theta_t, ref_t) / sum_t n_t``."""
    if set(params) != set(reference):
        missing = sorted(set(params) ^ set(reference))
        raise ValueError(f"ssim_params: parameter names differ between the two generators: {missing[:5]}")
    total, weight = 0.0, 0
    for name, ref in reference.items():
        n = ref.numel()
        if n == 0:
            continue
        total += n * ssim_2d(params[name], ref, data_range=reference_range(ref))
        weight += n
    if weight == 0:
        raise ValueError("ssim_params: no parameters to compare")
    return total / weight


def to_pixel_range(images: torch.Tensor) -> torch.Tensor:
    """Map generator output in [-1, 1] to [0, 255] (float): ``(clamp(x, -1, 1) + 1) * 127.5``."""
    return (images.detach().to(torch.float64).clamp(-1, 1) + 1) * 127.5


def ssim_images(images: torch.Tensor, reference: torch.Tensor, max_window: int = MAX_WINDOW) -> float:
    """SSIM between two image batches in [-1, 1] (N, C, H, W), in the [0, 255] range, data_range 255."""
    if images.shape != reference.shape or images.dim() != 4:
        raise ValueError(f"ssim_images: expected two equal (N, C, H, W) batches, got {tuple(images.shape)} "
                         f"and {tuple(reference.shape)}")
    h, w = images.shape[-2:]
    if min(h, w) < 3:
        raise ValueError(f"ssim_images: images of {h}x{w} pixels are too small for SSIM")
    win = fitting_window(min(h, w), min(h, w), max_window=max_window)
    value = _ms_ssim(to_pixel_range(images).cpu(), to_pixel_range(reference).cpu(), data_range=IMAGE_DATA_RANGE,
                     win_size=win, win_sigma=WINDOW_SIGMA, size_average=True)
    return float(value)


def snapshot_params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Detached CPU float64 copies of ``module.named_parameters()`` (the generator's theta)."""
    return {name: p.detach().to("cpu", torch.float64).clone() for name, p in module.named_parameters()}
