"""Twin runs (sinkgan.twins): a run of the study that trains exactly what an earlier run trains is
copied from it, not trained again; the copy is a finished run under its own name that says so."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from sinkgan import rundir
from sinkgan.config import TrainConfig, validate
from sinkgan.cost import read_bench, scale_cost
from sinkgan.manifest import manifest_rows
from sinkgan.study import Study
from sinkgan.train import train
from sinkgan.twins import copy_quality, copy_training, originals

ROOT = Path(__file__).resolve().parents[1]


def test_the_small_scales_twins_are_its_cats_and_celeba_runs_on_one_stand_in():
    study = Study.load("small", root=ROOT)
    twins = study.twins()
    runs = study.runs()
    assert len(twins) == 9
    for twin, original in twins.items():
        assert twin.startswith("celeba.fashion-rgb-") and original == "cats" + twin[len("celeba"):]
        assert list(runs).index(original) < list(runs).index(twin)  # the first in the study's order is trained
        mine, theirs = runs[twin].config.to_dict(), runs[original].config.to_dict()
        assert {k for k in mine if mine[k] != theirs[k]} == {"name"}
    # every other run trains something no other run trains
    left = [s.config for r, s in runs.items() if r not in twins]
    assert len({json.dumps({**c.result_settings(), "name": None}, sort_keys=True) for c in left}) == len(left)


@pytest.mark.parametrize("scale", ["paper", "cpu"])
def test_a_scale_on_the_paper_data_or_without_pairs_has_no_twins(scale):
    assert Study.load(scale, root=ROOT).twins() == {}


def test_how_a_run_computes_does_not_make_it_another_run_but_what_it_computes_does():
    base = validate(TrainConfig, {"dataset": "digits", "name": "a"})
    same = validate(TrainConfig, {"dataset": "digits", "name": "b", "compile": "default", "memory_format": "contiguous"})
    other = validate(TrainConfig, {"dataset": "digits", "name": "c", "seed": 1})
    assert originals({"a": base, "b": same, "c": other}) == {"b": "a"}
    assert originals({"c": other, "a": base}) == {}


def _short(cfg, out_root: Path):
    """A study run cut to 4 iterations (still each other's twin: the same edit on both)."""
    return validate(TrainConfig, {**cfg.to_dict(), "iterations": 4, "log_every": 1, "sample_every": 2,
                                  "snapshot_every": 2, "checkpoint_every": 2, "data_root": str(ROOT / "data")})


@pytest.fixture(scope="module")
def smoke_pair(tmp_path_factory):
    """The first twin of the smoke study and its original, both trained (4 iterations) into a scratch
    results tree: ``(study, twin id, original id)``."""
    root = tmp_path_factory.mktemp("twins")
    (root / "config").symlink_to(ROOT / "config")
    study = Study.load("smoke", root=root)
    twin, original = next(iter(study.twins().items()))
    for run_id in (original, twin):
        spec = study.runs()[run_id]
        train(_short(spec.config, root), spec.run_dir, progress=False, scale="smoke")
    return study, twin, original


def test_a_twin_trained_on_its_own_gives_its_originals_numbers(smoke_pair):
    """What copying relies on: the study's twins really train the same numbers (same images, seed
    and settings; the name plays no part)."""
    study, twin, original = smoke_pair
    runs = study.runs()
    assert runs[twin].overrides["dataset"] != runs[original].overrides["dataset"]  # Cats and CelebA
    a, b = (rundir.read_log(runs[r].run_dir) for r in (original, twin))
    pd.testing.assert_frame_equal(a[["g_loss", "d_loss"]], b[["g_loss", "d_loss"]], check_exact=True)
    ga, gb = (torch.load(runs[r].run_dir / "generator.pt")["state_dict"] for r in (original, twin))
    assert all(torch.equal(ga[k], gb[k]) for k in ga)
    assert (runs[original].run_dir / "summary.json").read_text() != (runs[twin].run_dir / "summary.json").read_text()


def test_a_copied_twin_is_a_finished_run_under_its_own_name_that_names_its_original(smoke_pair, tmp_path):
    study, twin, original = smoke_pair
    runs = study.runs()
    src, dst = runs[original].run_dir, tmp_path / twin
    (dst / "checkpoints").mkdir(parents=True)
    (dst / "checkpoints" / "stale.pt").write_bytes(b"from an earlier attempt")
    summary = json.loads(copy_training(src, dst, _short(runs[twin].config, study.root)).read_text())
    theirs = json.loads((src / "summary.json").read_text())
    assert summary["name"] == twin and summary["copied_from"] == original
    assert {k: v for k, v in summary.items() if k not in ("name", "copied_from")} == \
        {k: v for k, v in theirs.items() if k != "name"}  # stands_in_for: the stand-in's, the same for both
    cfg = rundir.train_config(dst)  # config.yaml reads back as the twin's own configuration
    assert cfg.name == twin and cfg.result_settings() == {**_short(runs[twin].config, study.root).result_settings()}
    prov = yaml.safe_load((dst / "config.yaml").read_text())["provenance"]
    assert prov["copied_from"] == original
    assert prov["commit"] == yaml.safe_load((src / "config.yaml").read_text())["provenance"]["commit"]
    assert (dst / "log.csv").read_bytes() == (src / "log.csv").read_bytes()
    assert sorted(p.name for p in (dst / "samples").iterdir()) == sorted(p.name for p in (src / "samples").iterdir())
    assert not (dst / "checkpoints" / "stale.pt").exists() and (dst / "checkpoints" / "last.pt").is_file()
    G, _ = rundir.load_generator(dst)
    G0, _ = rundir.load_generator(src)
    assert all(torch.equal(a, b) for a, b in zip(G.state_dict().values(), G0.state_dict().values()))


def test_a_copy_is_refused_before_its_original_finished_or_when_it_trained_something_else(smoke_pair, tmp_path):
    study, twin, original = smoke_pair
    cfg = _short(study.runs()[twin].config, study.root)
    with pytest.raises(FileNotFoundError, match="train it first"):
        copy_training(tmp_path / "nothing", tmp_path / twin, cfg)
    other = validate(TrainConfig, {**cfg.to_dict(), "eps": 0.5})
    with pytest.raises(ValueError, match="eps"):
        copy_training(study.runs()[original].run_dir, tmp_path / twin, other)
    assert not (tmp_path / twin / "summary.json").exists()


def test_a_twins_quality_is_its_originals_and_says_so(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "quality.json").write_text(json.dumps({"fid": 12.5, "wall_seconds": 30.0}))
    with pytest.raises(FileNotFoundError, match="measure b first"):
        copy_quality(tmp_path / "b", tmp_path / "c", "b")
    out = copy_quality(tmp_path / "a", tmp_path / "b", "a")
    assert json.loads(out.read_text()) == {"fid": 12.5, "wall_seconds": 30.0, "copied_from": "a"}


def test_copy_twin_of_a_run_that_is_no_twin_is_refused_with_the_command_to_train_it():
    study = Study.load("small", root=ROOT)
    lone = next(r for r in study.runs() if r not in study.twins() and r not in study.twins().values())
    proc = subprocess.run([sys.executable, "-m", "sinkgan", "study", "copy-twin", lone, "--scale", "small"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "is no twin" in proc.stderr and f"train-study small {lone}" in proc.stderr


def test_the_manifest_names_a_copys_original_and_counts_its_time_once(tmp_path):
    import shutil

    shutil.copytree(ROOT / "config", tmp_path / "config")
    study = Study.load("small", root=tmp_path)
    twin, original = next(iter(study.twins().items()))
    summary = {"iterations": 2000, "commit": "abc1234", "device": "NVIDIA H100", "wall_seconds": 300.0,
               "gpu_seconds": 300.0, "data_sha256": "f" * 64}
    for run_id, extra in ((original, {}), (twin, {"copied_from": original})):
        study.runs()[run_id].run_dir.mkdir(parents=True)
        (study.runs()[run_id].run_dir / "summary.json").write_text(json.dumps({**summary, **extra}))
    rows = {r["run_id"]: r for r in manifest_rows(study)}
    assert rows[original]["wall_seconds"] == 300.0 and rows[original]["copied_from"] is None
    assert rows[twin]["finished"] == "yes" and rows[twin]["copied_from"] == original
    assert rows[twin]["wall_seconds"] is None and rows[twin]["gpu_seconds"] is None


def test_the_cost_of_a_scale_leaves_its_copies_out():
    study = Study.load("small", root=ROOT)
    cost = scale_cost(study, read_bench(ROOT / "results" / "bench" / "cpu-x86-64-2-cores-2-threads.json"))
    assert cost["copied"] == len(study.twins()) == 9
    assert cost["runs"] == len(study.runs()) - 9


def test_the_report_counts_a_copys_training_and_measurement_time_once():
    from sinkgan import claims as C
    from sinkgan.report import compute_summary, evaluation_seconds

    base = {"iterations": 2000, "device": "NVIDIA H100", "wall_seconds": 3600.0, "dataset": "fashion-rgb",
            "dataset_is_standin": True}
    quality = {"fid": 50.0, "wall_seconds": 60.0}
    cats = C.RunResult("Ours", "cats.x", Path("results/small/cats.x"), summary={**base, "stands_in_for": "cats"},
                       quality=quality)
    celeba = C.RunResult("Ours", "celeba.x", Path("results/small/celeba.x"),
                         summary={**base, "stands_in_for": "celeba", "copied_from": "cats.x"},
                         quality={**quality, "copied_from": "cats.x"})
    summary = compute_summary({"fig06": C.FigureEvidence("fig06", [cats]), "fig07": C.FigureEvidence("fig07", [celeba])})
    assert summary["finished"] == 2 and summary["gpu_hours"] == 1.0
    assert evaluation_seconds([cats, celeba])["quality"] == 60.0


def test_train_study_copies_a_twin_whose_original_is_here_and_trains_one_whose_weights_are_not(tmp_path, monkeypatch, capsys):
    """What the DAG's train job runs for a twin: a copy where the original finished here with its
    weights; where its weights are gone (a clone of a scale committed without them), training."""
    import shutil

    from sinkgan import cli

    (tmp_path / "config").symlink_to(ROOT / "config")
    study = Study.load("smoke", root=tmp_path)
    twin, original = next(iter(study.twins().items()))
    shutil.copytree(ROOT / "results" / "smoke" / original, study.runs()[original].run_dir)  # committed with weights
    monkeypatch.setenv("SINKGAN_ROOT", str(tmp_path))
    monkeypatch.chdir(ROOT)  # the study's data_root
    assert cli.main(["train-study", "smoke", twin, "--no-progress"]) == 0
    twin_dir = study.runs()[twin].run_dir
    assert json.loads((twin_dir / "summary.json").read_text())["copied_from"] == original
    assert "copied from" in capsys.readouterr().err
    shutil.rmtree(twin_dir)
    (study.runs()[original].run_dir / "generator.pt").unlink()
    assert cli.main(["train-study", "smoke", twin, "--no-progress"]) == 0
    assert "copied_from" not in json.loads((twin_dir / "summary.json").read_text())
    assert "has no generator.pt here: training it" in capsys.readouterr().err


def test_a_verdict_on_copies_says_it_is_its_originals_evidence():
    from sinkgan import claims as C

    base = {"iterations": 2000, "dataset": "fashion-rgb", "dataset_is_standin": True, "stands_in_for": "celeba"}
    ours = C.RunResult("Ours", "celeba.a", Path("celeba.a"), summary={**base, "copied_from": "cats.a"})
    theirs = C.RunResult("SGD", "celeba.b", Path("celeba.b"), summary={**base, "copied_from": "cats.b"})
    status, evidence, _, qualifier = C.apply_policy(C.Verdict("supported", "g lower", runs=[ours, theirs]), C.Policy(),
                                                    min_iterations=2000, needs_paper_length=False)
    assert status == "supported" and "on copies of cats.a, cats.b" in qualifier and "on copies of" in evidence
    cats = C.RunResult("Ours", "cats.a", Path("cats.a"), summary={**base, "stands_in_for": "cats"})
    _, _, _, qualifier = C.apply_policy(C.Verdict("supported", "g lower", runs=[cats]), C.Policy(),
                                        min_iterations=2000, needs_paper_length=False)
    assert "copies" not in qualifier


def test_train_study_keeps_every_sittings_lines_in_the_run_folder(tmp_path, monkeypatch, capsys):
    """Snakemake empties a job's log file when the job starts, so rule train's log holds one sitting;
    the run's train.log (sinkgan.joblog) keeps each sitting's lines under its own header."""
    from sinkgan import cli

    (tmp_path / "config").symlink_to(ROOT / "config")
    study = Study.load("smoke", root=tmp_path)
    run_id = next(r for r in study.runs() if r not in study.twins())
    monkeypatch.setenv("SINKGAN_ROOT", str(tmp_path))
    monkeypatch.chdir(ROOT)  # the study's data_root
    assert cli.main(["train-study", "smoke", run_id, "--no-progress"]) == 0
    first_sitting = capsys.readouterr()
    assert cli.main(["train-study", "smoke", run_id, "--no-progress"]) == 0  # a second sitting: resumes at the end
    log = (study.runs()[run_id].run_dir / rundir.TRAIN_LOG).read_text()
    sittings = log.split("==== ")[1:]
    assert len(sittings) == 2 and all(f"sinkgan train-study smoke {run_id}: commit " in s for s in sittings)
    assert "finished, summary in" in sittings[0] and "resumed" not in sittings[0]
    assert first_sitting.out.splitlines()[-1] in sittings[0]  # what the job printed, its stdout ...
    iterations = study.runs()[run_id].config.iterations
    assert f"sitting 1: iterations 0-{iterations}" in sittings[1] and "finished, summary in" in sittings[1]
