"""Back-and-forward tracking and the metrics CLI on a tiny trained run (sinkgan.metrics.tracking)."""
import copy
import json

import pandas as pd
import pytest
import torch

from sinkgan.config import TrainConfig, validate
from sinkgan.metrics.__main__ import main as metrics_main
from sinkgan.metrics.ssim import snapshot_params, ssim_params
from sinkgan.metrics.tracking import CSV_COLUMNS, run_tracks, track_run, track_seed
from sinkgan.train import Trainer, train

TINY = dict(dataset="digits", arch="dcgan", ngf=4, ndf=4, critic_dim=8, z_dim=8, batch_size=8, n_critic=3,
            iterations=3, max_images=64, log_every=1, sample_every=3, checkpoint_every=3, device="cpu", n_grid=8)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    cfg = validate(TrainConfig, {**TINY, "data_root": str(root / "data"), "name": "tiny"})
    run_dir = root / "run"
    train(cfg, run_dir, progress=False, scale="smoke")
    return run_dir, cfg


def _state(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)


@pytest.mark.parametrize("mode", ["params", "images"])
def test_tracks_start_at_the_stationary_point_and_count_updates(tiny_run, mode):
    run_dir, cfg = tiny_run
    trainer = Trainer(cfg, "cpu")
    state = _state(run_dir)
    frame = run_tracks(trainer, state, tracks=2, track_iterations=4, capture_every=2, mode=mode)
    assert list(frame.columns) == list(CSV_COLUMNS)
    assert (frame["mode"] == mode).all()
    starts = frame[frame.step == 0]
    assert len(starts) == 2 and (starts.ssim - 1).abs().max() < 1e-9
    later = frame[frame.step > 0]
    assert list(later.gen_updates) == [2, 4, 2, 4]
    assert (later.critic_updates == cfg.n_critic * later.gen_updates).all()  # eta_phi = n_critic eta_theta
    assert (later.ssim < 1).all()
    # each track has its own seed, so the two tracks differ; rerunning gives the same numbers
    t0, t1 = (later[later.track == k].ssim.to_numpy() for k in (0, 1))
    assert not (t0 == t1).all()
    again = run_tracks(trainer, state, tracks=2, track_iterations=4, capture_every=2, mode=mode)
    pd.testing.assert_frame_equal(frame, again)
    assert trainer.gen_updates == state["gen_updates"] + 4  # the trainer was taken back before each track


def test_default_reference_is_the_preceding_capture(tiny_run):
    """Section III-D: SSIM "relative to the preceding SeqSGDA iteration", i.e. SSIM(theta^i, theta^{i-1})."""
    run_dir, cfg = tiny_run
    trainer = Trainer(cfg, "cpu")
    state = _state(run_dir)
    frame = run_tracks(trainer, state, tracks=1, track_iterations=6, capture_every=2)
    assert (frame["reference"] == "previous").all()
    # the same track by hand: back to the stationary point, the track's seed, capture every 2 updates
    trainer.load_state(copy.deepcopy(state))
    trainer.rng.manual_seed(track_seed(cfg.seed, 0))
    torch.manual_seed(track_seed(cfg.seed, 0))
    captures = [snapshot_params(trainer.G)]
    for _ in range(3):
        trainer.step()
        trainer.step()
        captures.append(snapshot_params(trainer.G))
    consecutive = [ssim_params(b, a) for a, b in zip(captures, captures[1:])]
    to_start = [ssim_params(b, captures[0]) for b in captures[1:]]
    assert frame[frame.step > 0].ssim.tolist() == pytest.approx(consecutive, abs=1e-12)
    assert consecutive[1:] != pytest.approx(to_start[1:], abs=1e-6)  # the two references really differ
    start = run_tracks(trainer, state, tracks=1, track_iterations=6, capture_every=2, reference="start")
    assert (start["reference"] == "start").all()
    assert start[start.step > 0].ssim.tolist() == pytest.approx(to_start, abs=1e-12)


def test_run_tracks_rejects_bad_settings(tiny_run):
    run_dir, cfg = tiny_run
    trainer = Trainer(cfg, "cpu")
    with pytest.raises(ValueError, match="tracking.mode"):
        run_tracks(trainer, _state(run_dir), 1, 1, 1, mode="pixels")
    with pytest.raises(ValueError, match="tracking.capture_every"):
        run_tracks(trainer, _state(run_dir), 1, 1, 0)
    with pytest.raises(ValueError, match="tracking.reference: 'first' is not one of previous, start"):
        run_tracks(trainer, _state(run_dir), 1, 1, 1, reference="first")
    with pytest.raises(ValueError, match="tracking.reference"):  # refused before the trainer is built
        track_run(run_dir, "smoke", reference="first", tracks=1, track_iterations=1, capture_every=1)


def test_track_cli_writes_ssim_csv_and_rate_json(tiny_run, tmp_path):
    run_dir, cfg = tiny_run
    out = tmp_path / "tracking"
    assert metrics_main(["track", str(run_dir), "--scale", "smoke", "--out-dir", str(out), "--tracks", "2",
                         "--track-iterations", "3", "--capture-every", "1"]) == 0
    frame = pd.read_csv(out / "ssim.csv")
    assert list(frame.columns) == list(CSV_COLUMNS) and len(frame) == 2 * 4
    rate = json.loads((out / "rate.json").read_text())
    for key in ("kappa", "ci_low", "ci_high", "intercept", "r2", "n_points", "mode", "scale", "commit",
                "dataset_is_standin", "p", "n_critic"):
        assert key in rate
    assert rate["n_points"] == 6 and rate["mode"] == "params" and rate["scale"] == "smoke"
    assert rate["reference"] == "previous" and (frame["reference"] == "previous").all()
    assert rate["ci_low"] <= rate["kappa"] <= rate["ci_high"]
    assert rate["track_seeds"] == [track_seed(cfg.seed, 0), track_seed(cfg.seed, 1)]
    assert rate["dataset_is_standin"] is True


def test_track_refuses_a_run_without_checkpoint(tmp_path, capsys):
    (tmp_path / "summary.json").write_text("{}")
    assert metrics_main(["track", str(tmp_path), "--scale", "smoke", "--out-dir", str(tmp_path / "t")]) == 2
    assert "full training state" in capsys.readouterr().err


def test_quality_cli_records_extractor_provenance(tiny_run, tmp_path, monkeypatch):
    run_dir, _ = tiny_run
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))  # no standard weights: the offline extractor
    monkeypatch.delenv("SINKGAN_INCEPTION_WEIGHTS", raising=False)
    out = tmp_path / "quality.json"
    assert metrics_main(["quality", str(run_dir), "--scale", "smoke", "--out", str(out), "--n-samples", "4",
                         "--device", "cpu"]) == 0
    q = json.loads(out.read_text())
    for key in ("fid", "kid_mean", "kid_std", "is_mean", "is_std", "is_unavailable_reason", "extractor", "weights_file",
                "weights_sha256", "n_samples", "real_dataset", "dataset_is_standin", "scale", "commit"):
        assert key in q
    assert q["is_mean"] is None and "no class logits" in q["is_unavailable_reason"]
    assert q["n_samples"] == 4 and q["real_dataset"] == "digits" and q["dataset_is_standin"] is True
    assert q["fid"] > 0 and len(q["weights_sha256"]) == 64
    # no snapshots kept: a one-point curve, the final generator
    assert [(p["source"], p["fid"]) for p in q["curve"]] == [("generator.pt", q["fid"])]
