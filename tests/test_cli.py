"""`sinkgan` is the one command line: every sub-command listed in --help, every argument explained,
the study's run ids listable, the old `python -m` forms kept as aliases."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sinkgan import cli
from sinkgan.config import ConfigError
from sinkgan.study import Study

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("train", "train-study", "study", "run-config", "validate", "metrics", "data", "report", "sing", "table", "bench",
            "verify-results")


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _all_parsers(parser, prefix="sinkgan"):
    yield prefix, parser
    for name, sub in _subparsers(parser):
        yield from _all_parsers(sub, f"{prefix} {name}")


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    missing = [c for c in COMMANDS if f"    {c} " not in out and f"    {c}\n" not in out]
    assert not missing, f"not in `sinkgan --help`: {missing}\n{out}"
    assert set(dict(_subparsers(cli.build_parser()))) == set(COMMANDS)


def test_every_argument_has_help():
    undocumented = [f"{where}: {'/'.join(a.option_strings) or a.dest}"
                    for where, parser in _all_parsers(cli.build_parser(groups=None))
                    for a in parser._actions
                    if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and not a.help]
    assert not undocumented, "arguments without help: " + "; ".join(undocumented)


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    from sinkgan import __version__

    assert stop.value.code == 0 and capsys.readouterr().out.startswith(f"sinkgan {__version__} ")


@pytest.mark.parametrize("argv", [["--scale", "small"], ["--scale", "small", "--data", "real"]])
def test_study_list_prints_the_study_run_ids(capsys, argv):
    assert cli.main(["study", "list", *argv]) == 0
    listed = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    study = Study.load("small", data=argv[3] if len(argv) > 2 else None)
    assert sorted(listed) == sorted(study.runs())


def test_study_show_reads_a_resolved_study(tmp_path, capsys):
    path = Study.load("small", data="real").write_resolved(tmp_path)
    run_id = Study.read(path).figure_runs("fig04")[0].run_id
    assert cli.main(["study", "show", run_id, "--scale", "small", "--study", str(path)]) == 0
    assert "dataset: mnist\n" in capsys.readouterr().out
    assert cli.main(["study", "show", run_id, "--scale", "small"]) == 2  # not a run of the default resolution
    assert "sinkgan study list" in capsys.readouterr().err


def test_train_study_refuses_a_study_of_another_scale(tmp_path, capsys):
    path = Study.load("small").write_resolved(tmp_path)
    assert cli.main(["train-study", "smoke", "x", "--study", str(path)]) == 2
    assert "resolves scale 'small'" in capsys.readouterr().err


def test_train_study_sets_how_a_run_computes_and_nothing_else(tmp_path, capsys, monkeypatch):
    path = Study.load("smoke").write_resolved(tmp_path)
    run_id = next(iter(Study.read(path).runs()))
    assert cli.main(["train-study", "smoke", run_id, "--study", str(path), "--set", "eps=0.5"]) == 2
    assert "--set: 'eps' cannot be set here; allowed: backend, compile, memory_format" in capsys.readouterr().err
    monkeypatch.setenv("SINKGAN_TRAIN_SET", "compile=fast")  # what `--config train_set` hands the jobs
    assert cli.main(["train-study", "smoke", run_id, "--study", str(path)]) == 2
    assert "compile: 'fast' is not one of none, default" in capsys.readouterr().err


def test_metrics_rate_refits_kappa_from_an_ssim_table(tmp_path, capsys):
    rows = ["track,step,gen_updates,critic_updates,ssim,reference"]
    rows += [f"0,{k},{k},{10 * k},{1 - 0.01 * k ** 0.5:.6f},previous" for k in range(1, 9)]
    (tmp_path / "ssim.csv").write_text("\n".join(rows) + "\n")
    assert cli.main(["metrics", "rate", str(tmp_path / "ssim.csv"), "--out", str(tmp_path / "rate.json")]) == 0
    rate = json.loads((tmp_path / "rate.json").read_text())
    assert rate["kappa"] is not None and rate["kappa"] > 0


@pytest.mark.parametrize("module", ["sinkgan", "sinkgan.metrics", "sinkgan.data", "sinkgan.report", "sinkgan.tables"])
def test_python_m_forms_stay_as_aliases(module):
    proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT / "code"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and "usage:" in proc.stdout, proc.stderr


def test_simsgda_with_several_critic_steps_is_refused_by_the_study_as_by_the_cli():
    """The study used to set n_critic = 1 for simsgda silently; a setting means one thing everywhere."""
    spec = Study.load("smoke").spec
    spec["figures"]["fig04"]["runs"][0]["variant"] = "simsgda"
    with pytest.raises(ConfigError, match="n_critic"):
        Study(spec, "smoke", ROOT)
    spec["figures"]["fig04"]["runs"][0]["n_critic"] = 1
    (run,) = Study(spec, "smoke", ROOT).figure_runs("fig04")[:1]
    assert run.config.variant == "simsgda" and run.config.n_critic == 1


@pytest.mark.parametrize("command", ["train", "validate"])
def test_an_invalid_config_is_refused_naming_the_field_and_range(command, tmp_path, capsys):
    """`sinkgan train` and `sinkgan validate` read a config the same way: a bad field is exit 2,
    one line naming it and its allowed range, before anything is written."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("eps: -1\n")
    out = tmp_path / "run"
    argv = [command, str(bad)] + (["--out", str(out), "--no-progress"] if command == "train" else [])
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "sinkgan: invalid config: eps: -1.0 is out of range; allowed (0, inf)"
    assert captured.out == "" and not out.exists()
