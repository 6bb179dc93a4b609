"""tools/gpu_sitting.py: the offline payload travels in parts that fit beside the working tree and is
put together (checked) on the GPU machine; a sitting refuses to start without it, works in a folder
where nothing of an unfinished run is deleted, packs only finished results (no checkpoints, no
unfinished runs, no weights beyond smoke) in parts no larger than asked, and unpacking them
restores the same files."""
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
        "done/.made": b"", "done/.made-quality": b"", "sing/l2/.made": b"",
        "running/log.csv": b"iteration\n", "running/checkpoints/last.pt": b"z",
        "logs/train/done.log": b"ok\n", "sing/l2/summary.json": b"{}", "sing/l2/log.csv": b"a\n", "sing/gan/log.csv": b"b\n",
    }
    for rel, data in files.items():
        (res / rel).parent.mkdir(parents=True, exist_ok=True)
        (res / rel).write_bytes(data)
    return res


def test_only_finished_results_travel(tmp_path):
    res = _tree(tmp_path / "a")
    (res / "done" / "generator.pt").write_bytes(b"w")
    (res / "MANIFEST").write_text("run_id\n")
    names = {str(p.relative_to(res)) for p in gpu_sitting.finished_files(res)}
    assert names == {"done/summary.json", "done/log.csv", "done/samples/final.png", "logs/train/done.log",
                     "sing/l2/summary.json", "sing/l2/log.csv", "MANIFEST"}  # no weights beyond smoke (.gitignore)


def test_weights_travel_at_the_smoke_scale(tmp_path):
    smoke = tmp_path / "results" / "smoke"
    (smoke / "run").mkdir(parents=True)
    for name in ("summary.json", "generator.pt"):
        (smoke / "run" / name).write_bytes(b"{}")
    assert {p.name for p in gpu_sitting.finished_files(smoke)} == {"summary.json", "generator.pt"}


def _payload_sources(root: Path) -> dict:
    files = {".whl/pkg-1.0-py3-none-any.whl": os.urandom(70000), ".whl/other-2.0-py3-none-any.whl": os.urandom(5000),
             "data/fashion-mnist/train-images-idx3-ubyte.gz": os.urandom(90000)}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def test_the_payload_travels_in_parts_and_is_put_together_there(tmp_path, monkeypatch):
    files = _payload_sources(tmp_path / "here")
    parts = gpu_sitting.prepare(tmp_path / "here", part_bytes=40000)
    assert len(parts) >= 4 and all(f.stat().st_size <= 40000 for p in parts for f in p.glob("payload.[0-9]*"))
    installed = []
    monkeypatch.setattr(gpu_sitting, "install_wheels", lambda wheels, target: installed.append(sorted(wheels.glob("*.whl"))))
    stage = tmp_path / "stage"
    assert gpu_sitting.staged_missing(stage) == ["every part (nothing staged yet)"]
    for k, part in enumerate(parts):
        done = gpu_sitting.stage(part, stage)
        assert done == (k == len(parts) - 1)
        if not done:
            assert gpu_sitting.staged_missing(stage) == [f"payload.{j + 1:02d}" for j in range(k + 1, len(parts))]
    assert gpu_sitting.staged_missing(stage) == []
    for rel, data in files.items():
        assert (stage / "payload" / rel).read_bytes() == data
    assert [w.name for w in installed[0]] == ["other-2.0-py3-none-any.whl", "pkg-1.0-py3-none-any.whl"]


def test_a_part_broken_in_transfer_is_refused(tmp_path):
    _payload_sources(tmp_path / "here")
    part = gpu_sitting.prepare(tmp_path / "here", part_bytes=40000)[1]
    chunk = next(part.glob("payload.[0-9]*"))
    chunk.write_bytes(chunk.read_bytes()[:-1] + b"\0")
    with pytest.raises(SystemExit, match="SHA-256"):
        gpu_sitting.stage(part, tmp_path / "stage")


def test_a_sitting_refuses_to_start_without_the_whole_payload(tmp_path, monkeypatch):
    monkeypatch.setenv("SINKGAN_STAGE", str(tmp_path / "stage"))
    with pytest.raises(SystemExit, match="run: the payload is not complete.*stage .carry/partNN"):
        gpu_sitting.run("small", 540, 60, 4, tmp_path / "out", 15.0)
    with pytest.raises(SystemExit, match="speed: the payload is not complete"):
        gpu_sitting.speed(tmp_path / "out")
    with pytest.raises(SystemExit, match="check: the payload is not complete"):
        gpu_sitting.check(tmp_path / "out")
    assert not (tmp_path / "stage" / "work").exists()


def test_the_work_folder_keeps_what_an_unfinished_run_left(tmp_path):
    here, work = tmp_path / "repo", tmp_path / "work"
    for rel in ("code/a.py", "results/small/done/summary.json", ".git/HEAD", "data/cache/x.pt"):
        (here / rel).parent.mkdir(parents=True, exist_ok=True)
        (here / rel).write_text(rel)
    (work / "results" / "small" / "running").mkdir(parents=True)
    (work / "results" / "small" / "running" / "log.csv").write_text("iteration\n1\n")
    gpu_sitting.sync_work(here, work)
    assert (work / "results" / "small" / "running" / "log.csv").read_text() == "iteration\n1\n"
    assert (work / "results" / "small" / "done" / "summary.json").is_file() and (work / "code" / "a.py").is_file()
    assert not (work / ".git").exists() and not (work / "data").exists()


def test_the_working_tree_leaves_room_for_the_payload():
    """What one device command may send (64 MiB) less the working tree is what each payload part may
    hold; committed weights or bulky results would shrink it to nothing (see .gitignore)."""
    room = gpu_sitting.TRANSFER_LIMIT - gpu_sitting.tree_bytes(ROOT)
    assert room >= 24 * 2**20, f"the working tree leaves {room / 2**20:.1f} MiB per device command; allowed: >= 24 MiB"


def test_the_printed_session_stages_every_part_then_sits_in_one_last_command():
    parts = [Path(f".carry/part{k:02d}") for k in (1, 2, 3)]
    commands = gpu_sitting.session_commands(parts)
    assert [c for c, _ in commands] == [".carry/part01", ".carry/part02", ".carry/part03"]
    assert commands[1][1] == "python3 tools/gpu_sitting.py stage .carry/part02"
    # the last part and the whole GPU work in one command of at most 10 minutes (few calls: each start costs)
    assert commands[2][1].startswith("python3 tools/gpu_sitting.py stage .carry/part03 && python3 tools/gpu_sitting.py "
                                     'session --scale small --budget 560 --out "$OUT"')
    assert all(len(cmd) <= 2000 for _, cmd in commands)  # the device tool's limit on a command


def _bench_json(path: Path, rows: list[tuple[str, str, str, float]]) -> Path:
    import json

    training = [{"setting": s, "precision": "fp32", "mode": m, "memory_format": f, "median_s": t} for s, m, f, t in rows]
    path.write_text(json.dumps({"device_type": "cuda", "training": training}))
    return path


def test_a_session_checks_times_then_sits_in_the_fastest_checked_mode(tmp_path, monkeypatch):
    calls = []
    verdict = {"rc": 0}
    monkeypatch.setattr(gpu_sitting, "check", lambda out, budget: calls.append(("check", budget)) or verdict["rc"])

    def speed(out, jobs, budget):
        calls.append(("speed", jobs, budget))
        _bench_json(out / "bench.json", [("resnet (m=64)", "eager", "contiguous", 0.4),
                                         ("resnet (m=64)", "fused+captured", "contiguous", 0.02),
                                         ("dcgan-mnist (m=100)", "captured", "contiguous", 0.01)])
        return 0
    monkeypatch.setattr(gpu_sitting, "speed", speed)
    monkeypatch.setattr(gpu_sitting, "run", lambda scale, budget, grace, jobs, out, part_mb, train_set:
                        calls.append(("run", scale, budget > 540 and budget <= 560, jobs, list(train_set))) or 0)
    (tmp_path / "out").mkdir()
    assert gpu_sitting.session("small", 560, tmp_path / "out", check_s=150, speed_s=180) == 0
    # the ResNet's fastest mode (most of the study's runs), not the DCGAN's
    assert calls == [("check", 150), ("speed", "", 180),
                     ("run", "small", True, 4, ["backend=fused compile=reduce-overhead"])]  # the rest of the budget
    calls.clear()
    verdict["rc"] = 1  # the GPU tests failed: the sitting trains eager, and the session says it failed
    assert gpu_sitting.session("small", 560, tmp_path / "out") == 1
    assert calls[-1] == ("run", "small", True, 4, [])


def test_the_fastest_train_set_is_none_for_eager_or_an_empty_benchmark(tmp_path):
    assert gpu_sitting.fastest_train_set(tmp_path / "missing.json") == []
    eager = _bench_json(tmp_path / "b.json", [("resnet (m=64)", "eager", "contiguous", 0.4)])
    assert gpu_sitting.fastest_train_set(eager) == []  # the defaults on CUDA


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


def test_a_sitting_trains_in_the_mode_it_is_given(tmp_path, monkeypatch):
    """`run --set ...` becomes the DAG's `--config train_set=...` (checked there before any job)."""
    import subprocess

    calls = []
    work = tmp_path / "work"
    (work / "results" / "small").mkdir(parents=True)
    monkeypatch.setattr(gpu_sitting, "work_folder", lambda command, jobs=1: (work, {}))
    monkeypatch.setattr(gpu_sitting, "pack", lambda results, out, part_mb: [])
    monkeypatch.setattr(gpu_sitting.subprocess, "run",
                        lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    assert gpu_sitting.run("small", 540, 60, 4, tmp_path / "out", 15.0, ["backend=fused compile=reduce-overhead"]) == 0
    dag = next(c for c in calls if "snakemake" in c)
    assert dag[dag.index("--config"):] == ["--config", "scale=small", "train_set=backend=fused compile=reduce-overhead"]
    calls.clear()
    gpu_sitting.run("small", 540, 60, 4, tmp_path / "out", 15.0)
    dag = next(c for c in calls if "snakemake" in c)
    assert dag[dag.index("--config"):] == ["--config", "scale=small"]  # eager: no train_set


def test_check_then_speed_within_their_budgets_and_the_verdict_follows_check(tmp_path, monkeypatch, capsys):
    import subprocess

    calls, exit_code = [], {"tests": 1}
    monkeypatch.setenv("SINKGAN_STAGE", str(tmp_path / "stage"))
    (tmp_path / "stage").mkdir()
    monkeypatch.setattr(gpu_sitting, "work_folder", lambda command, jobs=1: (tmp_path, {}))

    def fake_run(cmd, **kw):
        calls.append((cmd, kw))
        return subprocess.CompletedProcess(cmd, exit_code["tests"] if "pytest" in cmd else 0)
    monkeypatch.setattr(gpu_sitting.subprocess, "run", fake_run)
    assert gpu_sitting.speed(tmp_path / "out", jobs="1,4", budget=540) == 0
    assert "`check` has not run: train with the defaults" in capsys.readouterr().out
    assert gpu_sitting.check(tmp_path / "out", budget=500) == 1
    (tests, kw) = calls[-1]
    assert [t for t in gpu_sitting.GPU_TESTS if t in tests] == list(gpu_sitting.GPU_TESTS) and kw["timeout"] == 500
    calls.clear()
    gpu_sitting.speed(tmp_path / "out", jobs="1,4", budget=540)
    assert "`check` FAILED: train with the defaults" in capsys.readouterr().out
    (bench, _), (concurrency, _) = calls
    given = int(bench[bench.index("--budget") + 1])
    assert 0 < given <= 540 - 2 * gpu_sitting.CONCURRENCY_ROW_S - 90  # room for the concurrency rows and a last compile
    assert concurrency[concurrency.index("--concurrency") + 1] == "1,4"
    exit_code["tests"] = 0
    gpu_sitting.check(tmp_path / "out")
    gpu_sitting.speed(tmp_path / "out")
    assert "`check` passed: the sittings may train in the fastest mode" in capsys.readouterr().out
