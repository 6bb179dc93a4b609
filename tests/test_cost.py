"""sinkgan.cost: a scale's training hours from a device's benchmark (`sinkgan study cost`)."""
import dataclasses

import pytest

from sinkgan.config import TrainConfig, validate
from sinkgan.cost import iteration_seconds, run_seconds, scale_cost
from sinkgan.study import Study


def bench(times: dict) -> dict:
    """A benchmark JSON holding ``{(arch, mode): seconds}`` in fp32, and a skipped row."""
    setting = {"dcgan": "dcgan-mnist (m=100)", "resnet": "resnet (m=64)"}
    rows = [{"setting": setting[arch], "precision": "fp32", "mode": mode, "median_s": s}
            for (arch, mode), s in times.items()]
    rows.append({"setting": setting["dcgan"], "precision": "fp32", "mode": "fused", "skipped": "CUDA only"})
    return {"device": "test device", "training": rows}


def test_a_run_costs_its_iterations_times_the_benchmarked_iteration_scaled_to_its_batch_and_passes():
    cfg = validate(TrainConfig, {"arch": "resnet", "batch_size": 128, "n_critic": 5, "iterations": 1000})
    assert run_seconds(cfg, 0.5) == pytest.approx(1000 * 0.5 * (128 / 64) * (5 + 1) / 11)
    sim = dataclasses.replace(cfg, variant="simsgda")
    assert run_seconds(sim, 0.5) == pytest.approx(1000 * 0.5 * 2 * 2 / 11)


def test_the_cpu_scale_costs_its_dcgan_and_resnet_pairs_of_500_iterations():
    times = {("dcgan", "eager"): 2.0, ("dcgan", "compiled"): 1.0, ("resnet", "eager"): 4.0, ("resnet", "compiled"): 2.0}
    cost = scale_cost(Study.load("cpu"), bench(times))
    # two MNIST runs (m = 100, as benchmarked) and two CelebA runs (m = 100 against the benchmark's 64)
    assert cost["runs"] == 4 and cost["hours"] == pytest.approx((2 * 500 * 2.0 + 2 * 500 * 4.0 * 100 / 64) / 3600)
    assert cost["per_arch"]["dcgan eager"]["iterations"] == 1000  # the runs train eager: compile = none
    assert cost["per_arch"]["resnet eager"]["runs"] == 2
    compiled = scale_cost(Study.load("cpu"), bench(times), mode="compiled")
    assert compiled["hours"] == pytest.approx(cost["hours"] / 2)


def test_a_mode_or_a_scale_the_benchmark_cannot_speak_for_is_refused():
    b = bench({("dcgan", "eager"): 2.0})
    with pytest.raises(ValueError, match="no 'dcgan-mnist \\(m=100\\)' iteration in mode 'compiled'.*timed there: eager fp32"):
        iteration_seconds(b, "dcgan", "compiled")
    with pytest.raises(ValueError, match="scale smoke: .*narrower than the paper's.*allowed: scales of paper-size"):
        scale_cost(Study.load("smoke"), b)


def test_a_run_is_timed_in_the_layout_it_trains_in_on_the_benchmarked_device():
    rows = [{"setting": setting, "precision": "fp32", "mode": "eager", "memory_format": fmt, "median_s": s * factor}
            for setting, factor in (("dcgan-mnist (m=100)", 1), ("resnet (m=64)", 3))
            for fmt, s in (("channels_last", 1.5), ("contiguous", 2.0))]
    cpu = {"device": "cpu (x86_64, 2 cores, 2 threads)", "device_type": "cpu", "training": rows}
    assert iteration_seconds(cpu, "dcgan", "eager") == 1.5  # auto: channels_last on CPU
    assert iteration_seconds(cpu, "dcgan", "eager", memory_format="contiguous") == 2.0
    gpu = {**cpu, "device": "a GPU", "device_type": "cuda"}
    assert iteration_seconds(gpu, "dcgan", "eager") == 2.0  # auto: contiguous on CUDA
    cost = scale_cost(Study.load("cpu"), cpu)
    assert cost["hours"] == pytest.approx((2 * 500 * 1.5 + 2 * 500 * 4.5 * 100 / 64) / 3600)
    with pytest.raises(ValueError, match="in mode 'eager', fp32, channels_last; timed there: eager fp32 contiguous"):
        iteration_seconds({**cpu, "training": rows[1:2]}, "dcgan", "eager")


def test_each_run_pays_its_modes_start_up_once():
    rows = [{"setting": setting, "precision": "fp32", "mode": "compiled", "median_s": 0.01, "first_call_s": 60.01}
            for setting in ("dcgan-mnist (m=100)", "resnet (m=64)")]
    rows += [{"setting": setting, "precision": "fp32", "mode": "eager", "median_s": 0.03, "first_call_s": 0.02}
             for setting in ("dcgan-mnist (m=100)", "resnet (m=64)")]
    gpu = {"device": "a GPU", "device_type": "cuda", "training": rows}
    iterations = 2 * 500 * 0.01 + 2 * 500 * 0.01 * 100 / 64  # two DCGAN runs at m = 100, two ResNet ones
    compiled = scale_cost(Study.load("cpu"), gpu, mode="compiled")
    assert compiled["hours"] == pytest.approx((iterations + 4 * 60.0) / 3600)  # four runs, one compile each
    assert compiled["per_arch"]["dcgan compiled"]["startup_hours"] == pytest.approx(120 / 3600)
    eager = scale_cost(Study.load("cpu"), gpu)
    assert eager["hours"] == pytest.approx(3 * iterations / 3600)  # a first call faster than the median costs nothing


def test_a_run_under_bf16_autocast_is_costed_at_the_benchmarks_bf16_row():
    import yaml
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = yaml.safe_load((root / "config" / "study.yaml").read_text())
    spec["figures"]["fig04"]["runs"][0]["autocast"] = "bf16"  # ours on MNIST; SGD-AutoDiff stays float32
    study = Study(spec, "cpu", root)
    b = bench({("dcgan", "eager"): 2.0, ("resnet", "eager"): 4.0})
    b["training"].append({"setting": "dcgan-mnist (m=100)", "precision": "bf16", "mode": "eager", "median_s": 0.5})
    cost = scale_cost(study, b)
    assert cost["per_arch"]["dcgan eager bf16"] == pytest.approx(
        {"runs": 1, "iterations": 500, "hours": 500 * 0.5 / 3600, "startup_hours": 0.0, "mode": "eager",
         "seconds_per_iteration": 0.5})
    assert cost["per_arch"]["dcgan eager"]["runs"] == 1 and cost["precision"] == "each run's own"
    assert scale_cost(study, b, precision="fp32")["hours"] == pytest.approx(scale_cost(Study.load("cpu"), b)["hours"])
