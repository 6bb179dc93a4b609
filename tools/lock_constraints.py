"""Write constraints.txt: the exact version of every installed package that requirements.txt does not name.

    .venv/bin/python tools/lock_constraints.py      # after `make setup` with a changed requirements.txt

requirements.txt names what the code imports; pip picks the rest (matplotlib's fontTools, Snakemake's
plugins, ...) at install time, newest first.  Those choices change output bytes: fontTools 4.69 embeds
the fonts' whole name table in a PDF where 4.68 kept a subset, so every figure rebuilt on a fresh
machine differed from the committed one.  `make setup` installs with ``-c constraints.txt``, and
tests/test_environment.py checks that the environment holds exactly these versions.
"""
from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_LOCKED = {"sinkgan", "pip", "setuptools", "wheel"}  # the package itself and the installer
HEADER = """\
# Exact versions of every package that requirements.txt pulls in without naming it; make setup installs
# with `-c constraints.txt`.  Figures are compared byte for byte with what the notebooks write
# (tests/test_notebooks_cli.py), and those bytes depend on more than the named packages: fontTools 4.69
# embeds the fonts' whole name table where 4.68 kept a subset, so every committed PDF changed.
# Written by tools/lock_constraints.py from the environment of `make setup`; rerun it after changing
# requirements.txt, then rebuild the figures and compare.
"""


def norm(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(path: Path = ROOT / "requirements.txt") -> set[str]:
    return {norm(line.split("#")[0].split("==")[0].strip())
            for line in path.read_text().splitlines() if line.split("#")[0].strip()}


def main() -> int:
    named = requirement_names() | NOT_LOCKED
    installed = {norm(d.metadata["Name"]): (d.metadata["Name"], d.version) for d in metadata.distributions()}
    lines = sorted(f"{name}=={version}" for key, (name, version) in installed.items() if key not in named)
    (ROOT / "constraints.txt").write_text(HEADER + "\n".join(sorted(lines, key=str.lower)) + "\n")
    print(f"constraints.txt: {len(lines)} packages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
