"""environment.yml and requirements.txt say the same thing; every pin is exact."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_requirements_are_exact_pins_with_torch_and_torchvision_paired():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert "==" in line, f"unpinned requirement: {line}"
            name, version = line.split("==")
            pins[name.lower()] = version
    assert pins["torch"] == "2.13.0" and pins["torchvision"] == "0.28.0"


def test_environment_yml_installs_requirements_txt():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-r requirements.txt" in pip
    assert "python=3.11" in env["dependencies"]
