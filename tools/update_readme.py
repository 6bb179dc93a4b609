#!/usr/bin/env python3
"""Rewrite the README's generated blocks from their sources (``make readme``):

* ``<!-- deviations:begin ... -->``: ``python -m sinkgan.report deviations-md`` (config/deviations.yaml);
* ``<!-- small-runs:begin ... -->``: ``sinkgan study manifest --scale small --markdown`` (the run
  directories under results/small/), after a sitting has brought runs back.

tests/test_readme.py fails while either block differs from what its command prints.  The rest of
the README is written by hand: this tool touches only the text between a block's two markers.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = {
    "deviations": [sys.executable, "-m", "sinkgan.report", "deviations-md"],
    "small-runs": [sys.executable, "-m", "sinkgan", "study", "manifest", "--scale", "small", "--markdown"],
}


def rewrite(text: str, block: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {block}:begin[^\n]*-->\n).*?(\n<!-- {block}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"update_readme: README.md has no <!-- {block}:begin --> ... <!-- {block}:end --> block")
    return pattern.sub(lambda m: m.group(1) + body.strip() + m.group(2), text, count=1)


def main() -> int:
    readme = ROOT / "README.md"
    text = old = readme.read_text()
    for block, command in BLOCKS.items():
        body = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
        text = rewrite(text, block, body)
    if text != old:
        tmp = readme.with_suffix(".md.tmp")
        tmp.write_text(text)
        tmp.replace(readme)  # atomic: a crash leaves the old README, never half of the new one
    print(f"update_readme: {'rewrote' if text != old else 'nothing to change in'} {', '.join(BLOCKS)} of README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
