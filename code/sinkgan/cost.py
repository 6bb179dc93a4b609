r"""What training a scale's study costs on a device, from that device's benchmark (``sinkgan study cost``).

Each training run of the scale costs its iterations times the benchmark's time of one paper-size
iteration of its network (``results/bench/<device>.json``: the row of the mode and precision the
run trains in, :func:`sinkgan.config.mode_of` and :func:`~sinkgan.config.precision_of`), scaled to the run's
mini-batch and number of network passes:

.. math::

    t_\text{run} = T \, t_\text{bench}(\text{arch}) \, \frac{m}{m_\text{bench}} \,
                   \frac{n_\text{critic} + 1}{n_{\text{critic}, \text{bench}} + 1}

(SimSGDA: two passes an iteration instead of :math:`n_\text{critic} + 1`).  The time is taken as
linear in the mini-batch, as the convolutions that dominate an iteration are; the Sinkhorn losses,
quadratic in m, are a small part at the training sizes.  Each run also pays once what its mode's
first benchmarked call took beyond a median one (compilation, CUDA-graph capture): at GPU speeds
a 2,000-iteration run may train in well under a minute, so this start-up can dominate (an upper
bound: a compile cache on disk, shared by the runs' processes, can cut it).  It is an estimate of
training alone, one job at a time; a twin (:mod:`sinkgan.twins`) is copied from the run it trains
the same as, so it costs nothing and is counted apart (``copied``).  Measurements (FID/KID,
tracking), the SiNG experiments and the gain of several jobs sharing a device (``sinkgan bench
--concurrency``) are not in it.
"""
from __future__ import annotations

import json
from pathlib import Path

from .config import mode_of, precision_of, resolve_memory_format

#: the benchmark setting that times each architecture, and its mini-batch
BENCH_SETTINGS = {"dcgan": ("dcgan-mnist (m=100)", 100), "resnet": ("resnet (m=64)", 64)}
#: critic steps of the benchmark's iteration (Algorithm 1 at paper size)
BENCH_N_CRITIC = 10


#: the paper's network widths; the benchmark times these
PAPER_WIDTHS = {"ngf": 64, "ndf": 64}


def bench_device_type(bench: dict) -> str:
    """``cpu`` or ``cuda``: where the benchmark ran (older files name only the device)."""
    return bench.get("device_type") or ("cpu" if str(bench.get("device", "")).startswith("cpu") else "cuda")


def iteration_seconds(bench: dict, arch: str, mode: str, precision: str = "fp32", memory_format: str = "auto") -> float:
    """The benchmark's median time of one paper-size ``arch`` iteration in ``mode``, ``precision``
    and the layout ``memory_format`` resolves to on the benchmarked device (rows of benchmarks
    older than the switch were timed contiguous)."""
    return iteration_row(bench, arch, mode, precision, memory_format)["median_s"]


def startup_seconds(row: dict) -> float:
    """What a run pays once before its iterations run at the median: the benchmark's first call
    less a median one (compilation, CUDA-graph capture); 0 where the row has no first call."""
    first = row.get("first_call_s")
    return max(0.0, first - row["median_s"]) if first is not None else 0.0


def iteration_row(bench: dict, arch: str, mode: str, precision: str = "fp32", memory_format: str = "auto") -> dict:
    """The benchmark's timed row of :func:`iteration_seconds`."""
    setting = BENCH_SETTINGS[arch][0]
    layout = resolve_memory_format(memory_format, bench_device_type(bench))
    rows = [r for r in bench.get("training", []) if r["setting"] == setting and r["precision"] == precision]
    timed = [r for r in rows if r["mode"] == mode and r.get("memory_format", "contiguous") == layout and "median_s" in r]
    if not timed:
        have = sorted({(r["mode"], r["precision"], r.get("memory_format", "contiguous"))
                       for r in bench.get("training", []) if "median_s" in r})
        raise ValueError(f"the benchmark of {bench.get('device', '?')} times no {setting!r} iteration in mode {mode!r}, "
                         f"{precision}, {layout}; timed there: {', '.join(' '.join(h) for h in have) or 'none'}")
    return timed[0]


def passes(cfg) -> int:
    """Network passes of one iteration: n_critic critic steps and a generator step (SimSGDA: both at once)."""
    return 2 if cfg.variant == "simsgda" else cfg.n_critic + 1


def run_seconds(cfg, per_iteration: float) -> float:
    """The estimated training time of one run (module docstring)."""
    m_bench = BENCH_SETTINGS[cfg.arch][1]
    return cfg.iterations * per_iteration * (cfg.batch_size / m_bench) * passes(cfg) / (BENCH_N_CRITIC + 1)


def scale_cost(study, bench: dict, precision: str | None = None, mode: str | None = None) -> dict:
    """Per architecture and mode (and precision, where not fp32): runs, generator iterations,
    estimated hours; and the total.  ``mode``, ``precision``: time every run in this benchmark mode
    or precision (default: the ones each run's config trains in on the benchmarked device,
    :func:`sinkgan.config.mode_of`, :func:`sinkgan.config.precision_of`)."""
    narrowed = sorted({s.run_id for s in study.runs().values()
                       if any(getattr(s.config, k) != v for k, v in PAPER_WIDTHS.items())})
    if narrowed:
        raise ValueError(f"scale {study.scale_name}: {len(narrowed)} runs use networks narrower than the paper's "
                         f"(ngf = ndf = 64), which the benchmark does not time; allowed: scales of paper-size networks "
                         f"(cpu, small, paper)")
    per_arch: dict[str, dict] = {}
    twins = study.twins()
    for run_id, spec in study.runs().items():
        cfg = spec.config
        if run_id in twins:
            continue
        run_mode_ = mode or mode_of(cfg, bench_device_type(bench))
        run_precision = precision or precision_of(cfg)
        timed = iteration_row(bench, cfg.arch, run_mode_, run_precision, cfg.memory_format)
        key = f"{cfg.arch} {run_mode_}" + (f" {run_precision}" if run_precision != "fp32" else "")
        row = per_arch.setdefault(key, {"runs": 0, "iterations": 0, "hours": 0.0, "startup_hours": 0.0,
                                        "mode": run_mode_, "seconds_per_iteration": timed["median_s"]})
        row["runs"] += 1
        row["iterations"] += cfg.iterations
        row["startup_hours"] += startup_seconds(timed) / 3600
        row["hours"] += (run_seconds(cfg, timed["median_s"]) + startup_seconds(timed)) / 3600
    return {"scale": study.scale_name, "device": bench.get("device"), "precision": precision or "each run's own",
            "per_arch": per_arch, "copied": len(twins),
            "hours": sum(r["hours"] for r in per_arch.values()), "runs": sum(r["runs"] for r in per_arch.values())}


def read_bench(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def format_cost(cost: dict) -> str:
    lines = [f"training the {cost['scale']} scale on {cost['device']} ({cost['precision']}), one job at a time "
             f"(an estimate from the benchmark; see sinkgan.cost):"]
    for arch, r in sorted(cost["per_arch"].items()):
        startup = f"; {r['startup_hours'] * 60:,.0f} min of it start-up" if r.get("startup_hours", 0) * 60 >= 0.5 else ""
        lines.append(f"  {arch:<16} {r['runs']:>3} runs  {r['iterations']:>11,} iterations  {r['hours']:>12,.1f} h"
                     f"  ({r['seconds_per_iteration'] * 1e3:.1f} ms a paper-size iteration{startup})")
    lines.append(f"  {'all':<16} {cost['runs']:>3} runs  {'':>22} {cost['hours']:>12,.1f} h")
    if cost.get("copied"):
        lines.append(f"  {'copied':<16} {cost['copied']:>3} runs  (twins: the same training as a run above, "
                     f"copied from it; sinkgan.twins)")
    return "\n".join(lines)
