"""The argument order of the losses: W(fake, real) as the text writes it, or W(real, fake) as the authors' code."""
import pytest
import torch

from sinkgan.config import ConfigError, TrainConfig, validate
from sinkgan.sinkhorn import entropic_ot, sinkhorn_divergence
from sinkgan.study import run_id_of
from sinkgan.train import Trainer

TINY = dict(dataset="digits", arch="dcgan", ngf=4, ndf=4, critic_dim=8, z_dim=8, batch_size=8, device="cpu", n_grid=4,
            eps=1e-3)  # C / eps >> 1: L = 10 iterations are far from converged, so the order matters
AUTHORS = dict(cost="lp", grad="envelope", value="sharp", order="real-fake")


@pytest.mark.parametrize("settings", [{}, AUTHORS], ids=["text", "authors"])
def test_both_losses_take_their_arguments_in_the_configured_order(settings):
    tr = Trainer(validate(TrainConfig, {**TINY, **settings}))
    tr.D.eval()  # no spectral-norm power iteration between the calls below: D is one fixed function
    # two batches of distinct images (an untrained G's samples are near-identical points, for which
    # one Sinkhorn iteration already converges and both orders agree)
    real, fake = tr.real_batch(), tr.real_batch()
    with torch.no_grad():
        d_fake, d_real = tr.D(fake), tr.D(real)
    first, second = (d_fake, d_real) if tr.cfg.order == "fake-real" else (d_real, d_fake)
    for ours, loss in ((tr.divergence, sinkhorn_divergence), (tr.generator_objective, entropic_ot)):
        with torch.no_grad():
            value = ours(fake, real)
            assert torch.equal(value, loss(first, second, **tr.loss_kw))
            assert not torch.allclose(value, loss(second, first, **tr.loss_kw), rtol=1e-6)  # L = 10: not symmetric


def test_order_is_validated_and_named_in_the_run_id():
    defaults = TrainConfig()
    assert "order" not in run_id_of(defaults, "mnist", defaults)
    assert "-orderreal-fake-" in run_id_of(validate(TrainConfig, {"order": "real-fake"}), "mnist", defaults)
    with pytest.raises(ConfigError, match="order: 'fake, real' is not one of fake-real, real-fake"):
        validate(TrainConfig, {"order": "fake, real"})
