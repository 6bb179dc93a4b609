"""sinkgan bench: every implementation of the S_eps table is a row, timed or saying why not."""
import json
import sys

import pytest
import torch

from sinkgan import bench


def test_a_reference_library_missing_here_is_a_row_that_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "geomloss", None)  # `import geomloss` now raises ImportError
    rows = bench.divergence_rows(torch.device("cpu"), (8,), repeats=1, warmup=0)
    by_impl = {r["impl"]: r for r in rows}
    assert by_impl["geomloss"] == {"n": 8, "d": bench.D, "eps": bench.EPS, "n_iter": bench.L, "impl": "geomloss",
                                   "skipped": "geomloss is not installed here"}
    assert by_impl["torch"]["median_s"] > 0 and by_impl["pot"]["median_s"] > 0


def test_the_concurrency_table_counts_the_iterations_of_every_job():
    tiny = dict(batch_size=8, ngf=8, ndf=8, critic_dim=16, n_critic=1)
    rows = bench.concurrency_rows(torch.device("cpu"), jobs=(1, 2), seconds=1.5, setting=tiny, startup_s=12)
    assert [r["jobs"] for r in rows] == [1, 2] and rows[0]["speedup_vs_one_job"] == 1.0
    for r in rows:
        assert r["iterations_per_s"] > 0 and r["per_job_iterations_per_s"] == r["iterations_per_s"] / r["jobs"]
        assert r["late_workers"] == 0 and r["setting"]["batch_size"] == 8


def test_speedup_is_over_the_one_job_row_and_absent_without_one():
    """A speed-up is only relative to a measured one-job row: never 1.0 for want of a baseline."""
    measured = lambda k, rate: {"jobs": k, "iterations_per_s": rate}  # noqa: E731
    rows = bench.with_speedups([measured(1, 2.0), measured(2, 3.0), {"jobs": 4, "skipped": "a worker failed"}])
    assert [r.get("speedup_vs_one_job") for r in rows] == [1.0, 1.5, None] and "skipped" in rows[2]
    failed_one = bench.with_speedups([{"jobs": 1, "skipped": "a worker failed"}, measured(2, 3.0)])
    assert failed_one[1]["speedup_vs_one_job"] is None
    assert bench.with_speedups([measured(2, 3.0), measured(4, 5.0)])[0]["speedup_vs_one_job"] is None


def test_concurrency_must_be_a_list_of_positive_integers(capsys):
    for bad in ("0", "1,x", "-2"):
        with pytest.raises(SystemExit, match="--concurrency .*allowed a comma-separated list of integers >= 1"):
            bench.main(["--concurrency", bad, "--only", "divergence"])


def dcgan_iteration_flop(m: int, ngf: int, ndf: int, z_dim: int, critic_dim: int, channels: int, n_critic: int) -> int:
    """FLOP of one SeqSGDA iteration of the DCGAN (Table 2), by hand: 2 * batch * C_in * C_out * k^2 per
    output pixel of a convolution (per input pixel of a transposed one), the same again for each
    gradient the backward pass forms (input, weight)."""
    k2 = 16  # every layer is 4x4
    d = [2 * m * channels * ndf * k2 * 16 * 16, 2 * m * ndf * 2 * ndf * k2 * 8 * 8,      # D: 32 -> 16 -> 8
         2 * m * 2 * ndf * 4 * ndf * k2 * 4 * 4, 2 * m * 4 * ndf * critic_dim * k2]     # -> 4 -> 1 (critic_dim maps)
    g = [2 * m * z_dim * 4 * ngf * k2, 2 * m * 4 * ngf * 2 * ngf * k2 * 4 * 4,          # G: 1 -> 4 -> 8
         2 * m * 2 * ngf * ngf * k2 * 8 * 8, 2 * m * ngf * channels * k2 * 16 * 16]     # -> 16 -> 32 (input pixels)
    D, G = sum(d), sum(g)
    # critic step: G(z) without gradient, D(fake) and D(real), then both D's weight gradients and
    # their input gradients (not of the first layer: the images need none)
    critic = G + 2 * D + 2 * D + 2 * (D - d[0])
    # generator step: G(z), D(fake), D(real) (no gradient: D is frozen); back through D(fake) to the
    # images (input gradients only), then G's weight and input gradients (not into z)
    generator = G + 2 * D + D + G + (G - g[0])
    return n_critic * critic + generator


def test_the_flop_count_of_an_iteration_is_the_dcgan_count_by_hand():
    shape = dict(arch="dcgan", batch_size=6, ngf=4, ndf=8, z_dim=5, critic_dim=7, n_critic=3)
    counted = bench.iteration_flop(shape, torch.device("cpu"))
    assert counted == dcgan_iteration_flop(6, 4, 8, 5, 7, channels=1, n_critic=3)


def test_training_rows_carry_the_flop_the_matmul_rate_time_and_both_layouts(monkeypatch):
    monkeypatch.setattr(bench, "SETTINGS", {"tiny": dict(arch="dcgan", batch_size=8, ngf=4, ndf=4, critic_dim=8, n_critic=1)})
    modes = bench.training_modes("cpu")
    assert [m[0] for m in modes] == ["eager", "eager", "compiled", "captured", "fused", "fused+captured"]
    assert [m[2] for m in modes[:2]] == ["channels_last", "contiguous"]
    monkeypatch.setattr(bench, "training_modes", lambda t: [m for m in modes if m[0] != "compiled"])  # no compiling
    rows = bench.training_rows(torch.device("cpu"), repeats=1, warmup=0, rates={"fp32": 1e9, "bf16": 4e9})
    timed = [r for r in rows if "median_s" in r]
    # float32 rows first, then the networks under bfloat16 autocast (the CPU's default precisions)
    assert [(r["precision"], r["memory_format"]) for r in timed] == [
        ("fp32", "channels_last"), ("fp32", "contiguous"), ("bf16", "channels_last"), ("bf16", "contiguous")]
    assert [r["mode"] for r in rows if "skipped" in r] == ["captured", "fused", "fused+captured"] * 2  # CUDA only
    for r in timed:
        rate = {"fp32": 1.0, "bf16": 4.0}[r["precision"]]  # GFLOP/s
        assert r["gflop"] > 0 and r["at_matmul_rate_s"] == r["gflop"] / rate
        assert r["fraction_of_matmul_rate"] == r["at_matmul_rate_s"] / r["median_s"]
    by = {(r["precision"], r["memory_format"]): r for r in timed}
    for layout in ("channels_last", "contiguous"):  # each bf16 row against its float32 twin, timed in this run
        assert by["bf16", layout]["speedup_vs_fp32"] == by["fp32", layout]["median_s"] / by["bf16", layout]["median_s"]
        assert "speedup_vs_fp32" not in by["fp32", layout]


def test_a_mode_that_fails_is_a_row_saying_why(monkeypatch):
    monkeypatch.setattr(bench, "SETTINGS", {"tiny": dict(arch="dcgan", batch_size=8, ngf=4, ndf=4, critic_dim=8, n_critic=1)})
    monkeypatch.setattr(bench, "training_modes", lambda t: [("eager", {}, "contiguous"), ("compiled", {"compile": "default"}, "contiguous")])

    def broken_compile(self, mode):
        raise RuntimeError("inductor cannot build here")
    monkeypatch.setattr("sinkgan.train.Trainer.compile_steps", broken_compile)
    rows = bench.training_rows(torch.device("cpu"), repeats=1, warmup=0)
    assert rows[0]["median_s"] > 0
    assert rows[1]["skipped"] == "failed: RuntimeError: inductor cannot build here" and "median_s" not in rows[1]


def test_each_mode_is_the_mode_its_switches_train_in():
    from sinkgan.config import MODES, TrainConfig, mode_of, validate

    for mode, switches in MODES.items():
        assert mode_of(validate(TrainConfig, dict(switches)), "cuda") == mode
    auto = validate(TrainConfig, {"backend": "auto", "compile": "reduce-overhead"})
    assert mode_of(auto, "cuda") == "fused+captured" and mode_of(auto, "cpu") == "compiled"


def test_the_fastest_row_of_each_setting_names_the_switches_that_train_that_way():
    row = lambda setting, mode, ms, switches, precision="fp32": {  # noqa: E731
        "setting": setting, "precision": precision, "mode": mode, "median_s": ms / 1e3, "switches": switches}
    result = {"training": [row("a", "eager", 30, {}), row("a", "fused+captured", 9, {"backend": "fused", "compile": "reduce-overhead"}),
                           row("a", "captured", 5, {"compile": "reduce-overhead"}, precision="tf32"),
                           {"setting": "a", "precision": "fp32", "mode": "fused", "skipped": "failed: ..."},
                           row("b", "eager", 12, {}), row("b", "compiled", 15, {"compile": "default"})]}
    best = bench.fastest(result)
    assert {k: r["mode"] for k, r in best.items()} == {"a": "fused+captured", "b": "eager"}
    assert bench.train_set(best["a"]["switches"]) == "backend=fused compile=reduce-overhead"
    assert bench.switches_of("fused+captured", "contiguous", "cuda") == best["a"]["switches"]
    assert bench.switches_of("eager", "contiguous", "cpu") == {"memory_format": "contiguous"}  # not auto's layout there
    assert bench.switches_of("compiled", "channels_last", "cpu") == {"compile": "default"}


TINY_SETTINGS = {"tiny": dict(arch="dcgan", batch_size=8, ngf=4, ndf=4, critic_dim=8, n_critic=1)}


def test_rows_past_the_time_budget_say_so():
    rows = bench.training_rows(torch.device("cpu"), repeats=1, warmup=0, modes=["eager"], budget=bench.Budget(1e-9))
    assert rows and all(r["skipped"].startswith("not timed: the benchmark's time budget") for r in rows)
    assert {r["mode"] for r in rows} == {"eager"}


def test_a_benchmark_stopped_midway_keeps_the_rows_it_timed(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "SETTINGS", TINY_SETTINGS)
    real_timed, calls = bench.timed, []

    def timed_then_stopped(fn, device, repeats, warmup):
        calls.append(1)
        if len(calls) > 2:  # the third timing: the matmul rate, then one training row, then a kill
            raise KeyboardInterrupt
        return real_timed(fn, device, repeats, warmup)
    monkeypatch.setattr(bench, "timed", timed_then_stopped)
    out = tmp_path / "bench.json"
    with pytest.raises(KeyboardInterrupt):
        bench.main(["--device", "cpu", "--quick", "--only", "training", "--modes", "eager", "--precisions", "fp32",
                    "--out", str(out)])
    kept = json.loads(out.read_text())
    assert [(r["mode"], r["memory_format"]) for r in kept["training"]] == [("eager", "channels_last")]
    assert kept["training"][0]["median_s"] > 0 and kept["matmul_flop_per_s"]["fp32"] > 0


def test_modes_precisions_and_budget_are_checked_before_any_timing():
    for argv, bad in ((["--modes", "eager,turbo"], "'turbo'"), (["--precisions", "fp16"], "'fp16'"),
                      (["--budget", "-1"], "--budget -1.0")):
        with pytest.raises(SystemExit, match=f"sinkgan bench: {bad} out of range; allowed: --modes from eager"):
            bench.main(["--only", "training", *argv])
