"""tools/gpu_sitting.py: a sitting packs only finished results (no checkpoints, no unfinished runs),
in parts no larger than asked, and unpacking them restores the same files."""
import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_sitting", ROOT / "tools" / "gpu_sitting.py")
gpu_sitting = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_sitting)


def _tree(root: Path) -> Path:
    res = root / "results" / "small"
    files = {
        "done/summary.json": b"{}", "done/log.csv": b"iteration\n1\n", "done/samples/final.png": os.urandom(40000),
        "done/checkpoints/last.pt": b"x" * 1000, "done/snapshots/generator_0000500.pt": b"y", "done/.sinkgan.lock": b"",
        "running/log.csv": b"iteration\n", "running/checkpoints/last.pt": b"z",
        "logs/train/done.log": b"ok\n", "sing/l2/summary.json": b"{}", "sing/l2/log.csv": b"a\n", "sing/gan/log.csv": b"b\n",
    }
    for rel, data in files.items():
        (res / rel).parent.mkdir(parents=True, exist_ok=True)
        (res / rel).write_bytes(data)
    return res


def test_only_finished_results_travel(tmp_path):
    res = _tree(tmp_path / "a")
    names = {str(p.relative_to(res)) for p in gpu_sitting.finished_files(res)}
    assert names == {"done/summary.json", "done/log.csv", "done/samples/final.png", "logs/train/done.log",
                     "sing/l2/summary.json", "sing/l2/log.csv"}


def test_pack_in_parts_and_unpack_round_trip(tmp_path):
    res = _tree(tmp_path / "a")
    parts = gpu_sitting.pack(res, tmp_path / "out", part_mb=0.01)  # 10 KiB parts: the PNG forces several
    assert len(parts) >= 3 and all(p.stat().st_size <= 0.01 * 2**20 for p in parts)
    names = gpu_sitting.unpack(tmp_path / "out", root=tmp_path / "b")
    assert "results/small/done/samples/final.png" in names
    for rel in ("done/samples/final.png", "done/log.csv", "sing/l2/log.csv"):
        assert (tmp_path / "b" / "results" / "small" / rel).read_bytes() == (res / rel).read_bytes()
    assert not (tmp_path / "b" / "results" / "small" / "running").exists()


def test_unpack_refuses_an_empty_folder(tmp_path):
    with pytest.raises(SystemExit, match="no results"):
        gpu_sitting.unpack(tmp_path)
