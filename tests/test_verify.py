"""verify-results: committed runs retrained from their recorded configs reproduce their losses."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sinkgan.config import TrainConfig, validate
from sinkgan.train import train
from sinkgan.verify import compare_logs, first_difference, report, select_runs, verify_run

ROOT = Path(__file__).resolve().parents[1]


def _log(values):
    return pd.DataFrame({"iteration": range(1, len(values) + 1), "g_loss": values, "d_loss": values})


def test_compare_logs_verdicts():
    a = _log([1.0, 2.0, 3.0])
    assert compare_logs(a, _log([1.0, 2.0, 3.0]), 1e-4) == ("equal", 0.0)
    status, rel = compare_logs(a, _log([1.0, 2.0, 3.00003]), 1e-4)
    assert status == "within tolerance" and rel == pytest.approx(1e-5, rel=1e-3)
    assert compare_logs(a, _log([1.0, 2.5, 3.0]), 1e-4)[0] == "different"
    assert compare_logs(a, _log([1.0, 2.0]), 1e-4)[0] == "different"  # rows missing


def test_the_first_difference_is_named_with_its_size():
    a = _log([1.0, 2.0, 3.0, 4.0])
    assert first_difference(a, _log([1.0, 2.0, 3.0, 4.0])) is None
    it, rel = first_difference(a, _log([1.0, 2.0 * (1 + 3e-7), 3.1, 4.4]))
    assert it == 2 and rel == pytest.approx(3e-7, rel=1e-3)
    assert first_difference(a, _log([1.0, 2.0, 3.0])) is None  # rows only one side has are not compared


def test_the_report_tells_rounding_from_another_computation(tiny_run):
    log = pd.read_csv(tiny_run / "log.csv")
    log.loc[1, "g_loss"] *= 1 + 2e-6  # the second iteration, by rounding's size
    log.to_csv(tiny_run / "log.csv", index=False)
    text = report([verify_run(tiny_run, rtol=1e-9)])
    assert "first difference at iteration 2, 2e-06 relative: float32 rounding" in text
    log.loc[1, "g_loss"] *= 1.01
    log.to_csv(tiny_run / "log.csv", index=False)
    assert "first difference at iteration 2, 0.0099 relative: larger than float32 rounding" in report([verify_run(tiny_run)])


@pytest.fixture
def tiny_run(tmp_path):
    cfg = validate(TrainConfig, dict(dataset="digits", arch="dcgan", ngf=4, ndf=4, critic_dim=4, batch_size=8,
                                     n_critic=2, iterations=3, log_every=1, sample_every=100, checkpoint_every=100,
                                     device="cpu", name="tiny"))
    train(cfg, tmp_path / "results" / "smoke" / "tiny", progress=False, scale="smoke")
    return tmp_path / "results" / "smoke" / "tiny"


def test_a_retrained_run_is_equal_and_a_tampered_one_different(tiny_run, tmp_path):
    v = verify_run(tiny_run)
    assert v.status == "equal" and v.rows == 3
    assert v.recorded["data_sha256"] == v.observed["data_sha256"] and len(v.recorded["data_sha256"]) == 64
    log = pd.read_csv(tiny_run / "log.csv")
    log.loc[1, "g_loss"] *= 1.01
    log.to_csv(tiny_run / "log.csv", index=False)
    assert verify_run(tiny_run).status == "different"


def test_a_prefix_of_a_run_is_verified_against_the_first_rows(tiny_run):
    v = verify_run(tiny_run, iterations=2)
    assert v.status == "equal" and v.rows == 2
    log = pd.read_csv(tiny_run / "log.csv")
    log.loc[2, "g_loss"] *= 1.01  # the third iteration: outside the prefix
    log.to_csv(tiny_run / "log.csv", index=False)
    assert verify_run(tiny_run, iterations=2).status == "equal"
    log.loc[1, "d_loss"] *= 1.01  # inside it
    log.to_csv(tiny_run / "log.csv", index=False)
    assert verify_run(tiny_run, iterations=2).status == "different"
    assert verify_run(tiny_run, iterations=50).rows == 3  # no more than the run has
    from sinkgan.verify import main
    with pytest.raises(SystemExit, match="--iterations 0 is out of range; allowed: an integer >= 1"):
        main(["--iterations", "0", "tiny"])


def test_select_runs_refuses_unknown_and_spreads(tiny_run):
    results = tiny_run.parent
    assert select_runs(results, [], "2") == [tiny_run]
    with pytest.raises(SystemExit, match="no finished run nope"):
        select_runs(results, ["nope"], "2")
    with pytest.raises(SystemExit, match="out of range"):
        select_runs(results, [], "0")


def test_committed_smoke_runs_reproduce():
    """What CI checks: two committed smoke runs (an MNIST one and a ResNet one) retrained here give
    their committed losses (`make verify-results`)."""
    results = ROOT / "results" / "smoke"
    runs = [p.parent.name for p in sorted(results.glob("mnist*-seqsgda-*/summary.json"))[:1]]
    runs += [p.parent.name for p in sorted(results.glob("cats*-seqsgda-*-L10-m16-*/summary.json"))[:1]]
    assert len(runs) == 2, runs
    proc = subprocess.run([sys.executable, "-m", "sinkgan.verify", "--scale", "smoke", *runs], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 different" in proc.stdout


def test_a_run_from_before_the_layout_switch_is_retrained_contiguous(tmp_path):
    """config.yaml without memory_format: the run trained NCHW, so it is retrained NCHW (auto would
    pick channels_last on CPU, whose float rounding differs)."""
    import yaml

    cfg = validate(TrainConfig, dict(dataset="digits", arch="dcgan", ngf=16, ndf=16, critic_dim=8, batch_size=16,
                                     n_critic=2, iterations=3, log_every=1, sample_every=100, checkpoint_every=100,
                                     device="cpu", memory_format="contiguous"))
    run = tmp_path / "results" / "smoke" / "old"
    train(cfg, run, progress=False, scale="smoke")
    written = yaml.safe_load((run / "config.yaml").read_text())
    del written["memory_format"], written["provenance"]["memory_format"]
    (run / "config.yaml").write_text(yaml.safe_dump(written, sort_keys=False))
    v = verify_run(run)
    assert v.status == "equal" and v.observed["memory_format"] == "contiguous"
