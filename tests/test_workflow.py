"""The Snakemake workflow as a whole: lint-clean, inputs checked by schemas before any job runs, and
the study resolved once per invocation so that training, plotting and the report agree on run ids.

Each test runs Snakemake as a dry run (`-n`) or in-process; nothing is trained.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sinkgan import plotting
from sinkgan.study import Study

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "config" / "schemas"


def snakemake(*args, check=True):
    env = {**{k: v for k, v in os.environ.items() if k != "SINKGAN_ROOT"}, "PYTHONPATH": str(ROOT / "code")}
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def test_lint_is_clean():
    """`snakemake --lint` exits 0: every rule has a log and a conda environment, shell commands
    use only their own params, rule files hold no functions (code/rules/common.smk does)."""
    proc = snakemake("--lint", check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]


def _jobs(dry_run: str) -> list[dict]:
    """The jobs of a dry run (`-n -p`): rule, input files, wildcards and shell command of each."""
    jobs = []
    for block in re.split(r"\n(?=rule \w+:\n)", dry_run)[1:]:
        job = {"rule": block.split(":", 1)[0].split()[1], "input": [], "wildcards": {}, "shell": "", "threads": 1,
               "resources": ""}
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("threads: "):
                job["threads"] = int(line[len("threads: "):])
            elif line.startswith("resources: "):
                job["resources"] = line[len("resources: "):]
            elif line.startswith("input: "):
                job["input"] = line[len("input: "):].split(", ")
            elif line.startswith("wildcards: "):
                job["wildcards"] = dict(kv.split("=", 1) for kv in line[len("wildcards: "):].split(", "))
            elif line.startswith("Shell command: "):
                job["shell"] = line[len("Shell command: "):]
        jobs.append(job)
    return jobs


def _run_ids(files, scale) -> set[str]:
    prefix = f"results/{scale}/"
    return {f[len(prefix):].split("/")[0] for f in files if f.startswith(prefix) and "/sing/" not in f
            and f.endswith("summary.json")}


@pytest.mark.parametrize("overrides", [["scale=small"], ["scale=small", "data=real"]], ids=["small", "small-real"])
def test_a_config_override_changes_the_same_run_ids_for_training_plotting_and_the_report(overrides):
    """The run ids the DAG trains, the runs each figure's notebook draws (from the resolved study
    file the invocation wrote) and the runs the scorecard reads are one set, for every override."""
    scale = dict(o.split("=") for o in overrides)["scale"]
    proc = snakemake(f"paper/{scale}/main.pdf", "-n", "-p", "--cores", "1", "--config", *overrides)
    jobs = _jobs(proc.stdout)
    trained = {j["wildcards"]["run_id"] for j in jobs if j["rule"] in ("train", "copy_twin")}  # a twin is copied
    plotted = set().union(*(_run_ids(j["input"], scale) for j in jobs if j["rule"] == "plot"))
    (scorecard,) = [j for j in jobs if j["rule"] == "scorecard"]
    scored = _run_ids(scorecard["input"], scale)
    study_file = re.search(r"--study (\S+)", scorecard["shell"]).group(1)
    (train_job,) = [j for j in jobs if j["rule"] == "train"][:1]
    assert f"--study {study_file}" in train_job["shell"], "training must read the same resolved study"

    study = Study.read(ROOT / study_file, root=ROOT)
    drawn = set()
    for fig in study.figures():
        params = plotting.NotebookParams(figure=fig, scale=scale, out=Path("x.pdf"), root=ROOT, study=ROOT / study_file)
        drawn |= {spec.run_id for spec, _ in _specs_only(params)}
    # runs committed at this scale (a scale trained in sittings) are scored, not trained again; a
    # figure already drawn from committed runs (figures/<scale>/) is not drawn again either
    committed = {r for r in scored if (ROOT / "results" / scale / r / "summary.json").is_file()}
    replotted = {j["wildcards"]["fig"] for j in jobs if j["rule"] == "plot"}
    up_to_date = {spec.run_id for fig in study.figures() if fig not in replotted for spec in study.figure_runs(fig)}
    assert trained and trained | committed == scored == drawn == plotted | up_to_date
    assert up_to_date <= committed, "a figure was left undrawn although some of its runs must be trained"
    default = Study.load(scale, root=ROOT)
    if "data=real" in overrides:
        assert trained.isdisjoint(default.runs()), "data=real must change the run ids"
        assert all(study.runs()[r].config.dataset in ("mnist", "cats", "celeba") for r in trained)
    else:
        assert trained | committed == set(default.runs())


def _specs_only(params):
    """The (spec, None) pairs the notebook would draw, without reading the (not yet trained) runs."""
    return [(spec, None) for spec in plotting.study_of(params).figure_runs(params.figure)]


def test_notebook_under_snakemake_reads_the_resolved_study_not_config(tmp_path):
    """A notebook under Snakemake draws the runs of the file it is given, even where config/study.yaml
    would resolve otherwise (here: a file resolved with data=real, at a scale whose default is standin)."""
    real = Study.load("small", root=ROOT, data="real")
    path = real.write_resolved(tmp_path)

    class Smk:
        class params:
            figure, scale, study = "fig04", "small", str(path)

        output = [str(tmp_path / "fig04.pdf")]

    params = plotting.notebook_params("fig04", {"snakemake": Smk()})
    ids = [s.run_id for s in plotting.study_of(params).figure_runs("fig04")]
    assert ids == [s.run_id for s in real.figure_runs("fig04")]
    assert ids != [s.run_id for s in Study.load("small", root=ROOT).figure_runs("fig04")]


def test_a_misspelt_config_key_is_refused_before_any_job():
    proc = snakemake("all", "-n", "--config", "scal=small", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "scal" in out and "Additional properties" in out


def _validate(name: str, doc):
    from snakemake.utils import validate

    validate(doc, str(SCHEMAS / f"{name}.schema.yaml"))


@pytest.mark.parametrize("name", ["study", "claims", "sing"])
def test_committed_configs_match_their_schemas(name):
    _validate(name, yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text()))


@pytest.mark.parametrize("name, break_it", [
    ("study", lambda d: d["figures"]["fig04"].update(knd="losses")),
    ("study", lambda d: d["figures"]["fig04"].update(kind="loss")),
    ("study", lambda d: d["scales"]["small"]["tracking"].update(trakcs=3)),
    ("study", lambda d: d["figures"]["fig04"]["runs"][0].update(dataset="mnsit")),
    ("claims", lambda d: d["claims"][0].pop("rule")),
    ("claims", lambda d: d["policy"].update(standin_data="maybe")),
    ("sing", lambda d: d["scales"].update(huge={})),
    ("sing", lambda d: d["scales"]["smoke"].update(l3={})),
], ids=["study-key", "study-kind", "study-scale-key", "study-dataset", "claims-rule", "claims-policy",
        "sing-scale", "sing-experiment"])
def test_a_typo_in_a_config_file_is_caught_by_its_schema(name, break_it):
    from snakemake.exceptions import WorkflowError

    doc = yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text())
    break_it(doc)
    with pytest.raises(WorkflowError):
        _validate(name, doc)


def test_the_schemas_know_every_scale():
    """sinkgan.study.SCALES, config/study.yaml's scales and both schemas name the same scales."""
    import yaml

    from sinkgan.study import SCALES

    study = yaml.safe_load((ROOT / "config" / "study.yaml").read_text())
    schema = yaml.safe_load((ROOT / "config" / "schemas" / "study.schema.yaml").read_text())
    keys = yaml.safe_load((ROOT / "config" / "schemas" / "config.schema.yaml").read_text())
    assert list(study["scales"]) == list(SCALES)
    assert set(schema["properties"]["scales"]["properties"]) == set(SCALES)
    assert keys["properties"]["scale"]["enum"] == list(SCALES)


def test_every_job_that_holds_the_gpu_gets_a_training_jobs_cpu_threads():
    """Training, FID/KID, tracking and the SiNG experiments each hold the GPU (resource gpu=1) and
    get the same CPU threads; on a CPU-only machine those threads are its compute (a SiNG experiment
    once got 1 of 2 cores and ran 1.6x slower)."""
    run = Study.load("small").figure_runs("fig04")[0].run_id
    out = snakemake("-n", "-p", "--cores", "2", "--config", "scale=small", "--forcerun", "train", "quality", "track",
                    "sing_experiment", "--", f"results/small/{run}/quality.json", f"results/small/{run}/tracking/ssim.csv",
                    "results/small/sing/l2/summary.json").stdout
    gpu_jobs = [job for job in _jobs(out) if "gpu=1" in job["resources"].split(", ")]
    assert {job["rule"] for job in gpu_jobs} == {"train", "quality", "track", "sing_experiment"}, out[-3000:]
    assert {job["rule"]: job["threads"] for job in gpu_jobs} == dict.fromkeys(("train", "quality", "track",
                                                                                 "sing_experiment"), 2)


def test_quality_scores_a_curve_only_for_the_quality_figure():
    """fig10 draws FID over training (every kept generator); the sample figures' runs are scored on
    their final generator only (--final-only), what their grids and the claims show."""
    study = Study.load("smoke")
    curve = study.figure_runs("fig10")[0].run_id
    final = next(s.run_id for s in study.figure_runs("fig05"))
    assert final not in {s.run_id for s in study.figure_runs("fig10")}
    for run, flag in ((curve, False), (final, True)):
        out = snakemake(f"results/smoke/{run}/quality.json", "-n", "-p", "--cores", "1", "--forcerun", "quality").stdout
        cmd = next(line for line in out.splitlines() if "sinkgan metrics quality" in line)
        assert ("--final-only" in cmd) is flag, cmd
