"""What users read: the README tells the truth about commands, deviations and targets."""
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_deviations_section_matches_config():
    generated = subprocess.run([sys.executable, "-m", "sinkgan.report", "deviations-md"], capture_output=True,
                               text=True, check=True, cwd=ROOT).stdout.strip()
    block = re.search(r"<!-- deviations:begin.*?-->\n(.*?)\n<!-- deviations:end -->", README, re.S)
    assert block, "README lacks the generated deviations block"
    assert block.group(1).strip() == generated, "README deviations are stale: paste `python -m sinkgan.report deviations-md`"


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
