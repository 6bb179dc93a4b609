"""IS/FID/KID with torch-fidelity and the offline extractor (sinkgan.metrics.quality).

The offline extractor runs the full Inception graph on CPU (~0.3 s per image), so these tests
use 8 images per side.
"""
import json
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


def test_offline_features_are_the_graphs_own_on_its_contiguous_input():
    """The extractor feeds the graph channels-last (faster on CPU): its features must be those of the
    graph run on the plain contiguous tensor, after the same resize and normalisation."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    u8 = Q.to_uint8_rgb(_smooth_images(3))
    extractor = Q._make_offline_class()(Q.OFFLINE_NAME, [Q.FEATURE_LAYER])
    x = interpolate_bilinear_2d_like_tensorflow1x(u8.to(torch.float32), size=(Q.INPUT_SIZE,) * 2, align_corners=False)
    with torch.inference_mode():
        reference = extractor.net(((x - 128) / 128).contiguous())
        (features,) = extractor(u8)
    assert features.shape == (3, 2048)
    torch.testing.assert_close(features, reference, rtol=1e-4, atol=1e-4)


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


def test_real_features_are_cached_only_when_asked(offline, tmp_path, monkeypatch):
    """The curve extracts the real side once; torch-fidelity caches input2 under the given folder.
    (Checked once with the real extractor: cached and uncached scores agree; too slow for CI.)"""
    import torch_fidelity

    calls = []
    monkeypatch.setattr(torch_fidelity, "calculate_metrics", lambda **kw: calls.append(kw) or {
        "frechet_inception_distance": 1.0, "kernel_inception_distance_mean": 0.1, "kernel_inception_distance_std": 0.0})
    Q.compute_quality(_smooth_images(2), _smooth_images(2), offline)
    Q.compute_quality(_smooth_images(2), _smooth_images(2), offline, real_cache=tmp_path)
    assert calls[0]["cache"] is False and "cache_root" not in calls[0]
    assert (calls[1]["cache"], calls[1]["cache_root"], calls[1]["input2_cache_name"]) == (True, str(tmp_path), "real")
    assert calls[1].get("input1_cache_name") is None  # the generated side is never cached


TINY = dict(dataset="digits", arch="dcgan", ngf=4, ndf=4, critic_dim=8, z_dim=8, batch_size=8, n_critic=2,
            iterations=3, max_images=64, log_every=1, sample_every=3, checkpoint_every=3, device="cpu", n_grid=8)


def test_quality_is_a_curve_over_the_generators_the_run_keeps(tmp_path, monkeypatch):
    """Fig. 10: IS/FID over training -- every kept snapshot, then the final generator, same latents."""
    from sinkgan.config import TrainConfig, validate
    from sinkgan.train import train

    cfg = validate(TrainConfig, {**TINY, "data_root": str(tmp_path / "data"), "name": "tiny"})
    run_dir = tmp_path / "run"
    train(cfg, run_dir, progress=False, scale="smoke")
    final = torch.load(run_dir / "generator.pt", weights_only=True)["state_dict"]
    early = {k: (v * 0.5 if v.is_floating_point() else v) for k, v in final.items()}
    (run_dir / "snapshots").mkdir()
    torch.save({"state_dict": early, "iteration": 1, "gen_updates": 1}, run_dir / "snapshots" / "generator_0000001.pt")
    torch.save({"state_dict": final, "iteration": 3, "gen_updates": 3}, run_dir / "snapshots" / "generator_0000003.pt")

    caches = []

    def fake_quality(fake, real, extractor, device="cpu", batch_size=64, real_cache=None):
        caches.append(real_cache)
        v = float(fake.abs().mean())
        return {"fid": v, "kid_mean": v / 100, "kid_std": 0.0, "is_mean": None, "is_std": None,
                "is_unavailable_reason": "no logits", "kid_subset_size": len(fake)}

    monkeypatch.setattr(Q, "compute_quality", fake_quality)
    monkeypatch.setattr(Q, "resolve_extractor", lambda choice, weights_path=None: Q.Extractor(
        "offline", "x", "w", "0" * 64, False, "test"))
    q = Q.quality_for_run(run_dir, "smoke", out=tmp_path / "quality.json", device="cpu", n_samples=4)
    assert [(p["iteration"], p["gen_updates"], p["source"]) for p in q["curve"]] == [
        (1, 1, "snapshots/generator_0000001.pt"), (3, 3, "generator.pt")]  # the final snapshot is generator.pt
    assert q["fid"] == q["curve"][-1]["fid"] != q["curve"][0]["fid"]
    assert len(set(caches)) == 1 and caches[0] is not None  # one real-feature cache for the whole curve
    assert json.loads((tmp_path / "quality.json").read_text())["curve"] == q["curve"]
    # the sample figures' runs: the final generator only, the same scores as the curve's last point
    only = Q.quality_for_run(run_dir, "smoke", out=tmp_path / "final.json", device="cpu", n_samples=4, curve=False)
    assert [(p["iteration"], p["source"]) for p in only["curve"]] == [(3, "generator.pt")]
    assert only["fid"] == q["fid"] and only["kid_mean"] == q["kid_mean"]
