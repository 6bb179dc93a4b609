"""SSIM of parameter tensors and images (sinkgan.metrics.ssim)."""
import pytest
import torch

from sinkgan.metrics.ssim import (as_image_2d, fitting_window, reference_range, snapshot_params, ssim_2d,
                                  ssim_images, ssim_params)

SHAPES = [(16, 3, 4, 4), (32, 24), (100,), (3,), (64, 1), (1, 5)]
NOISE = (0.0, 0.01, 0.05, 0.2, 0.5)  # noise std relative to the tensor's range


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("shape", SHAPES)
def test_ssim_of_tensor_with_itself_is_one_and_falls_with_noise(shape):
    g = _gen()
    t = torch.randn(shape, generator=g)
    scale = reference_range(t)
    e = torch.randn(shape, generator=g)  # one noise direction, growing amplitude
    values = [ssim_2d(t + s * scale * e, t, data_range=scale) for s in NOISE]
    assert values[0] == pytest.approx(1.0, abs=1e-9)
    assert all(a > b for a, b in zip(values, values[1:])), values
    if t.numel() >= 64:  # many windows: strong noise destroys the structure
        assert values[-1] < 0.6


def test_as_image_2d_layout():
    assert as_image_2d(torch.zeros(8, 4, 3, 3)).shape == (8, 36)  # one row per output channel
    assert as_image_2d(torch.zeros(10)).shape == (2, 10)  # a vector is one row, duplicated
    assert as_image_2d(torch.zeros(7, 1)).shape == (7, 2)
    assert as_image_2d(torch.tensor(3.0)).shape == (2, 2)


def test_fitting_window():
    assert fitting_window(32, 32) == 11
    assert fitting_window(2, 10) == 9
    assert fitting_window(2, 2) == 1
    with pytest.raises(ValueError, match="max_window"):
        fitting_window(5, 5, max_window=4)


def test_ssim_2d_rejects_bad_input():
    t = torch.ones(4, 4)
    with pytest.raises(ValueError, match="data_range"):
        ssim_2d(t, t, data_range=0.0)
    with pytest.raises(ValueError, match="shapes differ"):
        ssim_2d(t, torch.ones(4, 5), data_range=1.0)


def test_reference_range_of_constant_tensor_is_one():
    assert reference_range(torch.ones(5)) == 1.0
    assert reference_range(torch.tensor([-1.0, 3.0])) == 4.0


def test_ssim_params_weights_tensors_by_size():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(20, 30), torch.nn.Linear(30, 2))
    ref = snapshot_params(net)
    assert ssim_params(ref, ref) == pytest.approx(1.0, abs=1e-9)
    moved = dict(ref)
    moved["1.bias"] = ref["1.bias"] + 10.0  # the smallest tensor (2 of 692 parameters) changes a lot
    n = {k: v.numel() for k, v in ref.items()}
    expected = (sum(n.values()) - n["1.bias"] + n["1.bias"] * ssim_2d(moved["1.bias"], ref["1.bias"],
                                                                     reference_range(ref["1.bias"]))) / sum(n.values())
    assert ssim_params(moved, ref) == pytest.approx(expected, rel=1e-12)
    assert ssim_params(moved, ref) > 0.99
    with pytest.raises(ValueError, match="names differ"):
        ssim_params({"a": torch.ones(3)}, ref)


def test_ssim_images_identity_and_noise():
    g = _gen(1)
    im = torch.rand(8, 3, 32, 32, generator=g) * 2 - 1
    e = torch.randn(im.shape, generator=g)
    values = [ssim_images((im + s * e).clamp(-1, 1), im) for s in (0.0, 0.05, 0.3, 1.0)]
    assert values[0] == pytest.approx(1.0, abs=1e-9)
    assert all(a > b for a, b in zip(values, values[1:])), values
    with pytest.raises(ValueError, match="N, C, H, W"):
        ssim_images(im[0], im[0])
