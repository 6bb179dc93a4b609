#!/usr/bin/env python3
"""Train a scale's study on a borrowed GPU machine in sittings, and bring the finished runs back.

A GPU machine lent for a short while (no internet, each command at most ~10 minutes, a few files
of at most 16 MiB back per command) cannot run a whole scale in one go.  The study's runs are
independent, so it is trained in sittings: each sitting runs the Snakemake DAG for a time budget,
and everything that *finished* (a run with its ``summary.json``, a measurement with its
``quality.json`` or ``tracking/``) is packed and brought back; the next sitting's DAG picks up
what is missing.  Checkpoints and snapshots never travel (too large; unfinished runs restart).

Here (a machine with the internet, before the first sitting)::

    make gpu-prepare            # .whl/ (the packages the GPU image lacks), data/cache/ and data/fashion-mnist/ (the offline data)

On the GPU machine, from the repository root (the working tree travels with .whl/ and data/)::

    python3 tools/gpu_sitting.py run --scale small --budget 540 --jobs 4 --out "$OUT"

Back here::

    python3 tools/gpu_sitting.py unpack /path/to/returned/files     # into results/<scale>/, then commit

``run`` installs the carried wheels (``.whl/``) into a private folder when present, runs
``snakemake all --config scale=<scale>`` with ``--resources gpu=<jobs>`` (several training jobs
share the one GPU) under a time limit that stops it (SIGTERM: training jobs checkpoint and exit)
``--grace`` seconds before the budget, writes ``results/<scale>/MANIFEST`` (every run, finished or
not: ``sinkgan study manifest``), then packs the finished results into ``--out`` as
``results-<scale>.tar.gz.partNN`` files of at most ``--part-mb`` MiB.
"""
from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: never packed: resumable state and bulky intermediates stay on the machine that made them
EXCLUDED_DIRS = {"checkpoints", "snapshots"}
EXCLUDED_SUFFIXES = (".tmp", ".lock")


def finished_files(results: Path) -> list[Path]:
    """The files of every finished run (``summary.json`` present) and the scale's logs and claims,
    without checkpoints, snapshots, temporaries or locks; unfinished runs are left out whole."""
    out = []
    for path in sorted(results.rglob("*")):
        rel = path.relative_to(results)
        if not path.is_file() or set(rel.parts) & EXCLUDED_DIRS or path.name.endswith(EXCLUDED_SUFFIXES):
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


def install_wheels(wheels: Path, target: Path) -> None:
    """The packages the GPU image lacks, carried as wheels (``make gpu-prepare``), into ``target``."""
    files = sorted(wheels.glob("*.whl"))
    if not files:
        return
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                    "--target", str(target), *map(str, files)], check=True)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(target), str(ROOT / "code"), os.environ.get("PYTHONPATH", "")])
    sys.path[:0] = [str(target), str(ROOT / "code")]


def run(scale: str, budget: float, grace: float, jobs: int, out: Path, part_mb: float) -> int:
    start = time.monotonic()
    install_wheels(ROOT / ".whl", Path("/tmp/sinkgan-site"))
    env = dict(os.environ, PYTHONUNBUFFERED="1", SINKGAN_GPU_JOBS=str(jobs))  # recorded in each summary
    limit = max(30, int(budget - grace - (time.monotonic() - start)))
    cmd = ["timeout", "--signal=TERM", "--kill-after=60", str(limit), sys.executable, "-m", "snakemake", "all",
           "--cores", str(os.cpu_count() or 1), "--resources", f"gpu={jobs}", "--keep-going", "--rerun-incomplete",
           "--config", f"scale={scale}"]
    print("[gpu_sitting] " + " ".join(cmd), flush=True)
    rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    # the manifest of the scale as it stands (the DAG writes it only once every run has finished)
    subprocess.run([sys.executable, "-m", "sinkgan", "study", "manifest", "--scale", scale], cwd=ROOT, env=env,
                   stdout=subprocess.DEVNULL)
    parts = pack(ROOT / "results" / scale, out, part_mb)
    finished = sum(1 for p in (ROOT / "results" / scale).glob("*/summary.json"))
    print(f"[gpu_sitting] snakemake exit {rc} ({'time budget reached' if rc == 124 else 'done'}); {finished} finished "
          f"runs packed into {len(parts)} part(s) in {out} after {time.monotonic() - start:.0f} s", flush=True)
    return 0 if rc in (0, 124) else rc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/gpu_sitting.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="one sitting: the DAG for --budget seconds, then pack what finished")
    r.add_argument("--scale", default="small", help="the scale to train (default small)")
    r.add_argument("--budget", type=float, default=540, help="seconds this sitting may take in all (default 540)")
    r.add_argument("--grace", type=float, default=60, help="seconds kept for stopping and packing (default 60)")
    r.add_argument("--jobs", type=int, default=4, help="training jobs sharing the GPU at once (default 4)")
    r.add_argument("--out", type=Path, required=True, help="folder for the packed parts (the device's $OUT)")
    r.add_argument("--part-mb", type=float, default=15.0, help="largest part in MiB (default 15)")
    p = sub.add_parser("pack", help="pack the finished results of a scale (as `run` does at its end)")
    p.add_argument("--scale", default="small")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--part-mb", type=float, default=15.0)
    u = sub.add_parser("unpack", help="extract returned parts into results/<scale>/")
    u.add_argument("parts_dir", type=Path)
    a = ap.parse_args(argv)
    if a.cmd in ("run", "pack") and not a.part_mb > 0:
        ap.error(f"--part-mb {a.part_mb} is out of range; allowed (0, inf)")
    if a.cmd == "run":
        if a.jobs < 1 or not a.budget > a.grace >= 0:
            ap.error("--jobs must be >= 1 and --budget > --grace >= 0")
        return run(a.scale, a.budget, a.grace, a.jobs, a.out, a.part_mb)
    if a.cmd == "pack":
        parts = pack(ROOT / "results" / a.scale, a.out, a.part_mb)
        print(f"packed {len(finished_files(ROOT / 'results' / a.scale))} files into {len(parts)} part(s) in {a.out}")
        return 0
    names = unpack(a.parts_dir)
    print(f"unpacked {len(names)} files; commit results/ to keep them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
