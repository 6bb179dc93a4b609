r"""``sinkgan bench``: how fast one training iteration and one Sinkhorn divergence are, here.

Two tables, written to ``results/bench/<device-name>.json`` and printed:

* **training iteration** (Algorithm 1: ``n_critic`` critic steps and one generator step, paper
  size): the MNIST DCGAN (Table 2, m = 100) and the ResNet (Table 3, m = 64) settings, in each
  mode of :data:`MODES`: eager (in the device's default ``memory_format`` and in the other
  layout), compiled (``compile=default``; the first call, which compiles, is reported apart) and,
  on CUDA only, captured (``compile=reduce-overhead``: CUDA graphs), fused (``backend=fused``) and
  both; in float32 and, on CUDA, TF32.  A mode that fails is a row saying why.  Beside each time: the
  iteration's FLOP (its convolutions and matrix products, counted by ``torch.utils.flop_counter``)
  and the time that arithmetic takes at this device's measured dense float32 matmul rate: an
  iteration near 100% of that rate is bound by its arithmetic, not by overheads, so no faster
  implementation of the same float32 arithmetic can gain much more (oneDNN's convolutions may
  slightly beat the square-matmul rate).
* **S_eps forward + backward** (eq. 5, d = 64, eps = 0.1, L = 10, p = 2) for
  n in {100, 1024, 4096}: this package's torch and fused backends beside GeomLoss
  (``SamplesLoss("sinkhorn")``: its own eps-scaling schedule, not L fixed iterations) and POT
  (``ot.sinkhorn2(method="sinkhorn_log", numItermax=L)``, three calls), in the same run.

``--concurrency 1,2,4,8`` adds a third: the aggregate DCGAN iterations per second of K training
processes sharing the device at once (the study's runs are independent; ``--resources gpu=K``).

Every figure is the median of ``repeats`` timed calls after ``warmup`` calls (CUDA is
synchronised around each call).  ``--quick`` uses fewer repeats and drops n = 4096 (for CPUs).
``--modes``/``--precisions`` time a subset; ``--budget S`` starts no row after S seconds (a row
left out says so).  The S_eps table is timed first, then the training rows a mode at a time for
both networks (float32 first; on CUDA the modes a training job would choose between first), and
the JSON is rewritten after every row, so a benchmark stopped at a time limit keeps what it timed.
Timings are benchmark figures, not tests.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

import torch

from .atomic import atomic_write_text
from .config import CUDA_ONLY, MODES, PRECISIONS, TrainConfig, resolve_memory_format, validate
from .cost import bench_device_type
from .provenance import device_name, provenance, repo_root

SETTINGS = {"dcgan-mnist (m=100)": dict(arch="dcgan", batch_size=100), "resnet (m=64)": dict(arch="resnet", batch_size=64)}
SIZES = (100, 1024, 4096)
#: the images the training rows draw batches from (offline everywhere; the timings and FLOP of a
#: paper-size iteration do not depend on them), recorded in the JSON
BENCH_DATASET = "digits"
#: what the ``gflop`` and ``at_matmul_rate_s`` of a training row count (recorded in the JSON)
FLOP_COUNT = ("torch.utils.flop_counter over one iteration: convolutions and matrix products, forward and backward; "
              "elementwise work (log-sum-exp, batch norm, the optimiser) is not counted. at_matmul_rate_s = that FLOP at "
              "this device's dense matmul rate in the row's precision (matmul_flop_per_s; bf16: bfloat16 operands); "
              "fraction_of_matmul_rate = at_matmul_rate_s / "
              "median_s, the iteration's FLOP/s over the matmul's")
D, EPS, L = 64, 0.1, 10


def timed(fn, device: torch.device, repeats: int, warmup: int) -> dict:
    """Median (and min, max) seconds of ``repeats`` calls of ``fn`` after ``warmup`` calls."""
    def once() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - t

    first = [once() for _ in range(warmup)]
    times = [once() for _ in range(repeats)]
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "repeats": repeats,
            "first_call_s": first[0] if first else None}


#: on CUDA, the modes a training job would choose between come first (a budget may cut the rest)
CUDA_ORDER = ("eager", "fused", "captured", "fused+captured", "compiled")


def switches_of(mode: str, layout: str, device_type: str) -> dict:
    """The config switches that train in ``mode`` with ``layout`` on ``device_type`` (the layout
    only where it is not what ``memory_format=auto`` gives there)."""
    return {**MODES[mode], **({} if layout == resolve_memory_format("auto", device_type) else {"memory_format": layout})}


def training_modes(device_type: str) -> list[tuple[str, dict, str]]:
    """``(mode, config overrides, memory_format)`` of the timed training rows, in the order they are
    timed: every mode of :data:`MODES` in the device's default layout (``memory_format=auto``), and
    eager in the other layout (second on CPU, where it is the comparison; last on CUDA)."""
    default = resolve_memory_format("auto", device_type)
    other = ("eager", {}, "contiguous" if default == "channels_last" else "channels_last")
    if device_type == "cuda":
        return [(mode, MODES[mode], default) for mode in CUDA_ORDER] + [other]
    rows = [(mode, over, default) for mode, over in MODES.items()]
    return rows[:1] + [other] + rows[1:]


def iteration_flop(shape: dict, device: torch.device) -> float:
    """Floating-point operations of one training iteration (Algorithm 1) of ``shape`` on ``device``,
    counted by ``torch.utils.flop_counter``: its convolutions and matrix products, forward and
    backward (the elementwise work is not counted: log-sum-exp, batch norm, the optimiser)."""
    from torch.utils.flop_counter import FlopCounterMode

    from .train import Trainer

    trainer = Trainer(validate(TrainConfig, {"dataset": BENCH_DATASET, "device": device.type, **shape}), device)
    with FlopCounterMode(display=False) as counter:
        trainer.step()
    return float(counter.get_total_flops())


def matmul_rate(device: torch.device, precision: str, repeats: int, warmup: int) -> float:
    """FLOP/s of a square matrix product (n = 2048 on CPU, 8192 on CUDA) in ``precision`` (fp32;
    tf32: float32 with TF32 allowed; bf16: bfloat16 operands) on ``device``: the yardstick of the
    training rows' arithmetic."""
    n = 8192 if device.type == "cuda" else 2048
    g = torch.Generator(device="cpu").manual_seed(0)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = (torch.randn(n, n, generator=g).to(device, dtype) for _ in range(2))
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    try:
        t = timed(lambda: a @ b, device, repeats, warmup)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
    return 2 * n ** 3 / t["median_s"]


def default_precisions(device: torch.device) -> tuple[str, ...]:
    """The precisions timed by default: float32, TF32 on CUDA, and bfloat16 autocast of the networks
    (``TrainConfig.autocast``)."""
    return tuple(PRECISIONS) if device.type == "cuda" else ("fp32", "bf16")


class Budget:
    """A wall-clock budget for the benchmark (``--budget``; 0 = none): rows not started in time
    are rows saying so, so that a bounded command (a borrowed GPU's 10 minutes) still writes a table."""

    def __init__(self, seconds: float = 0.0):
        self.seconds, self.start = seconds, time.monotonic()

    def spent(self) -> bool:
        return bool(self.seconds) and time.monotonic() - self.start >= self.seconds

    def skipped(self) -> str:
        return f"not timed: the benchmark's time budget of {self.seconds:.0f} s was spent"


def training_rows(device: torch.device, repeats: int, warmup: int, rates: dict | None = None,
                  precisions=None, modes=None, budget: Budget | None = None, on_row=None) -> list[dict]:
    """One row per precision, setting and :func:`training_modes` entry (``modes``: only these), the
    float32 rows first: the median iteration time and, with ``rates`` (precision -> matmul FLOP/s),
    the iteration's FLOP, the time that arithmetic takes at the matmul rate, and the fraction of
    that rate the iteration reaches.  ``on_row(rows)`` after each row (the caller saves them)."""
    from .train import Trainer

    rows, flops = [], {}
    budget = budget or Budget()
    for precision in precisions or default_precisions(device):
        for mode, over, layout in training_modes(device.type):  # a mode for both networks, then the next
            if modes and mode not in modes:
                continue
            for setting, shape in SETTINGS.items():
                if setting not in flops:
                    flops[setting] = iteration_flop(shape, device)
                flop = flops[setting]
                row = {"setting": setting, "precision": precision, "mode": mode, "memory_format": layout,
                       "switches": switches_of(mode, layout, device.type), "gflop": flop / 1e9}
                if mode in CUDA_ONLY and device.type != "cuda":
                    row["skipped"] = "CUDA only (the fused kernels run in Triton, CUDA graphs on a GPU)"
                elif budget.spent():
                    row["skipped"] = budget.skipped()
                else:
                    cfg = validate(TrainConfig, {"dataset": BENCH_DATASET, "device": device.type, **PRECISIONS[precision],
                                                 "memory_format": layout, **shape, **over})
                    try:
                        trainer = Trainer(cfg, device)
                        row.update(timed(trainer.step, device, repeats, warmup))
                    except Exception as err:  # a benchmark reports a mode that fails here; it does not stop
                        row["skipped"] = f"failed: {type(err).__name__}: {str(err).strip()[:300]}"
                if "median_s" in row and rates and precision in rates:
                    row["at_matmul_rate_s"] = flop / rates[precision]
                    row["fraction_of_matmul_rate"] = row["at_matmul_rate_s"] / row["median_s"]
                base = next((r for r in rows if r["precision"] == "fp32" and "median_s" in r and
                             (r["setting"], r["mode"], r["memory_format"]) == (setting, mode, layout)), None)
                if base and "median_s" in row:  # side by side, in this run
                    row["speedup_vs_fp32"] = base["median_s"] / row["median_s"]
                rows.append(row)
                shown = f"{row['median_s'] * 1e3:10.1f} ms" if "median_s" in row else row["skipped"][:60]
                print(f"  {setting:<20} {precision:<5} {mode:<14} {layout:<14} {shown}", flush=True)
                if on_row:
                    on_row(rows)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    return rows


def _implementations(device: torch.device, n: int) -> dict:
    """name -> (x, y) -> S_eps; a library that is not installed here maps to the reason (a string)."""
    from .sinkhorn import sinkhorn_divergence

    impls = {"torch": lambda x, y: sinkhorn_divergence(x, y, EPS, n_iter=L)}
    if device.type == "cuda":
        impls["fused"] = lambda x, y: sinkhorn_divergence(x, y, EPS, n_iter=L, backend="fused")
    try:
        from geomloss import SamplesLoss

        # GeomLoss's cost is |x-y|^2 / 2 and its blur is eps^(1/p): blur = sqrt(eps) on C / 2
        geom = SamplesLoss("sinkhorn", p=2, blur=(EPS / 2) ** 0.5, debias=True)
        impls["geomloss"] = geom
    except ImportError:
        impls["geomloss"] = "geomloss is not installed here"
    try:
        import ot

        def pot(x, y):
            def w(a, b):
                M = torch.cdist(a, b) ** 2
                u = torch.full((a.shape[0],), 1 / a.shape[0], device=a.device, dtype=a.dtype)
                v = torch.full((b.shape[0],), 1 / b.shape[0], device=b.device, dtype=b.dtype)
                return ot.sinkhorn2(u, v, M, EPS, method="sinkhorn_log", numItermax=L, stopThr=0.0)
            return w(x, y) - 0.5 * (w(x, x) + w(y, y))
        impls["pot"] = pot
    except ImportError:
        impls["pot"] = "POT (ot) is not installed here"
    return impls


def fused_max_points() -> int:
    """The largest problem of the fused kernels (imported only where they run: it needs triton)."""
    from .sinkhorn_fused import MAX_POINTS

    return MAX_POINTS


def divergence_rows(device: torch.device, sizes, repeats: int, warmup: int, budget: Budget | None = None,
                    on_row=None) -> list[dict]:
    rows = []
    budget = budget or Budget()
    g = torch.Generator(device="cpu").manual_seed(0)
    for n in sizes:
        x0 = torch.randn(n, D, generator=g).to(device)
        y0 = torch.randn(n, D, generator=g).to(device)
        for name, fn in _implementations(device, n).items():
            row = {"n": n, "d": D, "eps": EPS, "n_iter": L, "impl": name}
            if isinstance(fn, str):
                row["skipped"] = fn
            elif budget.spent():
                row["skipped"] = budget.skipped()
            elif name == "fused" and n > (most := fused_max_points()):
                row["skipped"] = f"n > {most}: the fused kernels hold one problem in one tile"
            else:
                x = x0.clone().requires_grad_()

                def call():
                    fn(x, y0).backward()
                try:
                    row.update(timed(call, device, repeats, warmup))
                    print(f"  n={n:<5} {name:<9} {row['median_s'] * 1e3:10.2f} ms", flush=True)
                except (RuntimeError, MemoryError) as err:  # e.g. out of memory at n = 4096 on a small device
                    row["skipped"] = f"{type(err).__name__}: {str(err)[:200]}"
            rows.append(row)
            if on_row:
                on_row(rows)
    return rows


#: the DCGAN setting of the concurrency table (jobs sharing one device)
CONCURRENT_SETTING = dict(arch="dcgan", batch_size=100)


def concurrency_rows(device: torch.device, jobs=(1, 2, 4, 8), seconds: float = 20.0, setting: dict | None = None,
                     startup_s: float = 60.0) -> list[dict]:
    """Aggregate training iterations per second with ``k`` processes training at once on one
    device (the study's independent runs sharing a GPU, ``--resources gpu=k``), for each ``k`` in
    ``jobs``.  Each worker builds its trainer, warms up, waits for a common start time (``startup_s``
    after launch), then counts the iterations it finishes in ``seconds``."""
    import subprocess
    import sys

    setting = {**CONCURRENT_SETTING, **(setting or {})}
    rows = []
    for k in jobs:
        start_at = time.time() + startup_s
        argv = [sys.executable, "-m", "sinkgan", "bench", "--worker", json.dumps(setting), "--device", device.type,
                "--worker-start", str(start_at), "--worker-seconds", str(seconds)]
        procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(k)]
        outs = [p.communicate()[0] for p in procs]
        if any(p.returncode for p in procs):
            rows.append({"jobs": k, "skipped": f"a worker failed (exit {[p.returncode for p in procs]})"})
            continue
        counts = [json.loads(o.strip().splitlines()[-1]) for o in outs]
        late = sum(c["late"] for c in counts)
        rate = sum(c["iterations"] / c["seconds"] for c in counts)
        rows.append({"jobs": k, "iterations_per_s": rate, "per_job_iterations_per_s": rate / k,
                     "seconds": seconds, "late_workers": late, "setting": setting})
        print(f"  {k} job(s) at once: {rate:8.2f} it/s in all ({rate / k:.2f} each)", flush=True)
    return with_speedups(rows)


def with_speedups(rows: list[dict]) -> list[dict]:
    """Add ``speedup_vs_one_job`` (aggregate it/s over the one-job row's) to every measured row;
    ``None`` where no one-job row was measured (not asked for, or its worker failed)."""
    one = next((r["iterations_per_s"] for r in rows if r["jobs"] == 1 and "iterations_per_s" in r), None)
    return [{**r, "speedup_vs_one_job": r["iterations_per_s"] / one if one else None} if "iterations_per_s" in r else r
            for r in rows]


def _worker(setting: dict, device: str, start_at: float, seconds: float) -> int:
    """One process of :func:`concurrency_rows`: prints ``{"iterations", "seconds", "late"}``."""
    from .train import Trainer

    cfg = validate(TrainConfig, {"dataset": BENCH_DATASET, "device": device, **setting})
    dev = torch.device(device)
    trainer = Trainer(cfg, dev)
    for _ in range(2):
        trainer.step()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    late = time.time() > start_at
    time.sleep(max(0.0, start_at - time.time()))
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        trainer.step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        n += 1
    print(json.dumps({"iterations": n, "seconds": time.perf_counter() - t0, "late": int(late)}), flush=True)
    return 0


def versions() -> dict:
    out = {}
    for mod in ("torch", "triton", "geomloss", "ot", "numpy"):
        try:
            out[mod] = str(__import__(mod).__version__)
        except ImportError:
            out[mod] = None
    return out


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()


def fastest(result: dict, precision: str = "fp32") -> dict:
    """setting -> its fastest timed training row in ``precision``."""
    best: dict = {}
    for r in result.get("training", []):
        if r["precision"] == precision and "median_s" in r and (r["setting"] not in best
                                                                  or r["median_s"] < best[r["setting"]]["median_s"]):
            best[r["setting"]] = r
    return best


def train_set(switches: dict) -> str:
    """``switches`` as the DAG's ``--config train_set=...`` value."""
    return " ".join(f"{k}={v}" for k, v in switches.items())


def train_set_of(result: dict, row: dict) -> str:
    """The ``--config train_set=...`` value that trains in a timed ``row``'s mode and layout on the
    benchmarked device ('' for the defaults)."""
    return train_set(switches_of(row["mode"], row.get("memory_format", "contiguous"), bench_device_type(result)))


def print_table(result: dict) -> None:
    print(f"\n{result['device']}  (median of repeats; ms)")
    for precision, rate in result.get("matmul_flop_per_s", {}).items():
        print(f"dense matmul, {precision}: {rate / 1e9:,.0f} GFLOP/s (the rate of the 'at matmul' column)")
    print(f"{'training iteration':<22}{'prec':<6}{'mode':<16}{'layout':<15}{'ms':>10}{'GFLOP':>8}{'at matmul':>10}"
          f"{'of rate':>9}{'x fp32':>8}")
    for r in result["training"]:
        t = f"{r['median_s'] * 1e3:10.1f}" if "median_s" in r else "   skipped"
        flop = f"{r['gflop']:8.1f}" if "gflop" in r else f"{'':8}"
        at_rate = (f"{r['at_matmul_rate_s'] * 1e3:10.1f}{r['fraction_of_matmul_rate']:9.0%}"
                   if "at_matmul_rate_s" in r else "")
        x_fp32 = f"{r['speedup_vs_fp32']:8.2f}" if "speedup_vs_fp32" in r else ""
        print(f"{r['setting']:<22}{r['precision']:<6}{r['mode']:<16}{r.get('memory_format', 'contiguous'):<15}{t}"
              f"{flop}{at_rate or ' ' * 19}{x_fp32}")
    for setting, r in fastest(result).items():
        chosen = train_set_of(result, r)
        how = f"--config train_set='{chosen}'" if chosen else "the defaults"
        print(f"fastest {setting}, fp32: {r['mode']} ({r['memory_format']}), {r['median_s'] * 1e3:.1f} ms: train with {how}")
    print(f"\n{'S_eps fwd+bwd':<22}{'impl':<10}{'ms':>10}")
    for r in result["divergence"]:
        t = f"{r['median_s'] * 1e3:10.2f}" if "median_s" in r else "   skipped"
        print(f"{'n = ' + str(r['n']):<22}{r['impl']:<10}{t}")
    if result.get("concurrency"):
        print(f"\n{'DCGAN jobs at once':<22}{'it/s in all':>12}{'x one job':>11}")
        for r in result["concurrency"]:
            x = r.get("speedup_vs_one_job")
            line = (f"{r['iterations_per_s']:12.2f}" + (f"{x:11.2f}" if x is not None else f"{'n/a':>11}")
                    if "iterations_per_s" in r else "     skipped")
            print(f"{r['jobs']:<22}{line}")


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``sinkgan bench`` (and ``python -m sinkgan.bench``)."""
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to time (default auto)")
    parser.add_argument("--quick", action="store_true", help="2 repeats after 1 warm-up, n <= 1024 (for CPUs)")
    parser.add_argument("--only", choices=("training", "divergence", "concurrency"), default=None,
                        help="run one of the tables (concurrency: with --concurrency)")
    parser.add_argument("--out", default=None, help="JSON file (default results/bench/<device-name>.json)")
    parser.add_argument("--modes", default="", metavar="MODE,...",
                        help=f"time only these training modes (default all: {', '.join(MODES)})")
    parser.add_argument("--precisions", default="", metavar="P,...", help="fp32, tf32 (CUDA), bf16 (default: fp32 and bf16, and tf32 on CUDA)")
    parser.add_argument("--budget", type=float, default=0.0, metavar="S",
                        help="start no training or S_eps row after S seconds; those rows say so (default 0: no limit)")
    parser.add_argument("--concurrency", default="", metavar="K,K,...",
                        help="also time K DCGAN training processes at once on the device, e.g. 1,2,4,8 (default: not)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # one process of --concurrency
    parser.add_argument("--worker-start", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--worker-seconds", type=float, default=20.0, help=argparse.SUPPRESS)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="sinkgan bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(parser)
    return run(parser.parse_args(argv))


def run(args) -> int:
    """Time what :func:`configure`'s options ask for; write the JSON and print the table."""
    from .train import resolve_device

    if args.worker is not None:
        return _worker(json.loads(args.worker), args.device, args.worker_start, args.worker_seconds)
    try:
        jobs = [int(k) for k in args.concurrency.split(",") if k.strip()]
    except ValueError:
        jobs = [0]
    if any(k < 1 for k in jobs) or (args.only == "concurrency" and not jobs):
        raise SystemExit(f"sinkgan bench: --concurrency {args.concurrency!r}: allowed a comma-separated list of "
                         f"integers >= 1, e.g. 1,2,4,8")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()] if args.modes else None
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()] if args.precisions else None
    bad = [m for m in modes or () if m not in MODES] + [p for p in precisions or () if p not in PRECISIONS]
    if bad or not args.budget >= 0:
        raise SystemExit(f"sinkgan bench: {', '.join(map(repr, bad)) or f'--budget {args.budget}'} out of range; allowed: "
                         f"--modes from {', '.join(MODES)}, --precisions from {', '.join(PRECISIONS)}, --budget >= 0 seconds")
    device = resolve_device(args.device)
    repeats, warmup = (2, 1) if args.quick else (10, 3)
    sizes = SIZES[:2] if args.quick else SIZES
    name = device_name(device)
    print(f"sinkgan bench on {name}", flush=True)
    result = {"device": name, "device_type": device.type, "dataset": BENCH_DATASET, "quick": args.quick,
              "versions": versions(), "provenance": provenance(device), "threads": torch.get_num_threads(),
              "matmul_flop_per_s": {}, "flop_count": FLOP_COUNT, "training": [], "divergence": [], "concurrency": []}
    out = Path(args.out) if args.out else repo_root() / "results" / "bench" / f"{slug(name)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    budget = Budget(args.budget)

    def write():
        atomic_write_text(out, json.dumps(result, indent=2) + "\n")

    def save(table: str):
        """Keep what is timed so far (atomically): a benchmark stopped at a time limit keeps its rows."""
        def on_row(rows):
            result[table] = rows
            write()
        return on_row

    if args.only in (None, "divergence"):  # first: seconds on a GPU, and S_eps has its own targets
        result["divergence"] = divergence_rows(device, sizes, repeats * 2, warmup, budget, on_row=save("divergence"))
    if args.only in (None, "training"):
        precisions = precisions or default_precisions(device)
        result["matmul_flop_per_s"] = {p: matmul_rate(device, p, repeats * 2, warmup) for p in precisions}
        result["training"] = training_rows(device, repeats, warmup, result["matmul_flop_per_s"], precisions, modes,
                                           budget, on_row=save("training"))
    if jobs and args.only in (None, "concurrency"):
        result["concurrency"] = concurrency_rows(device, jobs, startup_s=30.0 if device.type == "cuda" else 60.0)
    write()
    print_table(result)
    print(f"\nwritten {out}")
    return 0
