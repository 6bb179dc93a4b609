"""The `slurm` Snakemake profile on a real (one-node, localhost) SLURM cluster.

Starts munged, MariaDB, slurmdbd, slurmctld and slurmd with ``tests/slurm/cluster.sh`` (root
only; Debian packages slurm-wlm slurmdbd munge mariadb-server mariadb-client, installed if
missing), then in a scratch copy of the repository (tracked + untracked-not-ignored files, no
``results/smoke``):

1. ``snakemake figures/fig04.pdf --profile slurm --config scale=smoke`` end to end; ``sacct``
   shows every training run as a SLURM job that requested and got a GPU (gres/gpu in
   ReqTRES/AllocTRES), and no light rule went to SLURM;
2. one run is deleted and rebuilt through the profile; while it trains, SLURM delivers SIGTERM to
   its job step (``scancel --signal=TERM``: what SLURM sends at ``--signal=TERM@N`` before a time
   limit); the training checkpoints and exits 143, Snakemake's retry resumes from the
   checkpoint, and the final generator and loss log equal those of the uninterrupted run;
3. a twin (sinkgan.twins) is built through the profile: its original is the one SLURM job (a GPU
   job), the copy (rule copy_twin, a localrule) runs on the submitting host.

Run alone: ``pytest -m slurm -s tests/test_slurm.py`` (prints timings).  Several minutes on 2 cores.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from scratch import copy_worktree, scratch_env

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
CLUSTER_SH = REPO / "tests" / "slurm" / "cluster.sh"
FIGURE = "fig04"
SCALE = "smoke"
SNAKEMAKE_TIMEOUT_S = 420  # bound on each snakemake invocation
STATUS_CHECK_S = "2"  # first sacct poll after this many seconds (profile default: 40)
SMOKE_ITERATIONS, SLURM_ITERATIONS = "train: {iterations: 12,", "train: {iterations: 36,"  # config/study.yaml, smoke


def _log(msg: str) -> None:
    print(f"[test_slurm {time.strftime('%H:%M:%S')}] {msg}", flush=True)


@dataclass
class Env:
    """The running cluster and the scratch repository it builds."""

    state: Path
    scratch: Path
    env: dict
    timings: dict = field(default_factory=dict)

    def run(self, *args, timeout=60, check=True, **kw):
        return subprocess.run(list(args), cwd=self.scratch, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=check, **kw)

    def sacct(self, since: str) -> list[dict]:
        """One dict per job (no steps) submitted since ``since`` (sacct -S)."""
        cols = ["JobID", "JobName", "Comment", "State", "ExitCode", "ReqTRES", "AllocTRES"]
        out = self.run("sacct", "-X", "-P", "-n", "-S", since, "-o", ",".join(f"{c}%300" for c in cols)).stdout
        return [dict(zip(cols, line.split("|"))) for line in out.splitlines() if line.strip()]


def _snakemake(e: Env, log: Path, *extra: str, target: str = f"figures/{FIGURE}.pdf") -> subprocess.Popen:
    # Targets first: --config / --default-resources take every following word as a value.
    cmd = [sys.executable, "-m", "snakemake", target, "--profile", "slurm",
           "--config", f"scale={SCALE}", "--slurm-init-seconds-before-status-checks", STATUS_CHECK_S, *extra]
    _log("$ " + " ".join(cmd[2:]))
    return subprocess.Popen(cmd, cwd=e.scratch, env=e.env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)


def _wait(proc: subprocess.Popen, log: Path, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(2)  # SIGINT: Snakemake cancels its SLURM jobs
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        pytest.fail(f"snakemake did not finish in {timeout} s; log tail:\n{_tail(log)}")


def _tail(path: Path, n: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else "(no log)"


def _delete_figure(scratch: Path) -> None:
    """Delete figures/<scale>/<fig>.pdf and its copy figures/<fig>.pdf.  Snakemake does not rebuild
    a missing intermediate file (a deleted run) while the file made from it exists, so the drawn
    figure must go too for the run to be trained again."""
    for pdf in (scratch / "figures" / SCALE / f"{FIGURE}.pdf", scratch / "figures" / f"{FIGURE}.pdf"):
        pdf.unlink(missing_ok=True)


def _study_words(scratch: Path, expression: str) -> list[str]:
    """The words ``expression`` (of ``study``, the scratch copy's smoke-scale Study) joins, computed there."""
    code = f"from sinkgan.study import Study; study = Study.load({SCALE!r}); print(' '.join({expression}))"
    env = {**os.environ, "PYTHONPATH": str(scratch / "code"), "SINKGAN_ROOT": str(scratch)}
    out = subprocess.run([sys.executable, "-c", code], cwd=scratch, env=env, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return out.split()


def _figure_runs(scratch: Path) -> list[str]:
    return _study_words(scratch, f"s.run_id for s in study.figure_runs({FIGURE!r})")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("needs root on Linux: tests/slurm/cluster.sh starts SLURM daemons as root")
    base = tmp_path_factory.mktemp("slurm")
    state = base / "state"
    scratch = base / "repo"
    scratch.mkdir()
    env = {**os.environ, "SLURM_STATE_DIR": str(state),
           "SLURM_CI_PORT_BASE": os.environ.get("SLURM_CI_PORT_BASE", "26817")}
    timings: dict = {}
    t0 = time.perf_counter()
    start = subprocess.run(["bash", str(CLUSTER_SH), "start"], env=env, capture_output=True, text=True,
                           timeout=1500)
    if start.returncode == 3:
        pytest.skip(f"cannot start a SLURM cluster here: {start.stderr.strip().splitlines()[-1]}")
    try:
        assert start.returncode == 0, f"cluster.sh start failed:\n{start.stderr[-6000:]}"
        timings["cluster start"] = time.perf_counter() - t0
        _log(f"cluster started in {timings['cluster start']:.1f} s")

        copy_worktree(scratch)
        shutil.rmtree(scratch / "results" / SCALE, ignore_errors=True)  # really train
        # Runs long enough to be caught between their first checkpoint and their end: the smoke
        # scale's 12 iterations leave a second or two after the checkpoint at iteration 6.
        study = scratch / "config" / "study.yaml"
        text = study.read_text()
        assert SMOKE_ITERATIONS in text
        study.write_text(text.replace(SMOKE_ITERATIONS, SLURM_ITERATIONS))
        _delete_figure(scratch)
        venv_bin = str(Path(sys.executable).parent)
        job_env = {
            **scratch_env(scratch, env),
            # SLURM clients through the cluster's wrappers (they set SLURM_CONF, also inside jobs);
            # the venv's `sinkgan` and the scratch copy's code, results and commit label.
            "PATH": f"{state / 'bin'}:{venv_bin}:{env['PATH']}",
            "SLURM_CONF": str(state / "etc" / "slurm.conf"),
        }
        for var in ("SLURM_PARTITION", "SLURM_ACCOUNT", "SLURM_GPU_MODEL", "SLURM_QOS", "SBATCH_PARTITION",
                    "SBATCH_ACCOUNT", "SBATCH_QOS", "SINKGAN_SIGNAL_LEAD_S"):
            job_env.pop(var, None)
        yield Env(state=state, scratch=scratch, env=job_env, timings=timings)
    finally:
        t1 = time.perf_counter()
        stop = subprocess.run(["bash", str(CLUSTER_SH), "stop"], env=env, capture_output=True, text=True,
                              timeout=300)
        _log(f"cluster stopped in {time.perf_counter() - t1:.1f} s (rc {stop.returncode})")
        if stop.returncode != 0:
            print(stop.stderr[-3000:])
        for k, v in timings.items():
            _log(f"timing: {k}: {v:.1f} s")


@pytest.fixture(scope="module")
def built(cluster):
    """fig04 built through the slurm profile, from nothing (both training runs on SLURM)."""
    e = cluster
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 5))
    log = e.scratch / "snakemake-build.log"
    t0 = time.perf_counter()
    rc = _wait(_snakemake(e, log), log, SNAKEMAKE_TIMEOUT_S)
    e.timings["snakemake fig04 (2 training jobs)"] = time.perf_counter() - t0
    assert rc == 0, f"snakemake failed (rc {rc}):\n{_tail(log)}"
    return since


def test_figure_built_with_training_on_gpu_jobs(cluster, built):
    e = cluster
    runs = _figure_runs(e.scratch)
    assert len(runs) == 2, runs
    assert (e.scratch / "figures" / f"{FIGURE}.pdf").stat().st_size > 0
    for run in runs:
        assert (e.scratch / "results" / SCALE / run / "summary.json").is_file()
    jobs = e.sacct(built)
    assert jobs, "sacct lists no job: accounting (slurmdbd) is not recording"
    by_rule = {}
    for j in jobs:
        by_rule.setdefault(j["Comment"].split("_wildcards_")[0], []).append(j)
    # Every training run was one SLURM job that asked for, and got, a GPU.
    train = {j["Comment"].split("_wildcards_", 1)[1]: j for j in by_rule.get("rule_train", [])}
    assert sorted(train) == sorted(runs), f"training jobs in sacct: {sorted(train)}, runs: {runs}"
    for run, j in train.items():
        assert j["State"] == "COMPLETED", j
        assert "gres/gpu=1" in j["ReqTRES"], f"{run} did not request a GPU: {j['ReqTRES']}"
        assert "gres/gpu=1" in j["AllocTRES"], f"{run} was not given a GPU: {j['AllocTRES']}"
    # Plotting stays on the submitting host (localrules): nothing but GPU work went to SLURM.
    light = sorted(set(by_rule) - {"rule_train", "rule_quality", "rule_track"})
    assert not light, f"light rules were submitted to SLURM (make them localrules): {light}"


def _job_of(e: Env, run: str) -> str | None:
    out = e.run("squeue", "-h", "-t", "R", "-o", "%i|%k").stdout
    for line in out.splitlines():
        jobid, _, comment = line.partition("|")
        if comment == f"rule_train_wildcards_{run}":
            return jobid
    return None


def test_interrupted_training_resumes_to_the_same_result(cluster, built):
    import torch

    e = cluster
    run = _figure_runs(e.scratch)[0]
    run_dir = e.scratch / "results" / SCALE / run
    ref = e.scratch.parent / "reference"
    ref.mkdir()
    for name in ("generator.pt", "log.csv", "summary.json"):
        shutil.copy2(run_dir / name, ref / name)
    shutil.rmtree(run_dir)
    _delete_figure(e.scratch)
    # The build's jobs may have ended seconds ago, inside any time window sacct -S could be given:
    # this rebuild's jobs are the ones sacct did not list before it.
    earlier = {j["JobID"] for j in e.sacct(built)}

    log = e.scratch / "snakemake-resume.log"
    t0 = time.perf_counter()
    proc = _snakemake(e, log)
    ckpt = run_dir / "checkpoints" / "last.pt"
    deadline = time.monotonic() + SNAKEMAKE_TIMEOUT_S
    jobid = None
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.exists() and not (run_dir / "summary.json").exists():
            jobid = _job_of(e, run)
            if jobid:
                break
        time.sleep(0.2)
    assert jobid, f"never saw {run} training on SLURM with a checkpoint; log:\n{_tail(log)}"
    # What SLURM does at --signal=TERM@N before the time limit (and on preemption): SIGTERM to
    # every process of the job's steps, the python training inside the plugin's srun included.
    e.run("scancel", "--signal=TERM", jobid)
    _log(f"sent SIGTERM to job {jobid} ({run}) {time.perf_counter() - t0:.1f} s after submission")
    rc = _wait(proc, log, max(1.0, deadline - time.monotonic()))
    e.timings["snakemake rebuild with SIGTERM + retry"] = time.perf_counter() - t0
    assert rc == 0, f"snakemake failed after the interruption (rc {rc}):\n{_tail(log)}"

    # SLURM's view: the interrupted attempt failed, the retry completed, both on a GPU.
    attempts = [j for j in e.sacct(built)
                if j["Comment"] == f"rule_train_wildcards_{run}" and j["JobID"] not in earlier]
    assert [j["JobID"] for j in attempts][0] == jobid, attempts
    assert len(attempts) >= 2, f"no retry in sacct: {attempts}"
    assert attempts[0]["State"] in ("FAILED", "CANCELLED"), attempts[0]
    assert attempts[-1]["State"] == "COMPLETED", attempts[-1]
    assert all("gres/gpu=1" in j["AllocTRES"] for j in attempts), attempts

    # The interrupted attempt checkpointed on the signal; the retry resumed from that checkpoint.
    slurm_logs = list((e.scratch / "slurm-logs").rglob(f"{jobid}.log"))
    assert slurm_logs, f"no SLURM log for job {jobid}"
    train_log = e.scratch / "results" / SCALE / "logs" / "train" / f"{run}.log"
    text = slurm_logs[0].read_text(errors="replace") + train_log.read_text(errors="replace")
    resumed = re.search(r"resumed .* from checkpoint at iteration (\d+)", text)
    assert resumed, f"the retry did not resume from a checkpoint:\n{_tail(train_log)}"
    assert 0 < int(resumed.group(1)) < ref_summary_iterations(ref), resumed.group(0)
    # The attempt's own message, where the rule's log keeps it (a `>` redirect overwrites it).
    stopped = re.search(r"stopped by signal 15 at iteration (\d+)", text)
    if stopped:
        assert stopped.group(1) == resumed.group(1), (stopped.group(0), resumed.group(0))
    _log(f"{run}: SIGTERM -> checkpoint, retry {resumed.group(0)!r}")

    # The result equals the uninterrupted run's: generator weights and the loss log.
    got = torch.load(run_dir / "generator.pt", map_location="cpu", weights_only=False)["state_dict"]
    want = torch.load(ref / "generator.pt", map_location="cpu", weights_only=False)["state_dict"]
    assert got.keys() == want.keys()
    for k in want:
        assert torch.equal(got[k], want[k]), f"generator tensor {k} differs from the uninterrupted run"
    assert _losses(run_dir / "log.csv") == _losses(ref / "log.csv"), \
        "log.csv differs from the uninterrupted run (rows lost across the retry?)"


def ref_summary_iterations(ref: Path) -> int:
    import json

    return json.loads((ref / "summary.json").read_text())["iterations"]


def _losses(path: Path) -> list[tuple]:
    """(iteration, gen_updates, critic_updates, g_loss, d_loss) rows; wall_seconds legitimately differ."""
    with path.open() as fh:
        return [(r["iteration"], r["gen_updates"], r["critic_updates"], r["g_loss"], r["d_loss"])
                for r in csv.DictReader(fh)]


def test_a_twin_is_copied_on_the_submitting_host(cluster):
    """A twin (sinkgan.twins) built through the profile on a cluster where its original is not
    trained yet: the original is one SLURM GPU job, the twin's copy (rule copy_twin, a localrule)
    none, and the twin's folder holds the original's results under its own name."""
    import json

    e = cluster
    twin, original = _study_words(e.scratch, "next(iter(study.twins().items()))")
    assert not (e.scratch / "results" / SCALE / original / "summary.json").exists()
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 5))
    earlier = {j["JobID"] for j in e.sacct(since)}
    log = e.scratch / "snakemake-twin.log"
    t0 = time.perf_counter()
    rc = _wait(_snakemake(e, log, target=f"results/{SCALE}/{twin}/summary.json"), log, SNAKEMAKE_TIMEOUT_S)
    e.timings["snakemake twin (1 training job, 1 local copy)"] = time.perf_counter() - t0
    assert rc == 0, f"snakemake failed (rc {rc}):\n{_tail(log)}"
    jobs = [j for j in e.sacct(since) if j["JobID"] not in earlier]
    assert [j["Comment"] for j in jobs] == [f"rule_train_wildcards_{original}"], jobs
    assert jobs[0]["State"] == "COMPLETED" and "gres/gpu=1" in jobs[0]["AllocTRES"], jobs[0]
    assert "localrule copy_twin:" in log.read_text(errors="replace"), _tail(log)
    summary = json.loads((e.scratch / "results" / SCALE / twin / "summary.json").read_text())
    assert summary["name"] == twin and summary["copied_from"] == original, summary
