"""environment.yml, requirements.txt and constraints.txt say the same thing; every pin is exact, and the
environment the tests run in holds exactly the locked versions."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_requirements_are_exact_pins_with_torch_and_torchvision_paired():
    pins = _exact_pins("requirements.txt")
    assert pins["torch"] == "2.13.0" and pins["torchvision"] == "0.28.0"


def test_environment_yml_installs_requirements_txt():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-r requirements.txt" in pip and "-c constraints.txt" in pip
    assert "python=3.11" in env["dependencies"]


def _exact_pins(filename: str) -> dict[str, str]:
    """name -> version of every `name==version` line of a pip requirements file; any other line fails."""
    pins = {}
    for line in (ROOT / filename).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert "==" in line, f"{filename}: unpinned line {line!r}"
            name, version = line.split("==")
            pins[_norm(name)] = version
    return pins


def _requirements() -> dict[str, str]:
    return _exact_pins("requirements.txt")


def _norm(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


TEST_ONLY = {"pytest", "pytest-timeout"}


def _constraints() -> dict[str, str]:
    return _exact_pins("constraints.txt")


def test_constraints_lock_only_what_requirements_do_not_name():
    """constraints.txt pins the packages pulled in without a name (fontTools among them: its subsetter
    decides the bytes of every PDF figure); a package named in both files would have two sources of truth."""
    locked = _constraints()
    assert "fonttools" in locked
    both = sorted(set(locked) & set(_requirements()))
    assert not both, f"in both requirements.txt and constraints.txt: {both}"
    assert {"sinkgan", "pip", "setuptools"}.isdisjoint(locked)


def test_installed_versions_are_the_locked_ones():
    """The environment the tests run in is the locked one: a package at another version than
    requirements.txt or constraints.txt says (a stale .venv, a hand-installed upgrade) fails here, by name,
    instead of as figures that no longer rebuild byte for byte.  Local version labels (torch's +cpu) are
    ignored."""
    from importlib.metadata import PackageNotFoundError, version

    wrong = []
    for name, pinned in {**_requirements(), **_constraints()}.items():
        try:
            have = version(name)
        except PackageNotFoundError:
            continue  # a platform-specific dependency that pip did not need here
        if have.split("+")[0] != pinned:
            wrong.append(f"{name} {have} (locked {pinned})")
    assert not wrong, f"installed versions differ from the lock (rerun `make setup` after `rm -rf .venv`): {wrong}"


def test_rule_conda_environment_pins_requirements_txt():
    """code/envs/sinkgan.yaml (the rules' conda environment) lists exactly the runtime pins of requirements.txt
    and the locked versions of constraints.txt: it cannot use `-r requirements.txt` or `-c constraints.txt`,
    because Snakemake copies the file before conda reads it."""
    env = yaml.safe_load((ROOT / "code" / "envs" / "sinkgan.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pinned = {_norm(p.split("==")[0]): p.split("==")[1] for p in pip}
    assert pinned == {k: v for k, v in {**_requirements(), **_constraints()}.items() if k not in TEST_ONLY}
    assert "python=3.11" in env["dependencies"]


def _pyproject() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_every_pin_is_a_declared_dependency_and_back():
    project = _pyproject()
    declared = {_norm(d) for d in project["dependencies"]}
    declared |= {_norm(d) for extra in project["optional-dependencies"].values() for d in extra}
    assert declared == set(_requirements())


def _third_party_imports() -> set[str]:
    import ast
    import sys

    files = [*(ROOT / "code").rglob("*.py"), *(ROOT / "code" / "rules").glob("*.smk")]
    names = set()
    for path in files:
        if path.suffix == ".smk":  # Snakemake syntax: only its import lines are Python
            source = "\n".join(l for l in path.read_text().splitlines() if l.startswith(("import ", "from ")))
        else:
            source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("sinkgan", "__future__")}


#: Imports whose distribution comes with a declared one (IPython with ipykernel).
PROVIDED_BY = {"IPython": "ipykernel"}


def test_every_imported_package_is_declared():
    """Each third-party package the code imports is a dependency (or extra) in pyproject.toml."""
    from importlib.metadata import packages_distributions

    project = _pyproject()
    declared = {_norm(d) for d in project["dependencies"]}
    declared |= {_norm(d) for extra in project["optional-dependencies"].values() for d in extra}
    dists = packages_distributions()
    missing = []
    for name in sorted(_third_party_imports()):
        candidates = {_norm(d) for d in dists.get(name, [])} | ({PROVIDED_BY[name]} if name in PROVIDED_BY else set())
        if not candidates & declared:
            missing.append(f"{name} ({', '.join(sorted(candidates)) or 'not installed'})")
    assert not missing, f"imported but not in pyproject.toml: {missing}"
