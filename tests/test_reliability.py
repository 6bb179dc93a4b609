"""Reliability of a training run and of the command lines (issue 13).

Every refusal is one line on stderr naming the field or file, exit status 2, and leaves the run
directory as it was; a run that diverges stops with exit status 1 and keeps its last finite
checkpoint.  The commands are called in-process (``main(argv)``) to keep each test fast.
"""
import fcntl
import json
import math
import os
import shutil
import signal
import subprocess
import sys

import pandas as pd
import pytest
import torch
import yaml

from sinkgan import cli, train as T
from sinkgan.config import atomic_write_yaml
from sinkgan.config import ConfigError, TrainConfig, load_config, validate

TINY = dict(dataset="digits", arch="dcgan", ngf=4, ndf=4, critic_dim=8, z_dim=8, batch_size=8,
            n_critic=2, iterations=6, log_every=2, sample_every=3, checkpoint_every=2, device="cpu", n_grid=16)
LOCK = ".sinkgan.lock"


def tiny(**over):
    return validate(TrainConfig, {**TINY, **over})


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run trained at the smoke scale (copied by each test that changes it)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    T.train(tiny(), out, progress=False, scale="smoke")
    return out


@pytest.fixture
def run(finished, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def snapshot(folder):
    """Every file under ``folder`` with its bytes: compared before and after a refusal."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def sinkgan(capsys, *argv):
    """``sinkgan ARGV`` in-process: (exit status, stderr)."""
    code = cli.main(["train", *argv, "--no-progress"] if argv[0] != "run-config" else list(argv))
    return code, capsys.readouterr().err


def exit_of(main, argv, capsys):
    """Exit status of ``main(argv)`` whether it returns or raises SystemExit (argparse), and stderr."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


def one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def poison(module):
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(math.nan)


def poison_after(monkeypatch, iteration: int, network: str) -> None:
    """Make ``Trainer.step`` fill ``network`` ("G" or "D") with NaN right after ``iteration``."""
    step = T.Trainer.step

    def step_then_diverge(self):
        losses = step(self)
        if self.iteration == iteration:
            poison(getattr(self, network))
        return losses

    monkeypatch.setattr(T.Trainer, "step", step_then_diverge)


# ---------------------------------------------------------------- 1. non-finite losses


def test_nonfinite_loss_stops_with_a_message_naming_the_iteration(config_file, tmp_path, capsys):
    """k_sn = 1e6 gives NaN losses from the first iteration: exit 1, no summary, no final networks."""
    out = tmp_path / "run"
    code, err = sinkgan(capsys, str(config_file), "--out", str(out), "--set", "k_sn=1e6")
    line = one_line(err)
    assert code == 1 and "non-finite loss at iteration 1 " in line
    assert not (out / "summary.json").exists() and not (out / "generator.pt").exists()


def test_divergence_after_a_checkpoint_keeps_the_last_finite_checkpoint(tmp_path, monkeypatch):
    """Weights turned NaN after iteration 5: the NaN loss of iteration 6 stops the run; the
    checkpoint of iteration 4 stays, finite, and a resume from it is refused no further."""
    poison_after(monkeypatch, 5, "G")
    out = tmp_path / "run"
    with pytest.raises(Exception, match=r"non-finite loss at iteration 6 .*iteration 4\) is kept"):
        T.train(tiny(), out, progress=False)
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=False)
    assert state["iteration"] == 4
    assert all(torch.isfinite(t).all() for t in state["G"].values())
    assert not (out / "summary.json").exists()


def test_nonfinite_weights_are_never_checkpointed(tmp_path, monkeypatch):
    """Weights NaN after the update of iteration 4 (its loss was finite): checkpoint 2 is kept."""
    poison_after(monkeypatch, 4, "D")
    out = tmp_path / "run"
    with pytest.raises(Exception, match=r"non-finite network weights after iteration 4"):
        T.train(tiny(), out, progress=False)
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=False)["iteration"] == 2


def test_summary_is_strict_json(finished):
    def refuse(token):
        raise ValueError(f"bare {token} in summary.json")

    summary = json.loads((finished / "summary.json").read_text(), parse_constant=refuse)
    assert summary["finite"] and math.isfinite(summary["final_g_loss"])


# ---------------------------------------------------------------- 2. quality of a NaN generator


def test_quality_refuses_nonfinite_samples(run, capsys):
    from sinkgan.metrics.__main__ import main

    blob = torch.load(run / "generator.pt", weights_only=True)
    blob["state_dict"] = {k: torch.full_like(v, math.nan) if v.is_floating_point() else v
                          for k, v in blob["state_dict"].items()}
    torch.save(blob, run / "generator.pt")
    code, err = exit_of(main, ["quality", str(run), "--scale", "smoke", "--out", str(run / "quality.json"),
                               "--n-samples", "4", "--extractor", "offline", "--device", "cpu"], capsys)
    assert code == 2 and "non-finite" in one_line(err) and "generator.pt" in err
    assert not (run / "quality.json").exists()


def test_quality_of_a_finished_run_without_its_weights_says_why_and_what_to_do(run, capsys):
    """Weights are committed at the smoke scale only: a clone of another scale holds finished runs
    without generator.pt, and measuring one there names the policy and the remedy."""
    from sinkgan.metrics.__main__ import main

    (run / "generator.pt").unlink()
    code, err = exit_of(main, ["quality", str(run), "--scale", "small", "--out", str(run / "quality.json"),
                               "--n-samples", "4", "--extractor", "offline", "--device", "cpu"], capsys)
    assert code == 2 and "generator.pt" in err and "smoke scale only" in one_line(err) and "retrain" in err
    assert not (run / "quality.json").exists()


# ---------------------------------------------------------------- 4. log consistent with the checkpoint


def test_resume_refuses_a_missing_log(run, capsys, config_file):
    (run / "log.csv").unlink()
    before = snapshot(run)
    code, err = sinkgan(capsys, str(config_file), "--out", str(run), "--resume", "--set", "iterations=8")
    assert code == 2 and "log.csv is missing" in one_line(err) and "6 iterations" in err
    assert snapshot(run) == before


def test_resume_refuses_a_log_with_missing_rows(run, capsys, config_file):
    lines = (run / "log.csv").read_text().splitlines(keepends=True)
    (run / "log.csv").write_text("".join(lines[:2] + lines[4:5] + lines[6:]))  # drop iterations 2, 3 and 5
    before = snapshot(run)
    code, err = sinkgan(capsys, str(config_file), "--out", str(run), "--resume", "--set", "iterations=8")
    assert code == 2 and "rows 2..3, 5 missing" in one_line(err)
    assert snapshot(run) == before


def test_resume_drops_a_row_cut_short_by_a_crash(tmp_path):
    out = tmp_path / "run"
    T.train(tiny(iterations=4), out, progress=False)
    with (out / "log.csv").open("a") as fh:
        fh.write("1")  # a row cut short after its first character (as of iteration 1x) by a crash
    T.train(tiny(iterations=6), out, resume=True, progress=False)
    assert pd.read_csv(out / "log.csv").iteration.tolist() == list(range(1, 7))


def test_log_deleted_during_the_run_stops_it(tmp_path, monkeypatch):
    append = T.RunLog.append
    calls = []

    def append_after_deletion(self, rows):
        calls.append(rows)
        if len(calls) == 2:
            self.path.unlink()
        return append(self, rows)

    monkeypatch.setattr(T.RunLog, "append", append_after_deletion)
    out = tmp_path / "run"
    with pytest.raises(Exception, match=r"log.csv disappeared during the run \(it held iterations 1..2\)"):
        T.train(tiny(), out, progress=False)
    assert not (out / "summary.json").exists()


# ---------------------------------------------------------------- 5. resume below the iterations done


def test_resume_refuses_fewer_iterations_than_done(run, capsys, config_file):
    before = snapshot(run)
    code, err = sinkgan(capsys, str(config_file), "--out", str(run), "--resume", "--set", "iterations=3")
    assert code == 2 and "iterations: 3" in one_line(err) and "6" in err
    assert snapshot(run) == before
    assert yaml.safe_load((run / "config.yaml").read_text())["iterations"] == 6


# ---------------------------------------------------------------- 6. one writer per run directory

HOLD_LOCK = ("import fcntl, os, sys, time\n"
             "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
             "fcntl.flock(fd, fcntl.LOCK_EX)\n"
             "print('locked', flush=True)\n"
             "time.sleep(120)\n")


def test_second_writer_is_refused_and_a_dead_holder_is_taken_over(tmp_path, capsys, config_file):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out / LOCK)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, err = sinkgan(capsys, str(config_file), "--out", str(out))
        assert code == 2 and "in use by another sinkgan process" in one_line(err)
        assert sorted(p.name for p in out.iterdir()) == [LOCK]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    code, err = sinkgan(capsys, str(config_file), "--out", str(out))  # the kernel released the dead holder's lock
    assert code == 0, err
    assert not (out / LOCK).exists() and (out / "summary.json").is_file()


def test_lock_is_held_for_the_whole_run(tmp_path, monkeypatch):
    """While training, the run directory's lock cannot be taken by anyone else."""
    seen = []
    step = T.Trainer.step

    def step_and_probe(self):
        fd = os.open(tmp_path / "run" / LOCK, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            seen.append(self.iteration)
        finally:
            os.close(fd)
        return step(self)

    monkeypatch.setattr(T.Trainer, "step", step_and_probe)
    T.train(tiny(iterations=2), tmp_path / "run", progress=False)
    assert seen == [0, 1]


# ---------------------------------------------------------------- 7. the overwrite guard


def test_refuses_to_overwrite_any_output(run, capsys, config_file):
    shutil.rmtree(run / "checkpoints")
    (run / "log.csv").unlink()
    before = snapshot(run)
    code, err = sinkgan(capsys, str(config_file), "--out", str(run))
    line = one_line(err)
    assert code == 2 and all(name in line for name in ("summary.json", "generator.pt", "samples"))
    assert snapshot(run) == before


def test_refuses_an_empty_out(tmp_path, capsys, config_file, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.iterdir())
    code, err = sinkgan(capsys, str(config_file), "--out", "")
    assert code == 2 and "--out" in one_line(err)
    assert sorted(tmp_path.iterdir()) == before


def test_resume_without_checkpoint_starts_afresh_without_old_samples(tmp_path):
    """A run stopped before its first checkpoint is restarted; its old outputs do not stay mixed in."""
    out = tmp_path / "run"
    T.train(tiny(iterations=3, sample_every=1, checkpoint_every=100), out, progress=False)
    shutil.rmtree(out / "checkpoints")
    (out / "summary.json").unlink()
    T.train(tiny(iterations=2, sample_every=1, checkpoint_every=100), out, resume=True, progress=False)
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["final.png", "iter_0000001.png"]


def test_resume_refuses_a_finished_run_without_checkpoint(run, capsys, config_file):
    shutil.rmtree(run / "checkpoints")
    before = snapshot(run)
    code, err = sinkgan(capsys, str(config_file), "--out", str(run), "--resume")
    assert code == 2 and "last.pt" in one_line(err)
    assert snapshot(run) == before


# ---------------------------------------------------------------- 9. YAML input


@pytest.mark.parametrize("text", [b"eps: [1, 2\n", b"dataset: digits\n\teps: 1\n", b"\x80\x81\x00\xff\xfe"],
                         ids=["not-yaml", "tab-indented", "binary"])
def test_unparseable_yaml_is_a_config_error(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_bytes(text)
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(path, check_data=False)


def test_duplicate_keys_are_refused(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("dataset: digits\neps: 1\nn_iter: 5\neps: 2\n")
    with pytest.raises(ConfigError, match=r"dup.yaml: .*duplicate key 'eps' \(first given on line 2\).*line 4"):
        load_config(path, check_data=False)


def test_exponent_numbers_are_numbers_in_files_and_in_set(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("dataset: digits\nlr_g: 1e-4\nlr_d: 3E-4\neps: 1.0e+1\n")
    cfg = load_config(path, check_data=False)
    assert (cfg.lr_g, cfg.lr_d, cfg.eps) == (1e-4, 3e-4, 10.0)
    assert load_config(path, ["lr_g=2e-4"], check_data=False).lr_g == 2e-4
    path.write_text('dataset: digits\nlr_g: "1e-4"\n')  # quoted: a string, refused with the field
    with pytest.raises(ConfigError, match="lr_g: expected a number"):
        load_config(path, check_data=False)


def test_written_config_reads_back_identically(tmp_path):
    """A string that looks like a number (a run name 1e5) is quoted in config.yaml."""
    cfg = tiny(name="1e5")
    atomic_write_yaml(tmp_path / "config.yaml", cfg.to_dict())
    assert load_config(tmp_path / "config.yaml", check_data=False) == cfg


# ---------------------------------------------------------------- 10. errors found after validation


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_is_refused(tmp_path, capsys, config_file):
    code, err = sinkgan(capsys, str(config_file), "--out", str(tmp_path / "run"), "--set", "device=cuda")
    assert code == 2 and "device" in one_line(err)
    assert not (tmp_path / "run").exists()


def test_batch_larger_than_the_data_set_is_refused(tmp_path, capsys, config_file):
    code, err = sinkgan(capsys, str(config_file), "--out", str(tmp_path / "run"), "--set", "batch_size=5000")
    assert code == 2 and "batch_size: 5000" in one_line(err)
    assert not (tmp_path / "run").exists()


def test_corrupt_data_file_is_refused(tmp_path, capsys, config_file):
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    (tmp_path / "data" / "mnist" / "train-images-idx3-ubyte").write_bytes(b"not an idx file at all")
    code, err = sinkgan(capsys, str(config_file), "--out", str(tmp_path / "run"), "--set", "dataset=mnist",
                        "--set", f"data_root={tmp_path / 'data'}")
    assert code == 2 and "dataset" in one_line(err) and "mnist" in err
    assert not (tmp_path / "run").exists()


def test_unwritable_out_is_refused(tmp_path, capsys, config_file):
    (tmp_path / "a-file").write_text("")
    code, err = sinkgan(capsys, str(config_file), "--out", str(tmp_path / "a-file" / "run"))
    assert code == 2 and "--out" in one_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "tiny.yaml"]


def test_resume_with_a_changed_loss_is_refused(run, capsys, config_file):
    before = snapshot(run)
    code, err = sinkgan(capsys, str(config_file), "--out", str(run), "--resume", "--set", "eps=0.5")
    assert code == 2 and "eps (checkpoint 1.0, now 0.5)" in one_line(err)
    assert snapshot(run) == before


def _truncated(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", [
    lambda p: p.write_bytes(os.urandom(4096)),
    _truncated,
    lambda p: p.write_bytes(b""),
    lambda p: torch.save({"model": {}, "epoch": 3}, p),
], ids=["corrupt", "truncated", "empty", "foreign"])
def test_damaged_checkpoint_is_refused_naming_the_file(run, capsys, config_file, damage):
    damage(run / "checkpoints" / "last.pt")
    before = snapshot(run)
    code, err = sinkgan(capsys, str(config_file), "--out", str(run), "--resume", "--set", "iterations=8")
    assert code == 2 and "checkpoints/last.pt" in one_line(err)
    assert snapshot(run) == before


# ---------------------------------------------------------------- 11. the loss buffer


def test_huge_log_every_allocates_a_bounded_buffer(tmp_path, monkeypatch, capsys):
    zeros = torch.zeros

    def bounded_zeros(*size, **kw):
        shape = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        assert math.prod(shape) < 10**7, f"torch.zeros{tuple(shape)}: an allocation proportional to log_every"
        return zeros(*size, **kw)

    monkeypatch.setattr(torch, "zeros", bounded_zeros)
    out = tmp_path / "run"
    T.train(tiny(log_every=10**9), out, progress=False)
    assert "log_every=1000000000 exceeds the loss buffer" in capsys.readouterr().out
    assert pd.read_csv(out / "log.csv").iteration.tolist() == list(range(1, 7))


# ---------------------------------------------------------------- 12. the metrics and data command lines


def _metrics(argv, capsys):
    from sinkgan.metrics.__main__ import main

    return exit_of(main, argv, capsys)


def test_metrics_refuse_a_missing_run_dir(tmp_path, capsys):
    code, err = _metrics(["quality", str(tmp_path / "nope"), "--scale", "smoke", "--out", str(tmp_path / "q.json")], capsys)
    assert code == 2 and "nope" in one_line(err)


@pytest.mark.parametrize("argv, field", [
    (["quality", "RUN", "--n-samples", "1"], "--n-samples"),
    (["quality", "RUN", "--device", "tpu"], "--device"),
    (["track", "RUN", "--tracks", "0"], "--tracks"),
], ids=["n-samples-1", "device-tpu", "tracks-0"])
def test_metrics_refuse_bad_arguments(run, capsys, argv, field):
    out = ["--out", str(run / "quality.json")] if argv[0] == "quality" else ["--out-dir", str(run / "tracking")]
    argv = [str(run) if a == "RUN" else a for a in argv] + ["--scale", "smoke"] + out
    code, err = _metrics(argv, capsys)
    assert code == 2 and f"error: argument {field}: " in err.splitlines()[-1]
    assert not (run / "quality.json").exists() and not (run / "tracking").exists()


def test_quality_refuses_a_generator_of_the_other_architecture(run, capsys):
    from sinkgan.models import build_generator

    G = build_generator("resnet", 1, z_dim=8, ngf=4)
    torch.save({"state_dict": G.state_dict()}, run / "generator.pt")  # no config: only the tensors tell
    code, err = _metrics(["quality", str(run), "--scale", "smoke", "--out", str(run / "quality.json")], capsys)
    assert code == 2 and "architecture mismatch" in one_line(err) and "generator.pt" in err


def test_track_refuses_a_run_without_checkpoint(run, capsys):
    shutil.rmtree(run / "checkpoints")
    code, err = _metrics(["track", str(run), "--scale", "smoke", "--out-dir", str(run / "tracking")], capsys)
    assert code == 2 and "last.pt does not exist" in one_line(err)


def test_readme_quality_command_defaults_scale_and_out(run, capsys, monkeypatch):
    """``python -m sinkgan.metrics quality RUN_DIR``: scale from config.yaml's provenance, out RUN_DIR/quality.json."""
    from sinkgan.metrics import quality as Q

    calls = []
    monkeypatch.setattr(Q, "quality_for_run", lambda run_dir, scale, **kw: calls.append((scale, kw["out"])) or
                        {"fid": 1.0, "kid_mean": 0.0, "is_mean": None, "extractor": "x", "n_samples": 2})
    code, err = _metrics(["quality", str(run)], capsys)
    assert code == 0, err
    assert calls == [("smoke", str(run / "quality.json"))]


def test_quality_without_a_recorded_scale_names_the_options(run, capsys):
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    resolved["provenance"]["scale"] = None
    (run / "config.yaml").write_text(yaml.safe_dump(resolved))
    code, err = _metrics(["quality", str(run)], capsys)
    assert code == 2 and "--scale" in one_line(err) and "--n-samples" in err


def test_data_fetch_refuses_negative_max_images(capsys):
    from sinkgan.data import main

    code, err = exit_of(main, ["fetch", "digits", "--max-images", "-5"], capsys)
    assert code == 2 and "--max-images" in err and ">= 0" in err


def test_run_config_refuses_an_unknown_run(capsys):
    code, err = sinkgan(capsys, "run-config", "smoke", "no-such-run")
    assert code == 2 and "no-such-run" in one_line(err)


# ---------------------------------------------------------------- 13. stale temporaries


def test_resume_removes_temporaries_of_an_interrupted_write(run, capsys):
    stale = [run / "checkpoints" / ".last.pt.k3j2h1.tmp", run / "samples" / ".final.png.x9y8.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    T.train(tiny(), run, resume=True, progress=False)
    assert not any(path.exists() for path in stale)
    assert "removed 2 temporary file(s)" in capsys.readouterr().out
