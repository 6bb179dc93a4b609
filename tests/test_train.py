"""The training loop: run directory, algorithm structure, variants, kill-and-resume."""
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
import yaml

from sinkgan.config import validate, TrainConfig
from sinkgan.train import LOG_COLUMNS, Trainer, train

TINY = dict(dataset="digits", arch="dcgan", ngf=4, ndf=4, critic_dim=8, z_dim=8, batch_size=8,
            n_critic=3, iterations=6, log_every=2, sample_every=3, checkpoint_every=2, device="cpu", n_grid=16)


def tiny(**over):
    return validate(TrainConfig, {**TINY, **over})


def test_run_directory_layout(tmp_path):
    out = tmp_path / "run"
    train(tiny(), out, progress=False, scale="unit")
    for rel in ("config.yaml", "log.csv", "generator.pt", "discriminator.pt", "summary.json", "samples/final.png",
                "samples/iter_0000003.png", "checkpoints/last.pt"):
        assert (out / rel).is_file(), rel
    # the last iteration's grid is final.png alone (an iter_0000006.png would be the same bytes again)
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["final.png", "iter_0000003.png"]
    log = pd.read_csv(out / "log.csv")
    assert tuple(log.columns) == LOG_COLUMNS
    assert log.iteration.tolist() == list(range(1, 7))
    assert log.critic_updates.tolist() == [3 * i for i in range(1, 7)]
    assert log.wall_seconds.is_monotonic_increasing
    summary = yaml.safe_load((out / "summary.json").read_text())
    assert summary["dataset"] == "digits" and summary["dataset_is_standin"] is True
    assert summary["scale"] == "unit" and summary["iterations"] == 6 and summary["finite"]
    assert summary["gpu_seconds"] is None and summary["cuda"] is None  # a CPU run holds no GPU time
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["n_critic"] == 3 and "commit" in resolved["provenance"]
    assert not list(out.rglob("*.tmp"))


def test_summary_names_the_commit_the_run_trained_with(tmp_path, monkeypatch):
    """HEAD may move while a run trains (a commit made during a long run): summary.json must name
    the code the process started with, the same commit as config.yaml's provenance."""
    from sinkgan import provenance

    commits = iter(["trained-with", "head-at-the-end", "later", "later"])
    monkeypatch.setattr(provenance, "git_commit", lambda short=True: next(commits))
    out = tmp_path / "run"
    train(tiny(), out, progress=False)
    summary = yaml.safe_load((out / "summary.json").read_text())
    assert yaml.safe_load((out / "config.yaml").read_text())["provenance"]["commit"] == "trained-with"
    assert summary["commit"] == "trained-with"


def test_a_resumed_run_records_every_sitting(tmp_path, monkeypatch):
    """A run trained in two sittings under two commits names both, with the iterations each did: the
    summary lists every sitting, config.yaml this sitting's provenance and the earlier sittings."""
    from sinkgan import provenance

    out = tmp_path / "run"
    monkeypatch.setattr(provenance, "git_commit", lambda short=True: "first")
    train(tiny(iterations=4), out, progress=False)
    monkeypatch.setattr(provenance, "git_commit", lambda short=True: "second")
    train(tiny(iterations=6), out, resume=True, progress=False)
    summary = json.loads((out / "summary.json").read_text())
    spans = [(s["commit"], s["from_iteration"], s["to_iteration"]) for s in summary["sittings"]]
    assert spans == [("first", 0, 4), ("second", 4, 6)]
    assert all(s["wall_seconds"] > 0 and s["started_utc"] and s["device"].startswith("cpu") for s in summary["sittings"])
    assert summary["commit"] == "second"
    prov = yaml.safe_load((out / "config.yaml").read_text())["provenance"]
    assert prov["commit"] == "second" and prov["earlier_sittings"] == summary["sittings"][:1]


def test_a_checkpoint_from_before_sittings_were_recorded_counts_as_one_unknown_sitting(tmp_path):
    out = tmp_path / "run"
    train(tiny(iterations=4), out, progress=False)
    ckpt = out / "checkpoints" / "last.pt"
    state = torch.load(ckpt, weights_only=False)
    del state["sittings"]
    torch.save(state, ckpt)
    train(tiny(iterations=6), out, resume=True, progress=False)
    first, second = json.loads((out / "summary.json").read_text())["sittings"]
    assert (first["commit"], first["from_iteration"], first["to_iteration"]) == (None, 0, 4)
    assert first["wall_seconds"] == state["wall_seconds"]
    assert (second["from_iteration"], second["to_iteration"]) == (4, 6)


def test_seqsgda_is_algorithm_1(monkeypatch):
    """n_critic critic steps on fresh batches, then one generator step on the last batch."""
    tr = Trainer(tiny())
    calls = []
    real_c, real_g = tr.critic_step, tr.generator_step
    monkeypatch.setattr(tr, "critic_step", lambda x, z: calls.append(("D", x.data_ptr(), z.sum().item())) or real_c(x, z))
    monkeypatch.setattr(tr, "generator_step", lambda x, z: calls.append(("G", x.data_ptr(), z.sum().item())) or real_g(x, z))
    tr.step()
    assert [c[0] for c in calls] == ["D", "D", "D", "G"]
    assert len({c[2] for c in calls[:3]}) == 3  # fresh latents for every critic step
    assert calls[3][1:] == calls[2][1:]  # generator reuses the last critic batch
    assert (tr.gen_updates, tr.critic_updates) == (1, 3)


def test_critic_ascends_and_generator_descends():
    """One critic step increases S_eps on its batch; one generator step decreases W_eps on its batch."""
    tr = Trainer(tiny(lr_d=1e-3, lr_g=1e-5))
    real, z = tr.real_batch(), tr.latent_batch()
    with torch.no_grad():
        before = tr.divergence(tr.G(z), real).item()
    tr.critic_step(real, z)
    tr.D.eval()  # freeze the spectral-norm power iteration for the comparison
    with torch.no_grad():
        after = tr.divergence(tr.G(z), real).item()
        w0 = tr.generator_objective(tr.G(z), real).item()
    tr.D.train()
    assert after > before
    tr.D.eval()
    tr.generator_step(real, z)
    with torch.no_grad():
        w1 = tr.generator_objective(tr.G(z), real).item()
    assert w1 < w0


def test_sgd_autodiff_clips_and_has_no_spectral_norm():
    tr = Trainer(tiny(variant="sgd-autodiff", clip=0.01))
    tr.step()
    assert all(p.abs().max() <= 0.01 + 1e-12 for p in tr.D.parameters())
    assert not any("parametrizations" in name for name, _ in tr.D.named_parameters())


def test_simsgda_updates_both_once():
    tr = Trainer(tiny(variant="simsgda", n_critic=1))
    g_before = [p.clone() for p in tr.G.parameters()]
    g_loss, d_loss = tr.step()
    assert (tr.gen_updates, tr.critic_updates) == (1, 1)
    assert torch.isfinite(g_loss) and torch.isfinite(d_loss)
    assert any(not torch.equal(a, b) for a, b in zip(g_before, tr.G.parameters()))


def test_refuses_to_overwrite_a_run_without_resume(tmp_path):
    out = tmp_path / "run"
    train(tiny(iterations=2), out, progress=False)
    with pytest.raises(FileExistsError):
        train(tiny(iterations=2), out, progress=False)


def _cli(cfg_path, out, *extra):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return [sys.executable, "-m", "sinkgan.cli", "train", str(cfg_path), "--out", str(out), "--no-progress", *extra], env


def _wait_for_checkpoint_then(proc, out, sig, min_rows=5, timeout=240):
    ckpt, log = out / "checkpoints" / "last.pt", out / "log.csv"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ckpt.exists() and log.exists() and len(log.read_text().splitlines()) > min_rows:
            proc.send_signal(sig)
            return proc.wait(timeout=120)
        if proc.poll() is not None:
            pytest.fail(f"run finished before it could be interrupted: {proc.stdout.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no checkpoint appeared in time")


_FINGERPRINT = """
import hashlib, sys, yaml
from sinkgan.config import TrainConfig, validate
from sinkgan.train import Trainer
tr = Trainer(validate(TrainConfig, yaml.safe_load(sys.argv[1])))
tr.step()
h = hashlib.sha256()
for p in [*tr.G.parameters(), *tr.D.parameters()]:
    h.update(p.detach().numpy().tobytes())
print(h.hexdigest())
"""


def test_training_is_bit_identical_across_processes():
    """One configuration trained in separate processes, one after another (default threads), gives
    the same weights bit for bit: without sinkgan.models.prime_cpu_tanh about one process in seven
    differed, so 15 processes agreed by chance only about one time in eight."""
    cfg = yaml.safe_dump({**TINY, "iterations": 1})
    prints = [subprocess.run([sys.executable, "-c", _FINGERPRINT, cfg], capture_output=True, text=True, check=True,
                             timeout=300).stdout.strip() for _ in range(15)]
    assert len(set(prints)) == 1, prints


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def test_killed_run_resumes_identically(tmp_path, sig):
    """A run killed part-way (SIGKILL: no warning; SIGTERM: checkpoint then exit 143) and resumed
    ends bit-identical to an uninterrupted run on CPU: weights, optimizer moments and logged losses."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**TINY, "iterations": 24, "checkpoint_every": 3, "log_every": 2}))
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    cmd, env = _cli(cfg, ref)
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    cmd, env = _cli(cfg, cut)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rc = _wait_for_checkpoint_then(proc, cut, sig)
    assert rc == (-9 if sig == signal.SIGKILL else 128 + signal.SIGTERM)
    assert not (cut / "summary.json").exists()
    stopped_at = torch.load(cut / "checkpoints" / "last.pt", weights_only=False)["iteration"]
    assert 0 < stopped_at < 24
    cmd, env = _cli(cfg, cut, "--resume")
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    assert f"resumed {cut} from checkpoint at iteration {stopped_at}" in done.stdout
    a = torch.load(ref / "checkpoints" / "last.pt", weights_only=False)
    b = torch.load(cut / "checkpoints" / "last.pt", weights_only=False)
    for net in ("G", "D"):
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net]), net
    for k, state in a["opt_g"]["state"].items():
        assert torch.equal(state["exp_avg"], b["opt_g"]["state"][k]["exp_avg"])
    la, lb = pd.read_csv(ref / "log.csv"), pd.read_csv(cut / "log.csv")
    assert la.iteration.tolist() == lb.iteration.tolist() == list(range(1, 25))
    assert (la[["g_loss", "d_loss", "gen_updates", "critic_updates"]].values == lb[["g_loss", "d_loss", "gen_updates", "critic_updates"]].values).all()


def test_snapshots_and_progress_lines(tmp_path, capsys):
    """snapshot_every keeps the generator in snapshots/ (IS/FID over training, Fig. 10); without a
    progress bar the run prints progress lines (iteration, losses, it/s, ETA) for the job's log."""
    from sinkgan.config import TrainConfig, validate
    from sinkgan.metrics.quality import generator_snapshots
    from sinkgan.train import train

    cfg = validate(TrainConfig, dict(dataset="digits", arch="dcgan", ngf=4, ndf=4, critic_dim=4, batch_size=8,
                                     n_critic=1, iterations=4, log_every=1, sample_every=100, checkpoint_every=100,
                                     snapshot_every=2, progress_every_s=1e-9, device="cpu", name="snap"))
    train(cfg, tmp_path / "run", progress=False)
    snaps = generator_snapshots(tmp_path / "run", json.loads((tmp_path / "run" / "summary.json").read_text()))
    assert [s.iteration for s in snaps] == [2, 4] and snaps[-1].path.name == "generator.pt"
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[sinkgan] train snap:")]
    assert [line.split()[3] for line in lines] == ["1/4", "2/4", "3/4", "4/4", "4/4"]
    assert all("it/s" in line and "ETA" in line and "g_loss" in line for line in lines)


def test_progress_lines_are_rate_limited(capsys):
    from sinkgan.progress import Progress

    p = Progress("job", 10, unit="step", every_s=3600)
    for k in range(1, 11):
        p.update(k, loss=0.5)
    p.update(10, force=True, loss=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("[sinkgan] job: 1/10  loss 0.5") and "step/s  ETA" in lines[0]
    assert lines[1].startswith("[sinkgan] job: 10/10  loss 0.25") and lines[1].endswith("ETA 00:00:00")
