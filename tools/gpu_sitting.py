#!/usr/bin/env python3
"""Train a scale's study on a borrowed GPU machine in sittings, and bring the finished runs back.

A GPU machine lent for a short while has no internet, runs each command for at most ~10 minutes,
receives at most 64 MiB per command (the working tree plus what the command carries) and sends
back a few files of at most 16 MiB.  Between commands it stays the same machine for as long as
the next one follows within its idle time (about 30 s), and keeps what was written outside the
working tree.  The offline payload it needs (the wheels its image lacks, among them the 81 MB
FID Inception graph, and Fashion-MNIST) is larger than one command may carry, so it travels in
parts, one per command, and is put together there.  The study's runs are independent, so the
study is trained in sittings: each runs the Snakemake DAG for a time budget, and everything that
*finished* (a run with its ``summary.json``, a measurement with its ``quality.json`` or
``tracking/``) is packed and brought back; the next sitting's DAG picks up what is missing.

Here (a machine with the internet), once::

    make gpu-prepare        # .whl/ and data/fashion-mnist/, then `gpu_sitting.py prepare`: .carry/partNN/

``prepare`` packs the payload into ``.carry/part01`` ... ``partNN``, each small enough to travel
beside the working tree as it is now, and prints the commands of a session.  A drawn task has 15
minutes of device time in all (the machine's start, every command, every idle wait), so a
session is one short command per part but the last, then one command of at most 10 minutes that
stages the last part and does the GPU work (each carries its part)::

    python3 tools/gpu_sitting.py stage .carry/part01        # ... to .carry/part(N-1)
    python3 tools/gpu_sitting.py stage .carry/partNN && python3 tools/gpu_sitting.py session --scale small --out "$OUT"

``session`` runs `check` (the GPU tests: the fused kernels against the torch path, and every mode
a sitting may train in, through the training loop and a resume, against eager), `speed`
(``sinkgan bench``, without the concurrency table) and a sitting (`run`) with the rest of its
``--budget``, in the fastest float32 mode the benchmark timed for the ResNet if `check` passed,
else eager.  With more device time the three are commands of their own::

    python3 tools/gpu_sitting.py check --out "$OUT"         # the GPU tests (at most 9 minutes)
    python3 tools/gpu_sitting.py speed --out "$OUT"         # the benchmark and concurrency table (within 9 minutes)
    python3 tools/gpu_sitting.py run --scale small --out "$OUT" --set 'backend=fused compile=reduce-overhead'

(``--set``: ``snakemake --config train_set=...``, the switches of how a run computes, not what:
``sinkgan.config.HOW_NOT_WHAT``; without it the runs train eager.)

after each, here::

    python3 tools/gpu_sitting.py unpack /path/to/returned/files     # into results/<scale>/, then commit

``stage`` checks each part's SHA-256 and, once all are there, the payload's, unpacks it under
``$SINKGAN_STAGE`` (default /tmp/sinkgan-stage) and installs the wheels there.  ``run`` refuses to
start until the payload is complete, copies the working tree into ``$SINKGAN_STAGE/work`` (never
deleting there: unfinished runs keep their checkpoints, logs and weights from sitting to
sitting), runs ``snakemake all --config scale=<scale>`` there with ``--resources gpu=<jobs>``
(several jobs share the one GPU) under a time limit that stops it (SIGTERM: training jobs
checkpoint and exit) ``--grace`` seconds before the budget, writes ``results/<scale>/MANIFEST``
(``sinkgan study manifest``), and packs the finished results into ``--out`` as
``results-<scale>.tar.gz.partNN`` files of at most ``--part-mb`` MiB.  Checkpoints and weights
never travel back (.gitignore commits weights at the smoke scale only).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: never packed: resumable state and bulky intermediates stay on the machine that made them
EXCLUDED_DIRS = {"checkpoints", "snapshots"}
EXCLUDED_SUFFIXES = (".tmp", ".lock")
#: the markers of the jobs that made results (code/rules/common.smk), never packed
EXCLUDED_PREFIXES = (".made",)
#: network weights travel back at the smoke scale only (the .gitignore policy)
WEIGHT_SUFFIX = ".pt"
#: what one command of the device tool may send: the working tree and the paths it carries
TRANSFER_LIMIT = 64 * 2**20
CARRY = ".carry"
#: the payload: wheels the GPU image lacks, and the offline data that is not rebuilt there
PAYLOAD_SOURCES = (".whl", "data/fashion-mnist")
#: never copied into the work folder: the payload's sources, the device tool's and git's own
WORK_SKIP = {".git", CARRY, ".whl", ".gl", "data", ".snakemake", ".venv", "__pycache__"}


def stage_root() -> Path:
    return Path(os.environ.get("SINKGAN_STAGE", "/tmp/sinkgan-stage"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- here: the payload
def tree_bytes(root: Path = ROOT) -> int:
    """Bytes of the working tree as the device tool sends it: tracked files and untracked files
    git does not ignore."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                           capture_output=True, check=True).stdout.split(b"\0")
    return sum((root / n.decode()).stat().st_size for n in names if n and (root / n.decode()).is_file())


def prepare(root: Path = ROOT, part_bytes: int | None = None, margin: int = 6 * 2**20) -> list[Path]:
    """Pack :data:`PAYLOAD_SOURCES` into one tar and split it into ``.carry/partNN/`` folders of at
    most ``part_bytes`` (default: what one command may send beside the working tree, less
    ``margin`` for the results that accumulate), each with ``payload.json`` (every part's SHA-256
    and the whole payload's)."""
    missing = [s for s in PAYLOAD_SOURCES if not (root / s).exists()]
    if missing:
        raise SystemExit(f"prepare: {', '.join(missing)} missing; run `make gpu-prepare` (it downloads and copies them)")
    if part_bytes is None:
        part_bytes = TRANSFER_LIMIT - tree_bytes(root) - margin
        if part_bytes < 2**20:
            raise SystemExit(f"prepare: the working tree leaves {max(part_bytes, 0) / 2**20:.1f} MiB of the "
                             f"{TRANSFER_LIMIT >> 20} MiB a command may send; allowed: at least 1 MiB (make the tree smaller)")
    carry = root / CARRY
    shutil.rmtree(carry, ignore_errors=True)
    carry.mkdir()
    payload = carry / "payload.tar"
    with tarfile.open(payload, "w") as tar:  # uncompressed: wheels and .gz files are compressed already
        for source in PAYLOAD_SOURCES:
            tar.add(root / source, arcname=source)
    digest, size = sha256_file(payload), payload.stat().st_size
    n = -(-size // part_bytes)
    parts, chunks = [], []
    with open(payload, "rb") as f:
        for k in range(n):
            folder = carry / f"part{k + 1:02d}"
            folder.mkdir()
            chunk = folder / f"payload.{k + 1:02d}"
            chunk.write_bytes(f.read(part_bytes))
            chunks.append({"name": chunk.name, "sha256": sha256_file(chunk), "bytes": chunk.stat().st_size})
            parts.append(folder)
    payload.unlink()
    index = {"sha256": digest, "bytes": size, "parts": chunks}
    for folder in parts:
        (folder / "payload.json").write_text(json.dumps(index, indent=1))
    return parts


def session_commands(parts: list[Path], scale: str = "small", budget: int = 560) -> list[tuple[str, str]]:
    """``(carry, command)`` of the device commands of one drawn task (15 minutes of device time: a
    start, one short command per part but the last, then one command of at most 10 minutes that
    stages the last part and runs `session`: the GPU tests, the benchmark, a sitting)."""
    *first, last = parts
    out = [(f"{CARRY}/{part.name}", f"python3 tools/gpu_sitting.py stage {CARRY}/{part.name}") for part in first]
    out.append((f"{CARRY}/{last.name}", f"python3 tools/gpu_sitting.py stage {CARRY}/{last.name} && python3 "
                f'tools/gpu_sitting.py session --scale {scale} --budget {budget} --out "$OUT"   (timeout_s 600; a '
                f"budget that ends inside the task's device time left)"))
    return out


# ----------------------------------------------------------------------------- there: staging
def stage(part: Path, stage_dir: Path | None = None) -> bool:
    """Add one carried part to the stage; once every part is there, check the payload, unpack it
    and install its wheels.  Returns whether the payload is complete."""
    stage_dir = stage_dir or stage_root()
    index = json.loads((part / "payload.json").read_text())
    chunks = stage_dir / "chunks"
    chunks.mkdir(parents=True, exist_ok=True)
    for entry in index["parts"]:
        src = part / entry["name"]
        if src.is_file():
            if sha256_file(src) != entry["sha256"]:
                raise SystemExit(f"stage: {src} does not match its SHA-256 in payload.json (a broken transfer); carry it again")
            shutil.copyfile(src, chunks / entry["name"])
    (stage_dir / "payload.json").write_text(json.dumps(index))
    missing = staged_missing(stage_dir)
    if missing:
        print(f"[gpu_sitting] staged {part.name}; still missing: {', '.join(missing)}", flush=True)
        return False
    payload = stage_dir / "payload.tar"
    with open(payload, "wb") as out:
        for entry in index["parts"]:
            out.write((chunks / entry["name"]).read_bytes())
    if sha256_file(payload) != index["sha256"]:
        payload.unlink()
        raise SystemExit("stage: the joined payload does not match its SHA-256; stage every part again")
    unpacked = stage_dir / "payload"
    shutil.rmtree(unpacked, ignore_errors=True)
    with tarfile.open(payload) as tar:
        tar.extractall(unpacked, filter="data")
    payload.unlink()
    shutil.rmtree(chunks)
    install_wheels(unpacked / ".whl", stage_dir / "site")
    (stage_dir / "READY").write_text(index["sha256"] + "\n")
    print(f"[gpu_sitting] payload complete ({index['bytes'] / 2**20:.0f} MiB), wheels installed in {stage_dir / 'site'}",
          flush=True)
    return True


def staged_missing(stage_dir: Path | None = None) -> list[str]:
    """The payload parts not yet staged (all of them when none was)."""
    stage_dir = stage_dir or stage_root()
    if (stage_dir / "READY").is_file():
        return []
    index_file = stage_dir / "payload.json"
    if not index_file.is_file():
        return ["every part (nothing staged yet)"]
    index = json.loads(index_file.read_text())
    return [e["name"] for e in index["parts"] if not (stage_dir / "chunks" / e["name"]).is_file()]


def install_wheels(wheels: Path, target: Path) -> None:
    """The packages the GPU image lacks, carried as wheels, into ``target``."""
    files = sorted(wheels.glob("*.whl"))
    if files:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                        "--target", str(target), *map(str, files)], check=True)


# ----------------------------------------------------------------------------- there: a sitting
def sync_work(root: Path, work: Path) -> None:
    """Copy the working tree over ``work`` without deleting there: a run unfinished at the end of
    the last sitting keeps its checkpoint, log and weights; results brought back and committed
    here arrive unchanged."""
    def skip(folder, names):
        return [n for n in names if n in WORK_SKIP] if Path(folder) == root else [n for n in names if n == "__pycache__"]

    shutil.copytree(root, work, ignore=skip, dirs_exist_ok=True, symlinks=True)


def finished_files(results: Path) -> list[Path]:
    """The files of every finished run (``summary.json`` present) and the scale's logs, claims and
    manifest, without checkpoints, snapshots, temporaries, locks or job markers (nor weights beyond the smoke
    scale); unfinished runs are left out whole."""
    out = []
    for path in sorted(results.rglob("*")):
        rel = path.relative_to(results)
        if (not path.is_file() or set(rel.parts) & EXCLUDED_DIRS or path.name.endswith(EXCLUDED_SUFFIXES)
                or path.name.startswith(EXCLUDED_PREFIXES)):
            continue
        if path.suffix == WEIGHT_SUFFIX and results.name != "smoke":
            continue
        top = results / rel.parts[0]
        if top.is_dir() and rel.parts[0] not in ("logs", "sing") and not (top / "summary.json").is_file():
            continue  # an unfinished training run
        if rel.parts[0] == "sing" and len(rel.parts) > 2 and not (results / "sing" / rel.parts[1] / "summary.json").is_file():
            continue  # an unfinished SiNG experiment
        out.append(path)
    return out


def pack(results: Path, out_dir: Path, part_mb: float = 15.0) -> list[Path]:
    """``results-<scale>.tar.gz.partNN`` files (each <= ``part_mb`` MiB) of :func:`finished_files`,
    paths relative to the repository (``results/<scale>/...``)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in finished_files(results):
            tar.add(path, arcname=str(Path("results") / results.name / path.relative_to(results)))
    data, size = buf.getvalue(), int(part_mb * 2**20)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    for k in range(0, max(len(data), 1), size):
        part = out_dir / f"results-{results.name}.tar.gz.part{k // size:02d}"
        part.write_bytes(data[k:k + size])
        parts.append(part)
    return parts


def unpack(parts_dir: Path, root: Path = ROOT) -> list[str]:
    """Join ``results-*.tar.gz.partNN`` from ``parts_dir`` and extract them under ``root``; returns
    the extracted names.  Refuses members outside ``results/``."""
    names = []
    for scale_parts in sorted({p.name.rsplit(".part", 1)[0] for p in parts_dir.glob("results-*.tar.gz.part*")}):
        data = b"".join(p.read_bytes() for p in sorted(parts_dir.glob(f"{scale_parts}.part*")))
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = tar.getmembers()
            bad = [m.name for m in members if not m.name.startswith("results/") or ".." in Path(m.name).parts]
            if bad:
                raise SystemExit(f"unpack: refusing members outside results/: {bad[:3]}")
            tar.extractall(root, members=members, filter="data")
            names += [m.name for m in members]
    if not names:
        raise SystemExit(f"unpack: no results-*.tar.gz.partNN files in {parts_dir}")
    return names


def work_folder(command: str, jobs: int = 1) -> tuple[Path, dict]:
    """The staged work folder, brought up to date with the working tree, and the environment that
    runs the package there (the payload's wheels, ``python`` on PATH); refuses while the payload
    is incomplete."""
    stage_dir = stage_root()
    missing = staged_missing(stage_dir)
    if missing:
        raise SystemExit(f"{command}: the payload is not complete on this machine (missing: {', '.join(missing)}); run "
                         f"`python3 tools/gpu_sitting.py stage .carry/partNN` for each part first (`make gpu-prepare` "
                         f"made them here)")
    work = stage_dir / "work"
    sync_work(ROOT, work)
    payload_data = stage_dir / "payload" / "data"
    for src in payload_data.rglob("*"):
        dst = work / "data" / src.relative_to(payload_data)
        if src.is_file() and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    site, shims = stage_dir / "site", stage_dir / "bin"
    shims.mkdir(exist_ok=True)
    python = shims / "python"  # the rules call `python`; the image may name its interpreter python3 only
    if not python.exists():
        python.symlink_to(sys.executable)
    env = dict(os.environ, PYTHONUNBUFFERED="1", SINKGAN_GPU_JOBS=str(jobs),  # recorded in each summary
               PYTHONPATH=os.pathsep.join([str(site), str(work / "code"), os.environ.get("PYTHONPATH", "")]),
               PATH=os.pathsep.join([str(shims), str(site / "bin"), os.environ.get("PATH", "")]))
    return work, env


#: seconds one concurrency row of the benchmark takes on a GPU (30 s start-up, a 20 s window, exit)
CONCURRENCY_ROW_S = 60
#: what `check` runs on the GPU: the fused kernels against the torch path, every mode a sitting
#: may train in (captured, fused, both) through the training loop and a resume, against eager, and
#: bf16 autocast on CUDA against float32
GPU_TESTS = ("tests/test_sinkhorn_fused.py", "tests/test_compile.py",
             "tests/test_autocast.py::test_bf16_on_cuda_follows_float32_with_either_sinkhorn")
#: where `check` leaves its verdict on the GPU machine, for `speed` to read
CHECKED = "gpu-tests.json"


def check(out: Path, budget: float = 540) -> int:
    """The GPU tests of a session (:data:`GPU_TESTS`, stopped after ``budget`` seconds) into
    ``out/gpu-tests.log``; the verdict is also kept on the machine (:data:`CHECKED`) for `speed`."""
    work, env = work_folder("check")
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "gpu-tests.log", "w") as log:
        try:
            rc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *GPU_TESTS], cwd=work,
                                env=env, stdout=log, stderr=subprocess.STDOUT, timeout=budget).returncode
        except subprocess.TimeoutExpired:
            rc = 124
            log.write(f"\n[gpu_sitting] stopped after {budget:.0f} s\n")
    (stage_root() / CHECKED).write_text(json.dumps({"exit": rc, "tests": list(GPU_TESTS)}))
    print(f"[gpu_sitting] GPU tests exit {rc} ({'passed' if rc == 0 else 'FAILED'}; log in {out / 'gpu-tests.log'})",
          flush=True)
    return rc


def speed(out: Path, jobs: str = "1,4", budget: float = 540) -> int:
    """The speed checks of a GPU session, into ``out``, within ``budget`` seconds (one device
    command): ``sinkgan bench`` with what is left after the concurrency rows (``bench.json``, to
    commit as results/bench/<device>.json; rows it has no time for say so), then the concurrency
    table (``bench-concurrency.json``); then whether the sittings may train in the fastest mode,
    from `check`'s verdict."""
    start = time.monotonic()
    work, env = work_folder("speed")
    out.mkdir(parents=True, exist_ok=True)
    bench = [sys.executable, "-m", "sinkgan", "bench"]
    rows = len([k for k in jobs.split(",") if k.strip()])
    left = budget - (time.monotonic() - start) - rows * CONCURRENCY_ROW_S
    bench_budget = max(30, int(left - 90))  # the row under way when the budget runs out may compile (~1 min)
    rc = subprocess.run([*bench, "--budget", str(bench_budget), "--out", str(out / "bench.json")], cwd=work,
                        env=env).returncode
    if rows:
        rc = rc or subprocess.run([*bench, "--only", "concurrency", "--concurrency", jobs,
                                   "--out", str(out / "bench-concurrency.json")], cwd=work, env=env).returncode
    checked = stage_root() / CHECKED
    verdict = json.loads(checked.read_text())["exit"] if checked.is_file() else None
    if verdict == 0:
        print("[gpu_sitting] `check` passed: the sittings may train in the fastest mode the benchmark names above: "
              "python3 tools/gpu_sitting.py run ... --set '<its train_set>'", flush=True)
    else:
        print(f"[gpu_sitting] `check` {'has not run' if verdict is None else 'FAILED'}: train with the defaults "
              f"(no --set)", flush=True)
    return rc


#: `session`'s default split of one device command (seconds): the GPU tests, then the benchmark
#: (no concurrency table), then a sitting with what is left
SESSION_CHECK_S, SESSION_SPEED_S = 180, 240


def fastest_train_set(bench_json: Path) -> list[str]:
    """The ``train_set`` of the fastest float32 mode in ``bench_json`` for the ResNet (the network of
    most of the study's runs; the DCGAN's where no ResNet row was timed); none where no row was or
    the defaults are fastest."""
    if str(ROOT / "code") not in sys.path:
        sys.path.insert(0, str(ROOT / "code"))  # the package of this tree (the work folder holds a copy of it)
    from sinkgan.bench import fastest, train_set_of

    result = json.loads(bench_json.read_text()) if bench_json.is_file() else {}
    best = fastest(result)
    row = best.get("resnet (m=64)") or best.get("dcgan-mnist (m=100)")
    chosen = train_set_of(result, row) if row else ""
    return [chosen] if chosen else []


def session(scale: str, budget: float, out: Path, jobs: int = 4, grace: float = 60, part_mb: float = 15.0,
            check_s: float = SESSION_CHECK_S, speed_s: float = SESSION_SPEED_S) -> int:
    """A drawn task's GPU work in one device command (its 15 minutes of device time hold a start,
    the staging commands and one command of at most 10 minutes): `check` for ``check_s`` seconds,
    `speed` (the benchmark, no concurrency table) for ``speed_s``, then a sitting (`run`) with what
    is left of ``budget``, in the fastest mode of the benchmark if `check` passed, else eager."""
    start = time.monotonic()
    passed = check(out, check_s) == 0
    speed(out, jobs="", budget=speed_s)
    chosen = fastest_train_set(out / "bench.json") if passed else []
    print(f"[gpu_sitting] session: the sitting trains {'with train_set=' + chosen[0] if chosen else 'eager'} "
          f"({'check passed' if passed else 'check failed: eager'})", flush=True)
    left = budget - (time.monotonic() - start)
    if left <= grace + 30:
        print(f"[gpu_sitting] session: {left:.0f} s left, too little for a sitting", flush=True)
        return 0 if passed else 1
    rc = run(scale, left, grace, jobs, out, part_mb, chosen)
    return rc if passed else (rc or 1)


def run(scale: str, budget: float, grace: float, jobs: int, out: Path, part_mb: float, train_set: list[str] = ()) -> int:
    start = time.monotonic()
    work, env = work_folder("run", jobs)
    limit = max(30, int(budget - grace - (time.monotonic() - start)))
    cmd = ["timeout", "--signal=TERM", "--kill-after=60", str(limit), sys.executable, "-m", "snakemake", "all",
           "--cores", str(os.cpu_count() or 1), "--resources", f"gpu={jobs}", "--keep-going", "--rerun-incomplete",
           "--config", f"scale={scale}"]
    if train_set:  # how the runs compute (the DAG checks it before any job: sinkgan.config.HOW_NOT_WHAT)
        cmd.append(f"train_set={' '.join(train_set)}")
    print("[gpu_sitting] " + " ".join(cmd), flush=True)
    rc = subprocess.run(cmd, cwd=work, env=env).returncode
    # the manifest of the scale as it stands (the DAG writes it only once every run has finished)
    subprocess.run([sys.executable, "-m", "sinkgan", "study", "manifest", "--scale", scale], cwd=work, env=env,
                   stdout=subprocess.DEVNULL)
    parts = pack(work / "results" / scale, out, part_mb)
    finished = sum(1 for p in (work / "results" / scale).glob("*/summary.json"))
    print(f"[gpu_sitting] snakemake exit {rc} ({'time budget reached' if rc == 124 else 'done'}); {finished} finished "
          f"runs packed into {len(parts)} part(s) in {out} after {time.monotonic() - start:.0f} s", flush=True)
    return 0 if rc in (0, 124) else rc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/gpu_sitting.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("prepare", help="here: split .whl/ and data/fashion-mnist/ into .carry/partNN/ and print the session")
    q.add_argument("--scale", default="small", help="the scale the printed session trains (default small)")
    c = sub.add_parser("check", help="there: the fused kernels' and every GPU training mode's tests on the GPU")
    c.add_argument("--out", type=Path, required=True, help="folder for the log (the device's $OUT)")
    c.add_argument("--budget", type=float, default=540, help="seconds the tests may take (default 540)")
    v = sub.add_parser("speed", help="there: the benchmark and the concurrency table (after `check`)")
    v.add_argument("--out", type=Path, required=True, help="folder for the logs and JSON (the device's $OUT)")
    v.add_argument("--concurrency", default="1,4", help="training jobs at once to time (default 1,4; about a minute each)")
    v.add_argument("--budget", type=float, default=540, help="seconds the whole command may take (default 540)")
    n = sub.add_parser("session", help="there: check, speed, then a sitting in the fastest checked mode, in one command")
    n.add_argument("--scale", default="small", help="the scale to train (default small)")
    n.add_argument("--budget", type=float, default=560, help="seconds the whole command may take (default 560)")
    n.add_argument("--check-s", type=float, default=SESSION_CHECK_S, help=f"seconds for the GPU tests (default {SESSION_CHECK_S})")
    n.add_argument("--speed-s", type=float, default=SESSION_SPEED_S, help=f"seconds for the benchmark (default {SESSION_SPEED_S})")
    n.add_argument("--jobs", type=int, default=4, help="training jobs sharing the GPU at once (default 4)")
    n.add_argument("--out", type=Path, required=True, help="folder for logs, the benchmark and the packed parts ($OUT)")
    s = sub.add_parser("stage", help="there: add one carried part; the last one unpacks the payload and installs it")
    s.add_argument("part", type=Path, help="a folder .carry/partNN (carried by this command)")
    r = sub.add_parser("run", help="there: one sitting: the DAG for --budget seconds, then pack what finished")
    r.add_argument("--scale", default="small", help="the scale to train (default small)")
    r.add_argument("--budget", type=float, default=540, help="seconds this sitting may take in all (default 540)")
    r.add_argument("--grace", type=float, default=60, help="seconds kept for stopping and packing (default 60)")
    r.add_argument("--jobs", type=int, default=4, help="training jobs sharing the GPU at once (default 4)")
    r.add_argument("--out", type=Path, required=True, help="folder for the packed parts (the device's $OUT)")
    r.add_argument("--part-mb", type=float, default=15.0, help="largest part in MiB (default 15)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="how every run computes, e.g. --set compile=reduce-overhead --set backend=auto once `speed` has "
                        "passed its GPU tests (backend, compile, memory_format only; snakemake --config train_set)")
    p = sub.add_parser("pack", help="pack the finished results of a scale (as `run` does at its end)")
    p.add_argument("--scale", default="small")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--part-mb", type=float, default=15.0)
    u = sub.add_parser("unpack", help="here: extract returned parts into results/<scale>/")
    u.add_argument("parts_dir", type=Path)
    a = ap.parse_args(argv)
    if a.cmd in ("run", "pack") and not a.part_mb > 0:
        ap.error(f"--part-mb {a.part_mb} is out of range; allowed (0, inf)")
    if a.cmd == "prepare":
        parts = prepare()
        sizes = ", ".join(f"{sum(f.stat().st_size for f in p.iterdir()) / 2**20:.1f}" for p in parts)
        print(f"payload in {len(parts)} part(s) of {sizes} MiB beside a working tree of {tree_bytes() / 2**20:.1f} MiB "
              f"(limit {TRANSFER_LIMIT >> 20} MiB a command). One device command each, back to back (the machine "
              f"stays the same only if the next command follows within its idle time):")
        for k, (carry, cmd) in enumerate(session_commands(parts, a.scale), 1):
            print(f"  {k}. carry [{carry}]: {cmd}" if carry else f"  {k}. {cmd}")
        print("  after each sitting, here: python3 tools/gpu_sitting.py unpack <the returned files' folder>")
        return 0
    if a.cmd == "stage":
        stage(a.part)
        return 0
    if a.cmd == "check":
        return check(a.out, a.budget)
    if a.cmd == "speed":
        return speed(a.out, a.concurrency, a.budget)
    if a.cmd == "session":
        if a.jobs < 1 or not a.budget > a.check_s + a.speed_s or min(a.check_s, a.speed_s) <= 0:
            ap.error("--jobs must be >= 1, --check-s and --speed-s > 0 and --budget > --check-s + --speed-s")
        return session(a.scale, a.budget, a.out, a.jobs, check_s=a.check_s, speed_s=a.speed_s)
    if a.cmd == "run":
        if a.jobs < 1 or not a.budget > a.grace >= 0:
            ap.error("--jobs must be >= 1 and --budget > --grace >= 0")
        return run(a.scale, a.budget, a.grace, a.jobs, a.out, a.part_mb, a.set)
    if a.cmd == "pack":
        parts = pack(ROOT / "results" / a.scale, a.out, a.part_mb)
        print(f"packed {len(finished_files(ROOT / 'results' / a.scale))} files into {len(parts)} part(s) in {a.out}")
        return 0
    names = unpack(a.parts_dir)
    print(f"unpacked {len(names)} files; commit results/ to keep them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
