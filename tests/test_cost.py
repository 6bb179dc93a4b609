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


def test_the_cpu_scale_costs_two_runs_of_500_iterations():
    cost = scale_cost(Study.load("cpu"), bench({("dcgan", "eager"): 2.0, ("dcgan", "compiled"): 1.0}))
    assert cost["runs"] == 2 and cost["hours"] == pytest.approx(2 * 500 * 2.0 / 3600)
    assert cost["per_arch"]["dcgan eager"]["iterations"] == 1000  # the runs train eager: compile = none
    compiled = scale_cost(Study.load("cpu"), bench({("dcgan", "eager"): 2.0, ("dcgan", "compiled"): 1.0}), mode="compiled")
    assert compiled["hours"] == pytest.approx(cost["hours"] / 2)


def test_a_mode_or_a_scale_the_benchmark_cannot_speak_for_is_refused():
    b = bench({("dcgan", "eager"): 2.0})
    with pytest.raises(ValueError, match="no 'dcgan-mnist \\(m=100\\)' iteration in mode 'compiled'.*timed there: eager fp32"):
        iteration_seconds(b, "dcgan", "compiled")
    with pytest.raises(ValueError, match="scale smoke: .*narrower than the paper's.*allowed: scales of paper-size"):
        scale_cost(Study.load("smoke"), b)
