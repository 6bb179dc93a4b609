"""Sample grids: tile generated images and write them as PNG (training's sample grids, SiNG 7.3)."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_write_bytes


def image_grid(images: torch.Tensor, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """Tile (n, C, H, W) images in [-1, 1] into one uint8 (H', W', C) array (white padding)."""
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
    """Write a uint8 image array as PNG, atomically."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
