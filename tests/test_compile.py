"""``compile=...``: the torch.compile'd (inductor, CPU) steps equal the eager steps, also through
the training loop; on a GPU (``tools/gpu_sitting.py check`` runs this file there) every mode a
sitting may train in (captured as CUDA graphs, fused, fused + captured) trains as eager does,
through the real training loop and across a resume.

Tolerance: over three outer iterations (n_critic = 2) the losses agree to 1e-4 relative and
every parameter to 1e-5 absolute (inductor reorders float32 sums; Adam moves a parameter by
at most lr = 1e-4 per update, so a wrong gradient shows up as a difference of that order).
"""
import pandas as pd
import pytest
import torch
import yaml

from sinkgan.config import MODES, ConfigError, TrainConfig, load_config, validate
from sinkgan.train import Trainer, train

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (a GPU session's `gpu_sitting.py check` runs it)")

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


def losses_of(run_dir) -> torch.Tensor:
    log = pd.read_csv(run_dir / "log.csv")
    return torch.tensor(log[["g_loss", "d_loss"]].to_numpy())


def assert_mode_trains_as_eager(mode: str, device: str, tmp_path) -> None:
    """Through :func:`train` (its loss buffer, checkpoints): 4 iterations in ``mode`` log the losses
    of 4 eager ones, and 2 + 2 resumed in ``mode`` log those of 4 in one go."""
    base = {**TINY, "device": device, "ngf": 8, "ndf": 8, "iterations": 4, "log_every": 1, "checkpoint_every": 2,
            "sample_every": 4}
    eager = train(validate(TrainConfig, base), tmp_path / "eager", progress=False).parent
    fast_cfg = validate(TrainConfig, {**base, **MODES[mode]})
    fast = train(fast_cfg, tmp_path / mode, progress=False).parent
    written = yaml.safe_load((fast / "config.yaml").read_text())
    assert {k: written[k] for k in MODES[mode]} == MODES[mode]  # it did train in that mode
    assert torch.allclose(losses_of(fast), losses_of(eager), rtol=1e-4, atol=1e-6), mode
    counts = ["iteration", "gen_updates", "critic_updates"]  # kept outside the compiled steps
    assert pd.read_csv(fast / "log.csv")[counts].equals(pd.read_csv(eager / "log.csv")[counts])
    assert list(pd.read_csv(fast / "log.csv")["critic_updates"]) == [2, 4, 6, 8]  # n_critic = 2 per iteration
    half = validate(TrainConfig, {**fast_cfg.to_dict(), "iterations": 2})
    train(half, tmp_path / "resumed", progress=False)
    resumed = train(fast_cfg, tmp_path / "resumed", resume=True, progress=False).parent
    assert torch.allclose(losses_of(resumed), losses_of(fast), rtol=1e-4, atol=1e-6), mode
    assert len(losses_of(resumed)) == 4


def test_the_compiled_mode_trains_as_eager_through_the_training_loop(tmp_path):
    assert_mode_trains_as_eager("compiled", "cpu", tmp_path)


@CUDA
@pytest.mark.parametrize("mode", ["captured", "fused", "fused+captured"])  # what a GPU sitting may train in
def test_every_gpu_mode_trains_as_eager_on_cuda(mode, tmp_path):
    assert_mode_trains_as_eager(mode, "cuda", tmp_path)
