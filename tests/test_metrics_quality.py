"""IS/FID/KID with torch-fidelity and the offline extractor (sinkgan.metrics.quality).

The offline extractor runs the full Inception graph on CPU (~0.3 s per image), so these tests
use 8 images per side.
"""
import re

import pytest
import torch
import torch.nn.functional as F

from sinkgan.metrics import quality as Q


def _smooth_images(n, channels=3, seed=0):
    """Low-frequency colour patterns in [-1, 1] (upsampled 4x4 noise): image-like, not noise."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, channels, 4, 4, generator=g) * 2 - 1
    return F.interpolate(coarse, size=(32, 32), mode="bilinear", align_corners=False)


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))  # no standard weights there
    mp.delenv(Q.ENV_WEIGHTS, raising=False)
    try:
        yield Q.resolve_extractor("auto")
    finally:
        mp.undo()


def test_auto_falls_back_to_offline_extractor_with_provenance(offline):
    assert offline.kind == "offline" and offline.name == Q.OFFLINE_NAME
    assert not offline.has_logits
    assert offline.weights_file.endswith("default_1.pt")
    assert re.fullmatch(r"[0-9a-f]{64}", offline.weights_sha256)
    prov = offline.provenance()
    assert prov["weights_sha256"] == offline.weights_sha256 and prov["extractor"] == Q.OFFLINE_NAME


def test_fid_of_set_with_itself_is_near_zero_and_against_noise_large(offline):
    real = _smooth_images(8)
    noise = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    same = Q.compute_quality(real, real, offline)
    far = Q.compute_quality(noise, real, offline)
    assert abs(same["fid"]) < 1e-2
    assert far["fid"] > 100.0
    assert far["kid_mean"] > same["kid_mean"]
    for result in (same, far):
        assert result["is_mean"] is None and result["is_std"] is None
        assert "no class logits" in result["is_unavailable_reason"]


def test_inception_score_is_refused_without_logits(offline):
    with pytest.raises(Q.ISUnavailable, match="IS unavailable.*no class logits"):
        Q.inception_score(_smooth_images(4), offline)
    # also when torch-fidelity itself is asked for IS with this extractor
    import torch_fidelity

    with pytest.raises(Q.ISUnavailable, match="no class logits"):
        torch_fidelity.calculate_metrics(input1=Q._Images(Q.to_uint8_rgb(_smooth_images(4))), isc=True,
                                         feature_extractor=offline.name, cuda=False, verbose=False, cache=False)


def test_standard_weights_are_found_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.delenv(Q.ENV_WEIGHTS, raising=False)
    with pytest.raises(FileNotFoundError, match="extractor=standard.*not found"):
        Q.resolve_extractor("standard")
    fake = tmp_path / Q.STANDARD_FILE
    fake.write_bytes(b"not the inception weights")
    monkeypatch.setenv(Q.ENV_WEIGHTS, str(fake))
    with pytest.raises(ValueError, match="does not match"):
        Q.resolve_extractor("auto")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Q.resolve_extractor("auto", weights_path=tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="extractor: 'inception'"):
        Q.resolve_extractor("inception")


def test_uint8_conversion_inverts_the_data_loaders_map_and_repeats_gray():
    u = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    x = u.float() / 127.5 - 1  # sinkgan.data.to_unit_range
    back = Q.to_uint8_rgb(x)
    assert back.shape == (1, 3, 16, 16) and back.dtype == torch.uint8
    assert torch.equal(back[:, 0], u[:, 0]) and torch.equal(back[:, 2], u[:, 0])
    with pytest.raises(ValueError, match="expected"):
        Q.to_uint8_rgb(torch.zeros(2, 4, 8, 8))
