"""What users read: the README tells the truth about commands, deviations and targets."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_deviations_section_matches_config():
    generated = subprocess.run([sys.executable, "-m", "sinkgan.report", "deviations-md"], capture_output=True,
                               text=True, check=True, cwd=ROOT).stdout.strip()
    block = re.search(r"<!-- deviations:begin.*?-->\n(.*?)\n<!-- deviations:end -->", README, re.S)
    assert block, "README lacks the generated deviations block"
    assert block.group(1).strip() == generated, "README deviations are stale: run `make readme`"


def test_small_scale_table_matches_the_committed_runs():
    """The README's table of the small study is what the run directories say, so a run committed
    (or a number changed) without the README following fails here."""
    generated = subprocess.run([sys.executable, "-m", "sinkgan", "study", "manifest", "--scale", "small", "--markdown"],
                               capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
    block = re.search(r"<!-- small-runs:begin.*?-->\n(.*?)\n<!-- small-runs:end -->", README, re.S)
    assert block, "README lacks the generated small-scale table"
    assert block.group(1).strip() == generated, \
        "README's small-scale table is stale: run `make readme`"
    finished = re.search(r"(\d+) of (\d+) runs finished", generated).groups()
    row = next(line for line in README.splitlines() if line.startswith("| `small` |"))
    assert f"{finished[0]} of {finished[1]} runs" in row, "the Scales table's small row gives another run count"


def test_make_readme_rewrites_only_between_the_markers():
    import importlib.util

    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "tools" / "update_readme.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    text = "intro\n<!-- small-runs:begin (x) -->\nold | table\n<!-- small-runs:end -->\nafter\n"
    assert tool.rewrite(text, "small-runs", "new | table\n") == \
        "intro\n<!-- small-runs:begin (x) -->\nnew | table\n<!-- small-runs:end -->\nafter\n"
    with pytest.raises(SystemExit, match="has no <!-- deviations:begin"):
        tool.rewrite(text, "deviations", "x")


def test_every_figure_and_table_has_a_row():
    study = yaml.safe_load((ROOT / "config" / "study.yaml").read_text())
    for name in list(study["figures"]) + list(study["tables"]):
        assert f"`figures/{name}." in README, name


def test_ci_runs_the_readme_test_command():
    assert "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_example_config_is_valid():
    from sinkgan.config import load_config

    cfg = load_config(ROOT / "examples" / "mnist_dcgan_smoke.yaml", check_data=False)
    assert cfg.dataset == "mnist5k" and cfg.arch == "dcgan"


# ----------------------------------------------------------------------------- the commands, as written

#: Lines that set up a shell rather than do the work: not run here.
SETUP = (". ", "source ", "export ", "conda ", "pip ", "git ", "cd ", "eval ")
#: `sinkgan` commands that only read: executed (in-process); every other one is parsed only.
READ_ONLY = (("--version",), ("study",), ("validate",), ("data", "list"))
ALIASES = {"sinkgan": (), "sinkgan.metrics": ("metrics",), "sinkgan.data": ("data",), "sinkgan.report": ("report",),
           "sinkgan.tables": ("table",), "sinkgan.sing_experiments": ("sing",)}
NOTEBOOK_ENV = {"FIGURE", "SCALE", "FIGURE_OUT", "SINKGAN_ROOT", "DATA", "DATA_ROOT"}


def _strip_comment(line: str) -> str:
    return re.sub(r"\s+#.*$", "", line).strip()


#: Inline `sinkgan ...` spans of the prose: a command named there must exist; its required
#: arguments may be left out (`sinkgan train` refuses ... names the command, it is not a command line).
MENTIONS = re.findall(r"`((?:sinkgan|python -m sinkgan(?:\.[a-z_]+)?) [a-z-][^`]*)`", README)


def readme_commands() -> list[str]:
    """Every command a user may copy: the lines of ```bash blocks of the README, its inline
    `sinkgan ...` spans, and the `#   snakemake ...` usage lines heading the Snakefile and rule files."""
    out = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", README, re.S):
        out += [c for c in (_strip_comment(line) for line in block.splitlines()) if c and not c.startswith("#")]
    out += MENTIONS
    for path in [ROOT / "Snakefile", *sorted((ROOT / "code" / "rules").glob("*.smk"))]:
        out += [_strip_comment(m) for m in re.findall(r"^#\s+(snakemake .*)$", path.read_text(), re.M)]
    return list(dict.fromkeys(out))


def _has_conda() -> bool:
    import shutil

    return shutil.which("conda") is not None


def _dry_run(command: str, capsys, mention: bool = False):
    """Run a command as a dry run: Snakemake with -n, `make` by its target, `sinkgan` by parsing
    (executed where it only reads), a notebook by its path and variables.  Returns an error or None."""
    import shlex

    from sinkgan import cli

    if command.startswith(SETUP):
        return None
    words = shlex.split(command)
    if words[0] == "snakemake":
        if "--software-deployment-method" in words and not _has_conda():
            return None  # needs conda on this machine
        env = {"PYTHONPATH": str(ROOT / "code"), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
        proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", *words[1:]], cwd=ROOT, capture_output=True,
                              text=True, timeout=300, env=env)
        return None if proc.returncode == 0 else (proc.stdout + proc.stderr)[-2000:]
    if words[0] == "make":
        targets = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
        makefile = (ROOT / "Makefile").read_text()
        missing = [t for t in targets if not re.search(rf"^{re.escape(t)}:", makefile, re.M)]
        return f"no Makefile target {missing}" if missing else None
    assigned = [w.split("=")[0] for w in words if re.fullmatch(r"[A-Z_]+=\S*", w)]
    if assigned:  # VAR=... python code/notebooks/x.py
        rest = words[len(assigned):]
        unknown = set(assigned) - NOTEBOOK_ENV
        if unknown or rest[0] != "python" or not (ROOT / rest[1]).is_file():
            return f"unknown variables {unknown} or no file {rest[1:2]}"
        return None
    if words[:2] == ["python", "-m"]:  # python -m sinkgan[.module]: the alias of a sinkgan command (group)
        group = ALIASES.get(words[2])
        words = None if group is None else ["sinkgan", *group, *words[3:]]
    if not words or words[0] != "sinkgan":
        return "not a command this test knows how to dry-run: add it to tests/test_readme.py"
    argv = words[1:]
    try:
        if any(tuple(argv[:len(r)]) == r for r in READ_ONLY):
            code = cli.main(argv)
            return None if code == 0 else f"exit status {code}"
        cli.build_parser(groups=None).parse_args(argv)
    except SystemExit as stop:
        if stop.code == 0 or (mention and "the following arguments are required" in capsys.readouterr().err):
            return None
        return f"argument error (exit {stop.code})"
    return None


def test_readme_lists_commands():
    commands = readme_commands()
    assert any(c.startswith("snakemake ") for c in commands) and any(c.startswith("sinkgan ") for c in commands)


@pytest.mark.parametrize("command", readme_commands())
def test_every_readme_command_runs_as_written(command, capsys):
    error = _dry_run(command, capsys, mention=command in MENTIONS)
    assert error is None, f"`{command}`: {error}"
