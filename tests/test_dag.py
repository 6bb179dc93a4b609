"""The Snakemake DAG (targets go before --config, which swallows every following word).

A figure of one scale is never taken for another: on a fresh clone (no .snakemake/ metadata) the
dry run of each target a user types (figures/<fig>.pdf, paper/main.pdf) schedules exactly the
training runs that target needs at `small` and `paper`, and none at `smoke` (whose results are
committed).  The whole smoke DAG builds from a clean copy; changing one experiment reruns only
what it affects; notebooks redraw the same file.

The smoke build runs once per session in a scratch copy of the repository (tracked and
untracked-not-ignored files, with the committed results/smoke removed so that everything is
really trained) and prints how long it took.
"""
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from scratch import copy_worktree, scratch_env
from sinkgan.study import SCALES, Study

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _snakemake(args, cwd, timeout=900, check=True):
    env = scratch_env(Path(cwd)) if Path(cwd) != ROOT else {k: v for k, v in os.environ.items() if k != "SINKGAN_ROOT"}
    proc = subprocess.run(SNAKEMAKE + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


SING = ("sing71", "sing72", "sing73")


def all_targets(scale):
    """What `make figures` builds at `scale`: figures/<scale>/*.pdf and the (scale-free) tables."""
    study = Study.load(scale, root=ROOT)
    return ([f"figures/{scale}/{f}.pdf" for f in [*study.spec["figures"], *SING]]
            + [f"figures/{t}.tex" for t in study.spec["tables"]])


def trained_runs(proc) -> set[str]:
    """Run ids of the `train` jobs a (dry) run scheduled."""
    return _jobs(proc, "train")


def _jobs(proc, rule: str) -> set[str]:
    """Run ids of the jobs of ``rule`` a (dry) run scheduled."""
    return set(re.findall(rf"rule {rule}:.*?wildcards: run_id=(\S+)", proc.stdout, re.S))


def runs_needed(study, target: str) -> set[str]:
    """The training runs behind a figure a user types (sing72's encoder is a run of fig07, see config/sing.yaml)."""
    fig = Path(target).stem
    if fig in study.spec["figures"]:
        return {s.run_id for s in study.figure_runs(fig)}
    if fig == "sing72":
        from sinkgan.sing_experiments import load_sing_config

        cfg = load_sing_config("encoder", study.scale_name, ROOT / "config" / "sing.yaml")
        return {study.figure_runs(cfg.encoder_figure)[cfg.encoder_index].run_id}
    return set()


def runs_to_train(study, target: str, tree: Path) -> set[str]:
    """The runs behind ``target`` whose files the figure reads are not all in ``tree`` (runs
    committed with them, e.g. those of a scale trained in sittings, are not trained again; one
    committed without a measurement the figure reads is, as its weights are not committed)."""
    from sinkgan.report import KIND_FILES

    fig = Path(target).stem
    kind = study.spec["figures"][fig]["kind"] if fig in study.spec["figures"] else None
    files = ("summary.json", *KIND_FILES.get(kind, ()))
    results = tree / "results" / study.scale_name
    has_all = lambda run: all((results / run / f).exists() for f in files)  # noqa: E731
    twins = study.twins()
    curve_runs = {s.run_id for fig in study.figures("quality") for s in study.figure_runs(fig)}

    def trains(run):
        """The runs trained for ``run``'s files: a twin (sinkgan.twins) is copied from its original,
        which is trained first where it is missing; one whose original is committed (without
        weights) is trained itself, or, where only its measurement is missing and both are scored
        at the same generators, has its original's measurement (the original trained to make it)."""
        original = twins.get(run)
        if original is None:
            return {run}
        if not (results / original / "summary.json").exists():
            return {original}
        if not (results / run / "summary.json").exists() or (run in curve_runs) != (original in curve_runs):
            return {run}
        return set() if has_all(original) else {original}

    return set().union(*(trains(r) for r in runs_needed(study, target) if not has_all(r)))


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory):
    """The tree a user clones: committed and untracked-not-ignored files, no .snakemake/ metadata."""
    tree = copy_worktree(tmp_path_factory.mktemp("clone") / "repo")
    assert not (tree / ".snakemake").exists()
    return tree


def user_targets(scale):
    study = Study.load(scale, root=ROOT)
    return [f"figures/{f}.pdf" for f in [*study.spec["figures"], *SING]]


@pytest.mark.parametrize("target", user_targets("small"))
def test_fresh_clone_small_scale_schedules_the_figures_runs(fresh_clone, target):
    study = Study.load("small", root=fresh_clone)
    proc = _snakemake([target, "-n", "--cores", "2", "--config", "scale=small"], cwd=fresh_clone)
    assert trained_runs(proc) == runs_to_train(study, target, fresh_clone), proc.stdout[-3000:]
    assert f"figures/small/{Path(target).name}" in proc.stdout  # drawn at this scale, then copied


def test_a_twin_is_copied_after_its_original_is_trained_and_measured(fresh_clone):
    """A twin (sinkgan.twins) asked for on a fresh clone: its original is trained and measured; the
    twin is no train job but copy_twin's, which reads the original's results and weights, and is a
    localrule (under --profile slurm: no GPU job); its quality is copy_twin_quality's."""
    study = Study.load("small", root=fresh_clone)
    twin, original = next((t, o) for t, o in study.twins().items()
                          if not (fresh_clone / "results" / "small" / o / "summary.json").exists())
    proc = _snakemake([f"results/small/{twin}/quality.json", "-n", "--profile", "slurm", "--config", "scale=small"],
                      cwd=fresh_clone)
    assert trained_runs(proc) == {original} and _jobs(proc, "copy_twin") == {twin}, proc.stdout[-3000:]
    (copy_job,) = [job for job in proc.stdout.split("\n\n") if "rule copy_twin:" in job and f"run_id={twin}\n" in job]
    inputs = re.search(r"input: (.*)", copy_job).group(1).split(", ")
    assert {f"results/small/{original}/{f}" for f in ("summary.json", "generator.pt")} <= set(inputs), copy_job
    assert "gpu=" not in re.search(r"resources: (.*)", copy_job).group(1), copy_job
    assert "copy_twin" in _localrules(fresh_clone)
    assert _jobs(proc, "quality") == {original} and _jobs(proc, "copy_twin_quality") == {twin}


def _localrules(tree: Path) -> set[str]:
    """The rules the Snakefile runs on the submitting host under a cluster executor."""
    block = re.search(r"^localrules:\n((?:    \w+,?\n)+)", (tree / "Snakefile").read_text(), re.M)
    return {name.strip(" ,") for name in block.group(1).splitlines()}


def test_fresh_clone_paper_scale_schedules_every_run(fresh_clone):
    study = Study.load("paper", root=fresh_clone)
    targets = [*user_targets("paper"), "paper/main.pdf"]
    proc = _snakemake([*targets, "-n", "--cores", "2", "--config", "scale=paper"], cwd=fresh_clone)
    needed = set().union(*(runs_needed(study, t) for t in targets))
    assert needed and trained_runs(proc) == needed
    assert "paper/paper/main.pdf" in proc.stdout


def test_fresh_clone_slurm_profile_builds_fig22_at_paper_scale(fresh_clone):
    """The headline command: `snakemake --profile slurm figures/fig22.pdf` (paper scale)."""
    study = Study.load("paper", root=fresh_clone)
    proc = _snakemake(["figures/fig22.pdf", "--profile", "slurm", "-n"], cwd=fresh_clone)
    assert trained_runs(proc) == runs_needed(study, "figures/fig22.pdf")
    assert len(re.findall(r"rule track:", proc.stdout)) == len(runs_needed(study, "figures/fig22.pdf"))
    assert "rule plot:" in proc.stdout and "figures/paper/fig22.pdf" in proc.stdout


def test_fresh_clone_smoke_scale_trains_nothing(fresh_clone):
    proc = _snakemake([*user_targets("smoke"), "paper/main.pdf", "-n", "--cores", "2"], cwd=fresh_clone)
    assert trained_runs(proc) == set() and "rule train:" not in proc.stdout
    assert "rule figure_at_scale:" in proc.stdout  # the typed names are copies of figures/smoke/
    proc = _snakemake(["all", "-n", "--cores", "2"], cwd=fresh_clone)
    assert "rule manifest:" not in proc.stdout and "rule train:" not in proc.stdout  # the committed MANIFEST stands


def test_a_scale_committed_without_its_weights_is_complete(fresh_clone):
    """Network weights are committed at the smoke scale only (.gitignore): a clone of the cpu scale
    holds its runs' summaries and measurements but no .pt file, and the DAG retrains nothing."""
    assert list((fresh_clone / "results" / "cpu").glob("*/summary.json"))
    assert not list((fresh_clone / "results" / "cpu").rglob("*.pt"))
    # nor its grids over training: the final one only, which the sample figures draw
    assert not list((fresh_clone / "results" / "cpu").rglob("iter_*.png"))
    assert all((s.parent / "samples" / "final.png").is_file() for s in (fresh_clone / "results" / "cpu").glob("*/summary.json"))
    proc = _snakemake(["all", "-n", "--cores", "2", "--config", "scale=cpu"], cwd=fresh_clone)
    assert "rule train:" not in proc.stdout and "rule quality:" not in proc.stdout, proc.stdout[-3000:]
    # a measurement asked for again there retrains the run first (its weights are not in the clone)
    run = sorted((fresh_clone / "results" / "cpu").glob("*/quality.json"))[0].parent
    proc = _snakemake([f"results/cpu/{run.name}/quality.json", "-n", "--cores", "2", "--forcerun", "quality",
                       "--config", "scale=cpu"], cwd=fresh_clone)
    assert trained_runs(proc) == {run.name} and "rule quality:" in proc.stdout, proc.stdout[-3000:]


def test_a_stale_copy_of_another_scale_is_replaced(fresh_clone):
    """figures/fig04.pdf holding anything but figures/<scale>/fig04.pdf (here: another scale's
    figure, with no metadata to tell) is copied again; an identical copy is left alone."""
    alias, smoke = fresh_clone / "figures" / "fig04.pdf", fresh_clone / "figures" / "smoke" / "fig04.pdf"
    try:
        alias.write_bytes(b"%PDF-1.4 another scale's figure\n")
        os.utime(alias, (time.time() + 3600,) * 2)  # newer than everything: mtime alone would keep it
        proc = _snakemake(["figures/fig04.pdf", "-n", "--cores", "2"], cwd=fresh_clone)
        assert "rule figure_at_scale:" in proc.stdout, proc.stdout
        alias.write_bytes(smoke.read_bytes())
        os.utime(alias, (time.time() + 3600,) * 2)
        proc = _snakemake(["figures/fig04.pdf", "-n", "--cores", "2", "--allowed-rules", "figure_at_scale"], cwd=fresh_clone)
        assert "rule figure_at_scale:" not in proc.stdout, proc.stdout
    finally:
        alias.unlink(missing_ok=True)


def _assert_refused_for_missing_results(proc, clone: Path, scale: str):
    """Snakemake refused the invocation for inputs no allowed rule makes, and every file it names
    under "affected files" is a result of ``scale`` that the clone indeed lacks (whichever figure it
    happens to name first: that changes as results are committed)."""
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Missing input files for rule" in text, text[-3000:]
    block = text.split("affected files:", 1)[1]
    named = re.findall(r"^\s+(\S+)$", block.split("\n\n", 1)[0], re.M)
    assert named and all(f.startswith(f"results/{scale}/") for f in named), named
    assert not [f for f in named if (clone / f).exists()], named


def test_figures_cached_on_a_partly_trained_scale_draws_what_its_results_allow(fresh_clone):
    """`make figures-cached` (only_drawable=true) on a scale whose runs are not all there draws every
    figure whose results are, names the others with the file each waits for, and writes no manifest;
    without only_drawable, a scale with figures not yet drawn is refused (inputs no allowed rule makes)."""
    study = Study.load("smoke", root=fresh_clone)
    run = study.figure_runs("fig04")[1]  # SGD-AutoDiff on MNIST
    users = {fig for fig in study.figures() if run.run_id in {s.run_id for s in study.figure_runs(fig)}}
    summary = run.run_dir / "summary.json"
    kept = summary.read_bytes()
    cached = ["all", "-n", "--cores", "2", "--allowed-rules", "all", "plot", "table", "manifest",
              "--forcerun", "plot", "--config", "scale=smoke"]
    try:
        summary.unlink()
        proc = _snakemake([*cached, "only_drawable=true"], cwd=fresh_clone)
        drawn = set(re.findall(r"wildcards: fig=(\w+)", proc.stdout))
        assert users and drawn == set(all_figures := [Path(t).stem for t in all_targets("smoke") if "/smoke/" in t]) - users
        assert f"waits for results/smoke/{run.run_id}/summary.json" in proc.stderr
        assert all(fig in proc.stderr for fig in users) and "rule manifest:" not in proc.stdout
        assert len(drawn) < len(all_figures)
    finally:
        summary.write_bytes(kept)
    small = [*cached[:-1], "scale=small"]  # figures/small/ holds no figure of a run not yet trained
    _assert_refused_for_missing_results(_snakemake(small, cwd=fresh_clone, check=False), fresh_clone, "small")
    assert _snakemake([*small, "only_drawable=true"], cwd=fresh_clone).returncode == 0


def test_figures_cached_draws_sample_grids_whose_measurement_is_missing(fresh_clone):
    """A run committed with its grid but without quality.json (beyond the smoke scale its generator
    is not kept, so the measurement cannot be made from the clone): `make figures-cached` still draws
    the sample figure (its panel says "not measured"), and `snakemake all` measures it, though the
    figure is there, and draws the figure again."""
    study = Study.load("smoke", root=fresh_clone)
    run = study.figure_runs("fig14")[0]
    assert study.figure("fig14")["kind"] == "samples"
    quality = run.run_dir / "quality.json"
    kept = quality.read_bytes()
    cached = ["all", "-n", "--cores", "2", "--allowed-rules", "all", "plot", "table", "manifest",
              "--forcerun", "plot", "--config", "scale=smoke", "only_drawable=true"]
    try:
        quality.unlink()
        proc = _snakemake(cached, cwd=fresh_clone)
        drawn = set(re.findall(r"wildcards: fig=(\w+)", proc.stdout))
        assert "fig14" in drawn and "rule quality:" not in proc.stdout, proc.stderr[-2000:]
        # `all` makes the measurement although the figure exists, then draws the figure again
        proc = _snakemake(["all", "-n", "--cores", "2", "--config", "scale=smoke"], cwd=fresh_clone)
        assert f"output: results/smoke/{run.run_id}/quality.json" in proc.stdout, proc.stdout[-3000:]
        assert "fig14" in set(re.findall(r"wildcards: fig=(\w+)", proc.stdout)), proc.stdout[-3000:]
    finally:
        quality.write_bytes(kept)


@pytest.mark.latex
@pytest.mark.skipif(shutil.which("latexmk") is None or shutil.which("pdftotext") is None,
                    reason="latexmk/pdftotext not installed")
def test_paper_cached_on_a_partly_trained_scale_builds_a_partial_report(fresh_clone):
    """`make paper-cached SCALE=small` on a fresh clone, where only some small runs are committed:
    it trains nothing (no training rule is allowed), draws the figures whose results are there,
    and builds a report whose first page names the figures it draws; without only_drawable the
    same command is refused."""
    from sinkgan.report import figure_list

    cached = ["paper/main.pdf", "--cores", "2", "--allowed-rules", "plot", "table", "scorecard", "paper",
              "paper_at_scale", "--config", "scale=small"]
    _assert_refused_for_missing_results(_snakemake(cached, cwd=fresh_clone, check=False), fresh_clone, "small")
    _snakemake([*cached, "only_drawable=true"], cwd=fresh_clone)
    study = Study.load("small", root=fresh_clone)
    figures = list(study.spec["figures"])
    drawn = [f for f in figures if (fresh_clone / "figures" / "small" / f"{f}.pdf").is_file()]
    assert len(drawn) < len(figures)  # the small scale is not all trained (drop this test when it is)
    text = subprocess.run(["pdftotext", str(fresh_clone / "paper" / "small" / "main.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert f"draws {len(drawn)} of the {len(figures)} paper figures ({figure_list(drawn)})" in flat
    sing_waiting = [f for f in SING if not (fresh_clone / "figures" / "small" / f"{f}.pdf").is_file()]
    assert len(sing_waiting) < len(SING)  # sing71 is committed at this scale
    assert flat.count("Not drawn yet.") == len(figures) - len(drawn) + len(sing_waiting)
    assert (fresh_clone / "paper" / "main.pdf").read_bytes() == (fresh_clone / "paper" / "small" / "main.pdf").read_bytes()


def test_unknown_scale_is_refused():
    proc = _snakemake(["all", "-n", "--config", "scale=huge"], cwd=ROOT, check=False)
    assert proc.returncode != 0 and "scale" in proc.stdout + proc.stderr and "smoke" in proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def smoke_tree(tmp_path_factory, pytestconfig):
    """A scratch copy of the repository where the whole smoke DAG was built from nothing."""
    tree = copy_worktree(tmp_path_factory.mktemp("dag") / "repo")
    shutil.rmtree(tree / "results" / "smoke", ignore_errors=True)
    shutil.rmtree(tree / "figures" / "smoke")
    for table in (tree / "figures").glob("*.tex"):
        table.unlink()
    # the data cache is shared with the main tree so that CI builds the stand-ins once
    (tree / "data").symlink_to(ROOT / "data") if (ROOT / "data").exists() else None
    start = time.perf_counter()
    _snakemake(["all", "--cores", "2", "--config", "scale=smoke"], cwd=tree, timeout=1800)
    took = time.perf_counter() - start
    line = f"smoke DAG (all figures and tables, from nothing): {took:.0f} s on {os.cpu_count()} cores (target: <= 600 s)"
    print("\n" + line)
    pytestconfig.sinkgan_timings = [*getattr(pytestconfig, "sinkgan_timings", []), line]
    return tree


@pytest.mark.dag
def test_smoke_dag_builds_every_figure_and_table(smoke_tree):
    for target in all_targets("smoke"):
        path = smoke_tree / target
        assert path.is_file() and path.stat().st_size > 1000, target
    study = Study.load("smoke", root=smoke_tree)
    for run_id, spec in study.runs().items():
        summary = yaml.safe_load((spec.run_dir / "summary.json").read_text())
        assert summary["scale"] == "smoke" and summary["dataset_is_standin"], run_id
        assert summary["iterations"] == spec.config.iterations
    # a twin (sinkgan.twins: the Cats and CelebA runs on one stand-in) is its original's copy
    assert study.twins()
    for twin, original in study.twins().items():
        summary = json.loads((study.runs()[twin].run_dir / "summary.json").read_text())
        assert summary["copied_from"] == original and summary["name"] == twin, twin
        assert (study.runs()[twin].run_dir / "log.csv").read_bytes() == (study.runs()[original].run_dir / "log.csv").read_bytes()
    manifest = [line.split("\t") for line in (smoke_tree / "results" / "smoke" / "MANIFEST").read_text().splitlines()]
    assert manifest[0][:3] == ["run_id", "finished", "iterations"]
    assert [row[0] for row in manifest[1:]] == [*study.runs(), "sing/l2", "sing/encoder", "sing/gan"]
    assert all(row[1] == "yes" and row[2].split("/")[0] == row[2].split("/")[1] for row in manifest[1:]), manifest


@pytest.mark.dag
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed")
def test_every_figure_is_stamped_with_scale_data_and_commit(smoke_tree):
    pdfs = sorted((smoke_tree / "figures" / "smoke").glob("fig*.pdf"))
    assert len(pdfs) == 19
    for pdf in pdfs:
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        flat = " ".join(text.split())
        assert "smoke" in flat, pdf.name
        assert re.search(r"stand-?in|SUBSET of MNIST", flat, re.I), f"{pdf.name} does not name its offline data"
        assert re.search(r"\b[0-9a-f]{7}\b", flat), f"{pdf.name} carries no commit"


@pytest.mark.dag
def test_rebuild_from_cached_results_trains_nothing(smoke_tree):
    proc = _snakemake(["all", "-n", "--cores", "2", "--config", "scale=smoke"], cwd=smoke_tree)
    assert "rule train:" not in proc.stdout


@pytest.mark.dag
def test_changing_one_hyperparameter_reruns_only_its_run(smoke_tree):
    study_file = smoke_tree / "config" / "study.yaml"
    original = study_file.read_text()
    # the CelebA run: at the smoke scale it is the Cats run's twin on the same stand-in (sinkgan.twins),
    # so changing it makes a run of its own and leaves the Cats run (Figs. 13 and 14) alone
    changed = original.replace('{label: "CelebA, eps = 0.01", dataset: celeba, p: 2.0, eps: 0.01,',
                               '{label: "CelebA, eps = 0.01", dataset: celeba, p: 2.0, eps: 0.02,')
    assert changed != original
    try:
        study_file.write_text(changed)
        proc = _snakemake(["all", "-n", "--cores", "2", "--config", "scale=smoke"], cwd=smoke_tree)
    finally:
        study_file.write_text(original)
    trained = re.findall(r"rule train:.*?wildcards: run_id=(\S+)", proc.stdout, re.S)
    assert len(trained) == 1 and trained[0].startswith("celeba.") and "eps0.02" in trained[0], trained
    plotted = set(re.findall(r"wildcards: fig=(fig\d\d)", proc.stdout))
    assert plotted == {"fig13"}, plotted


@pytest.mark.dag
def test_switches_of_how_runs_compute_retrain_nothing(smoke_tree):
    """backend, compile, memory_format (sinkgan.config.HOW_NOT_WHAT) change how a run computes, not
    what: set in the study or through --config train_set, they retrain no finished run."""
    study_file = smoke_tree / "config" / "study.yaml"
    original = study_file.read_text()
    changed = original.replace("snapshot_every: 6, device: cpu}", "snapshot_every: 6, device: cpu, memory_format: contiguous}")
    assert changed != original
    try:
        study_file.write_text(changed)
        proc = _snakemake(["all", "-n", "--cores", "2", "--config", "scale=smoke",
                           "train_set=compile=default backend=auto"], cwd=smoke_tree)
    finally:
        study_file.write_text(original)
    assert "rule train:" not in proc.stdout, trained_runs(proc)


def _edited_dry_run(tree, path, old, new):
    """The dry run of `all` and the scorecard at smoke scale with ``old`` replaced by ``new`` in ``path``."""
    original = path.read_text()
    assert old in original
    try:
        path.write_text(original.replace(old, new))
        return _snakemake(["all", "results/smoke/claims.json", "-n", "--cores", "2", "--config", "scale=smoke"], cwd=tree)
    finally:
        path.write_text(original)


@pytest.mark.dag
def test_a_settings_change_reruns_what_reads_the_rerun_results(smoke_tree):
    """Results are read by content (ancient(), for fresh clones), through which Snakemake passes no
    rerun on: a settings change that keeps the run's name (the data cut for every training run; a
    SiNG step size) must still remeasure, redraw and rescore what reads the rerun results."""
    study = Study.load("smoke", root=smoke_tree)
    proc = _edited_dry_run(smoke_tree, smoke_tree / "config" / "study.yaml", "max_images: 2000,", "max_images: 1999,")
    # every run is made again: trained, or a twin copied from its retrained original (copy_twin)
    assert trained_runs(proc) == set(study.runs()) - set(study.twins()) and _jobs(proc, "copy_twin") == set(study.twins())
    plotted = set(re.findall(r"wildcards: fig=(\w+)", proc.stdout))
    assert plotted == {*study.spec["figures"], "sing72"}, plotted  # 7.2's encoder is a retrained run
    measured = set(re.findall(r"rule quality:.*?wildcards: run_id=(\S+)", proc.stdout, re.S))
    copied = set(re.findall(r"rule copy_twin_quality:.*?wildcards: run_id=(\S+)", proc.stdout, re.S))
    scored = {p.parent.name for p in (smoke_tree / "results" / "smoke").glob("*/quality.json")}
    assert measured | copied == scored and copied == scored & set(study.twins())  # a twin's is its original's
    tracked = set(re.findall(r"rule track:.*?wildcards: run_id=(\S+)", proc.stdout, re.S))
    assert tracked == {p.parent.parent.name for p in (smoke_tree / "results" / "smoke").glob("*/tracking/rate.json")}
    assert "rule scorecard:" in proc.stdout and "rule manifest:" in proc.stdout

    proc = _edited_dry_run(smoke_tree, smoke_tree / "config" / "sing.yaml", "l2: {eps_prime: 100.0}", "l2: {eps_prime: 50.0}")
    assert re.findall(r"rule sing_experiment:.*?wildcards: experiment=(\w+)", proc.stdout, re.S) == ["l2"]
    assert set(re.findall(r"wildcards: fig=(\w+)", proc.stdout)) == {"sing71"}
    assert "rule scorecard:" in proc.stdout and not trained_runs(proc)


def test_train_set_of_what_a_run_computes_is_refused_before_any_job(fresh_clone):
    refused = _snakemake(["all", "-n", "--config", "scale=smoke", "train_set=eps=0.5"], cwd=fresh_clone, check=False)
    assert refused.returncode != 0 and "rule " not in refused.stdout
    assert "--config train_set: 'eps' cannot be set here; allowed: backend, compile, memory_format" in refused.stdout + refused.stderr


def test_train_set_reaches_the_training_jobs(tmp_path):
    """`--config train_set=...` is what every training job of the DAG trains with (its config.yaml)."""
    tree = copy_worktree(tmp_path / "repo")
    (tree / "data").symlink_to(ROOT / "data") if (ROOT / "data").exists() else None
    run_id = next(iter(Study.load("smoke", root=tree).runs()))
    shutil.rmtree(tree / "results" / "smoke" / run_id)
    _snakemake([f"results/smoke/{run_id}/summary.json", "--cores", "1", "--config", "scale=smoke",
                "train_set=memory_format=contiguous"], cwd=tree, timeout=600)
    written = yaml.safe_load((tree / "results" / "smoke" / run_id / "config.yaml").read_text())
    assert written["memory_format"] == "contiguous" and written["provenance"]["memory_format"] == "contiguous"


@pytest.mark.dag
@pytest.mark.parametrize("notebook,figure", [("losses.py", "fig04"), ("samples.py", "fig05"), ("losses.py", "fig17"),
                                             ("samples.py", "fig20"), ("fig10_quality.py", "fig10"),
                                             ("fig21_ssim.py", "fig21"), ("fig22_rate.py", "fig22")])
def test_notebook_from_command_line_makes_the_rules_file(smoke_tree, tmp_path, notebook, figure):
    out = tmp_path / f"{figure}.pdf"
    env = {**scratch_env(smoke_tree), "FIGURE": figure, "SCALE": "smoke", "FIGURE_OUT": str(out)}
    subprocess.run([sys.executable, str(smoke_tree / "code" / "notebooks" / notebook)], env=env, check=True,
                   capture_output=True, cwd=smoke_tree, timeout=300)
    assert filecmp.cmp(out, smoke_tree / "figures" / "smoke" / f"{figure}.pdf", shallow=False)  # no slow bytes diff


@pytest.mark.dag
@pytest.mark.latex
@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed (make system-deps)")
def test_paper_builds_at_smoke_scale(smoke_tree):
    _snakemake(["paper/main.pdf", "--cores", "2", "--config", "scale=smoke"], cwd=smoke_tree, timeout=900)
    pdf = smoke_tree / "paper" / "smoke" / "main.pdf"
    assert pdf.is_file() and pdf.stat().st_size > 10000
    assert filecmp.cmp(smoke_tree / "paper" / "main.pdf", pdf, shallow=False)
    claims = yaml.safe_load((smoke_tree / "results" / "smoke" / "claims.json").read_text())
    assert claims


@pytest.mark.dag
def test_rerunning_the_same_command_after_a_killed_run_finishes_it(tmp_path):
    """SIGKILL of a local `snakemake` mid-job leaves incomplete outputs and a stale lock; the README
    says "rerun the same command" (profiles/default: rerun-incomplete; common.smk: stale lock)."""
    tree = copy_worktree(tmp_path / "repo")
    run = "cats.photos-standin-seqsgda-p2-eps1-L10-m16-nc10-it12"
    shutil.rmtree(tree / "results" / "smoke" / run)
    target = f"results/smoke/{run}/summary.json"
    env = scratch_env(tree)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the `sinkgan` command
    first = subprocess.Popen(SNAKEMAKE + [target, "--cores", "1"], cwd=tree, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (tree / "results" / "smoke" / run / "config.yaml").exists() and time.time() < deadline:
        time.sleep(0.5)
    os.killpg(first.pid, 9)
    first.wait()
    assert any((tree / ".snakemake" / "locks").iterdir()), "the killed run left no lock: nothing was tested"
    again = _snakemake([target, "--cores", "1"], cwd=tree, timeout=600)
    assert (tree / target).is_file(), again.stdout[-2000:]


def _tracked_bytes(tree: Path) -> dict[str, bytes]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode()
    return {rel: (tree / rel).read_bytes() for rel in filter(None, out.split("\0")) if (tree / rel).is_file()}


@pytest.mark.dag
@pytest.mark.latex
@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed (make system-deps)")
def test_make_paper_on_a_fresh_clone_leaves_the_tree_clean(tmp_path):
    """`make paper` (snakemake paper/main.pdf, smoke) on a fresh clone builds the report from the
    committed results and rewrites none of them: no FID, no redrawn figure, the same claims.json."""
    tree = copy_worktree(tmp_path / "repo")
    now = time.time()  # git's checkout order: inputs newer than the outputs made from them (all in the past)
    for path in tree.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            os.utime(path, (now - (60 if "results" in path.parts else 120),) * 2)
    before = _tracked_bytes(tree)
    proc = _snakemake(["paper/main.pdf", "--cores", "2"], cwd=tree, timeout=900)
    assert (tree / "paper" / "smoke" / "main.pdf").is_file()
    for rule in ("rule train:", "rule quality:", "rule track:", "rule plot:", "rule table:", "rule sing_experiment:"):
        assert rule not in proc.stdout, f"{rule} ran on a fresh clone"
    changed = [rel for rel, data in before.items() if (tree / rel).read_bytes() != data]
    assert not changed, f"make paper rewrote committed files: {changed[:10]}"


def test_html_report_holds_every_figure_with_its_caption(fresh_clone, tmp_path):
    """`snakemake --report report.html`: one page with every figure and table of the scale, and the
    paper's caption of each (report() outputs of the plot and table rules)."""
    out = tmp_path / "report.html"
    _snakemake(["--report", str(out)], cwd=fresh_clone, timeout=600)
    html = out.read_text(errors="replace")
    study = Study.load("smoke", root=fresh_clone)
    captions = yaml.safe_load((fresh_clone / "paper" / "captions.yaml").read_text())
    for name in [*study.spec["figures"], *SING]:
        assert f"{name}.pdf" in html, name
    for name in study.spec["tables"]:
        assert f"{name}.tex" in html, name
    assert captions["fig04"] in html and captions["fig22"][:40] in html
