"""``memory_format=...``: training in channels_last (NHWC) equals training in contiguous (NCHW).

The layout changes only how oneDNN / cuDNN order a convolution's sums, so over three outer
iterations (n_critic = 2) the losses agree to 1e-4 relative and every weight to 1e-5 absolute
(the tolerance of ``tests/test_compile.py``: Adam moves a parameter by at most lr = 1e-4 per update,
so a wrong gradient shows up as a difference of that order); biases whose gradient is zero up to
rounding are held to the bound Adam's steps give them (see the test).
"""
from pathlib import Path

import pytest
import torch
import yaml

from sinkgan.config import ConfigError, TrainConfig, load_config, resolve_memory_format, validate
from sinkgan.train import Trainer, train

TINY = dict(dataset="digits", ngf=8, ndf=8, critic_dim=8, z_dim=8, batch_size=8, n_critic=2, iterations=3,
            log_every=3, sample_every=3, checkpoint_every=3, device="cpu", n_grid=4)


def run(arch: str, memory_format: str, dataset: str = "digits"):
    tr = Trainer(validate(TrainConfig, {**TINY, "arch": arch, "dataset": dataset, "memory_format": memory_format}))
    start = {k: v.detach().clone() for k, v in tr.G.state_dict().items()}
    losses = torch.stack([torch.stack(tr.step()) for _ in range(3)])
    params = {**{"G." + k: v for k, v in tr.G.named_parameters()}, **{"D." + k: v for k, v in tr.D.named_parameters()}}
    return tr, losses, params, start


@pytest.mark.parametrize("arch,dataset", [("dcgan", "digits"), ("resnet", "photos-standin")])
def test_channels_last_steps_equal_contiguous(arch, dataset):
    tr, losses, params, start = run(arch, "channels_last", dataset)
    _, ref_losses, ref_params, _ = run(arch, "contiguous", dataset)
    # the layout did change: every 4-d weight and the images are NHWC, not NCHW (a tensor with one
    # channel or a 1x1 kernel is both at once)
    weights = [p for p in params.values() if p.dim() == 4 and p.shape[1] > 1 and p.shape[2] * p.shape[3] > 1]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                           for p in weights)
    if tr.images.shape[1] > 1:
        assert tr.images.is_contiguous(memory_format=torch.channels_last) and not tr.images.is_contiguous()
    assert torch.allclose(losses, ref_losses, rtol=1e-4, atol=0)
    for name, p in ref_params.items():
        # A bias that batch norm follows, and the critic's last bias (S_eps sees only differences of
        # features), get a gradient that is zero up to rounding; Adam scales that noise to steps of
        # about lr of either sign, so those may differ by 2 lr per update (n_critic + 1 updates of
        # D per iteration bound both players).  Every weight carries a real gradient: 1e-5.
        atol = 2 * 1e-4 * 3 * (TINY["n_critic"] + 1) if name.endswith("bias") else 1e-5
        assert torch.allclose(params[name], p, rtol=0, atol=atol), name
    moved = max((params["G." + k] - v).abs().max().item() for k, v in start.items() if "G." + k in params)
    assert moved > 1e-4  # the steps did move the parameters: the comparison is not vacuous


def test_auto_is_channels_last_on_cpu_and_contiguous_on_cuda():
    assert resolve_memory_format("auto", "cpu") == "channels_last"
    assert resolve_memory_format("auto", "cuda") == "contiguous"
    assert resolve_memory_format("contiguous", "cpu") == "contiguous"
    with pytest.raises(ConfigError, match="memory_format: 'nhwc' is not one of auto, contiguous, channels_last"):
        resolve_memory_format("nhwc", "cpu")
    with pytest.raises(ConfigError, match="memory_format: 'nhwc' is not one of auto, contiguous, channels_last"):
        load_config(None, ["memory_format=nhwc"], check_data=False)


def test_a_run_records_its_layout_and_resumes_in_another(tmp_path):
    out = tmp_path / "run"
    cfg = validate(TrainConfig, {**TINY, "arch": "dcgan", "iterations": 2, "checkpoint_every": 2,
                                 "memory_format": "contiguous"})
    train(cfg, out, progress=False)
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written["memory_format"] == "contiguous" and written["provenance"]["memory_format"] == "contiguous"
    more = validate(TrainConfig, {**cfg.to_dict(), "iterations": 3, "memory_format": "auto"})
    train(more, out, resume=True, progress=False)
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written["memory_format"] == "auto" and written["provenance"]["memory_format"] == "channels_last"
    assert (out / "summary.json").exists()


def test_switches_of_how_a_run_computes_do_not_retrain_a_finished_one():
    """The training rule's rerun trigger (``params``) is ``result_settings()``: changing the layout,
    the Sinkhorn backend or torch.compile leaves it as it is; changing eps does not."""
    import dataclasses

    from sinkgan.config import HOW_NOT_WHAT

    cfg = validate(TrainConfig, {**TINY, "arch": "dcgan"})
    faster = dataclasses.replace(cfg, memory_format="contiguous", backend="auto", compile="default", progress_every_s=5.0)
    assert faster.result_settings() == cfg.result_settings()
    assert dataclasses.replace(cfg, eps=0.5).result_settings() != cfg.result_settings()
    assert set(cfg.to_dict()) - set(cfg.result_settings()) == {*HOW_NOT_WHAT, "progress_every_s"}
    rule = (Path(__file__).parents[1] / "code" / "rules" / "training.smk").read_text()
    assert "config=lambda w: STUDY.runs()[w.run_id].config.result_settings()" in rule


def test_how_not_what_takes_one_string_or_several_items_and_nothing_of_what():
    from sinkgan.config import how_not_what

    want = {"backend": "auto", "compile": "reduce-overhead"}
    assert how_not_what("backend=auto compile=reduce-overhead") == want
    assert how_not_what("backend=auto,compile=reduce-overhead") == want
    assert how_not_what(["backend=auto compile=reduce-overhead"]) == want == how_not_what(["backend=auto", "compile=reduce-overhead"])
    assert how_not_what("") == {} == how_not_what([])
    with pytest.raises(ConfigError, match="--set: 'n_critic' cannot be set here; allowed: backend, compile, memory_format"):
        how_not_what(["n_critic=5"], where="--set")
