"""``compile=...``: the torch.compile'd (inductor, CPU) steps equal the eager steps.

Tolerance: over three outer iterations (n_critic = 2) the losses agree to 1e-4 relative and
every parameter to 1e-5 absolute (inductor reorders float32 sums; Adam moves a parameter by
at most lr = 1e-4 per update, so a wrong gradient shows up as a difference of that order).
"""
import pytest
import torch
import yaml

from sinkgan.config import ConfigError, TrainConfig, load_config, validate
from sinkgan.train import Trainer, train

TINY = dict(dataset="digits", arch="dcgan", ngf=4, ndf=4, critic_dim=8, z_dim=8, batch_size=8, n_critic=2,
            iterations=3, log_every=3, sample_every=3, checkpoint_every=3, device="cpu", n_grid=4)


def run(compile_mode: str):
    tr = Trainer(validate(TrainConfig, {**TINY, "compile": compile_mode}))
    losses = [torch.stack(tr.step()) for _ in range(3)]
    return torch.stack(losses), {**dict(tr.G.named_parameters()), **{"D." + k: v for k, v in tr.D.named_parameters()}}


def test_compiled_steps_equal_eager():
    eager_losses, eager_params = run("none")
    losses, params = run("default")
    assert torch.allclose(losses, eager_losses, rtol=1e-4, atol=0)
    for name, p in eager_params.items():
        assert torch.allclose(params[name], p, rtol=0, atol=1e-5), name
    start = Trainer(validate(TrainConfig, TINY))
    moved = max((p - start.G.state_dict()[k]).abs().max().item() for k, p in eager_params.items() if not k.startswith("D."))
    assert moved > 1e-4  # the steps did move the parameters: the comparison is not vacuous


def test_compile_and_backend_are_recorded_and_checked(tmp_path):
    cfg = load_config(None, ["dataset=digits", "device=cpu", "compile=none", "backend=auto"])
    assert (cfg.compile, cfg.backend) == ("none", "auto")
    with pytest.raises(ConfigError, match="compile: 'fast' is not one of none, default, reduce-overhead, max-autotune"):
        load_config(None, ["compile=fast"], check_data=False)
    with pytest.raises(ConfigError, match="backend: 'fused' runs the Triton kernels on CUDA"):
        load_config(None, ["backend=fused", "device=cpu"], check_data=False)
    out = tmp_path / "run"
    train(validate(TrainConfig, {**TINY, "iterations": 1, "backend": "auto"}), out, progress=False)
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["compile"] == "none" and resolved["backend"] == "auto"
