"""Tests for sinkgan.models: shapes, spectral norm, weight clipping, layer table, determinism."""
from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from sinkgan.models import (ARCHS, SpectralNorm, build_discriminator, build_generator, clip_weights_,
                            layer_table, spectral_norm_layers)

# small widths keep the tests fast; the architecture is the same at every width
NGF = NDF = 8
Z_DIM = 16
CRITIC_DIM = 12


def _sn_weights(model: nn.Module) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, raw weight W, normalised weight W_SN) for each spectrally normalised layer."""
    out = []
    for name, m in spectral_norm_layers(model):
        out.append((name, m.parametrizations.weight.original, m.weight))
    return out


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes_and_range(arch, channels):
    torch.manual_seed(0)
    g = build_generator(arch, channels, z_dim=Z_DIM, ngf=NGF)
    d = build_discriminator(arch, channels, ndf=NDF, critic_dim=CRITIC_DIM)
    z = torch.randn(6, Z_DIM)
    x = g(z)
    assert x.shape == (6, channels, 32, 32)
    assert x.min() >= -1.0 and x.max() <= 1.0
    # the output layer is tanh: large latents saturate towards +-1 but never beyond
    assert g(1e3 * z).abs().max() <= 1.0
    f = d(x)
    assert f.shape == (6, CRITIC_DIM)
    assert torch.isfinite(f).all()


@pytest.mark.parametrize("arch", ARCHS)
def test_default_widths_match_paper_config(arch):
    d = build_discriminator(arch, 3)
    assert d(torch.zeros(2, 3, 32, 32)).shape == (2, 100)  # critic_dim = 100 by default
    g = build_generator(arch, 3)
    assert g(torch.zeros(2, 100)).shape == (2, 3, 32, 32)  # z_dim = 100 by default


def test_unknown_arch_and_bad_values_raise():
    with pytest.raises(ValueError, match="dcgan"):
        build_generator("vgg", 3)
    with pytest.raises(ValueError, match="resnet"):
        build_discriminator("vgg", 3)
    with pytest.raises(ValueError, match="k_sn"):
        build_discriminator("dcgan", 1, k_sn=0.0)
    with pytest.raises(ValueError, match="critic_dim"):
        build_discriminator("dcgan", 1, critic_dim=0)
    with pytest.raises(ValueError, match="channels"):
        build_generator("dcgan", 0)
    with pytest.raises(ValueError, match="c="):
        clip_weights_(nn.Linear(2, 2), -0.1)


@pytest.mark.parametrize("arch", ARCHS)
def test_every_discriminator_layer_is_spectrally_normalised(arch):
    d = build_discriminator(arch, 3, ndf=NDF, critic_dim=CRITIC_DIM)
    weighted = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weighted) > 0
    assert len(spectral_norm_layers(d)) == len(weighted)
    plain = build_discriminator(arch, 3, ndf=NDF, critic_dim=CRITIC_DIM, spectral_norm=False)
    assert spectral_norm_layers(plain) == []
    # same architecture, same number of parameters
    assert sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in d.parameters())


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("k_sn", [1.0, 0.5, 2.0])
def test_spectral_norm_largest_singular_value_is_k(arch, k_sn):
    torch.manual_seed(1)
    d = build_discriminator(arch, 3, ndf=NDF, critic_dim=CRITIC_DIM, k_sn=k_sn)
    d.train()
    with torch.no_grad():
        d(torch.randn(2, 3, 32, 32))  # a training forward runs one power iteration per layer ...
        for _ in range(200):  # ... as does each training-mode read of a parametrized weight (cheaper)
            for _name, m in spectral_norm_layers(d):
                m.weight
    d.eval()
    layers = _sn_weights(d)
    assert layers
    for name, _w, w_sn in layers:
        sigma = torch.linalg.matrix_norm(w_sn.detach().flatten(1), ord=2)
        assert sigma == pytest.approx(k_sn, rel=2e-3), name


def test_spectral_norm_parametrization_gradient_flows_to_raw_weight():
    torch.manual_seed(2)
    lin = nn.Linear(5, 4)
    torch.nn.utils.parametrize.register_parametrization(lin, "weight", SpectralNorm(lin.weight, 1.0))
    lin(torch.randn(3, 5)).square().sum().backward()
    g = lin.parametrizations.weight.original.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0


@pytest.mark.parametrize("arch", ARCHS)
def test_power_iteration_updates_only_in_training_mode(arch):
    torch.manual_seed(3)
    d = build_discriminator(arch, 3, ndf=NDF, critic_dim=CRITIC_DIM)
    x = torch.randn(4, 3, 32, 32)
    bufs = lambda: {k: v.clone() for k, v in d.state_dict().items() if k.endswith(".u") or k.endswith(".v")}
    assert bufs()  # the u, v estimates live in the state dict
    before = bufs()
    d.eval()
    y1, y2 = d(x), d(x)
    after_eval = bufs()
    assert all(torch.equal(before[k], after_eval[k]) for k in before)
    assert torch.equal(y1, y2)
    d.train()
    d(x)
    after_train = bufs()
    assert any(not torch.equal(before[k], after_train[k]) for k in before)


@pytest.mark.parametrize("arch", ARCHS)
def test_backward_through_discriminator_reaches_both_networks(arch):
    """Two training-mode forwards (fake, real) then one backward: the in-place power-iteration
    buffer updates must not invalidate tensors saved for autograd."""
    torch.manual_seed(4)
    g = build_generator(arch, 3, z_dim=Z_DIM, ngf=NGF)
    d = build_discriminator(arch, 3, ndf=NDF, critic_dim=CRITIC_DIM)
    feats_fake, feats_real = d(g(torch.randn(4, Z_DIM))), d(torch.randn(4, 3, 32, 32))  # two training forwards
    loss = torch.cdist(feats_fake, feats_real).square().mean()
    loss.backward()
    assert all(p.grad is not None for p in g.parameters())
    assert all(p.grad is not None for p in d.parameters())


@pytest.mark.parametrize("arch", ARCHS)
def test_clip_weights_bounds_every_parameter(arch):
    torch.manual_seed(5)
    d = build_discriminator(arch, 3, ndf=NDF, critic_dim=CRITIC_DIM, spectral_norm=False)
    with torch.no_grad():
        for p in d.parameters():
            p.mul_(100.0)
    c = 0.01
    assert max(p.abs().max() for p in d.parameters()) > c
    ptrs = [p.data_ptr() for p in d.parameters()]
    clip_weights_(d, c)
    assert all(p.abs().max() <= c for p in d.parameters())
    assert ptrs == [p.data_ptr() for p in d.parameters()]  # in place
    # values already inside the box are unchanged
    lin = nn.Linear(3, 3)
    with torch.no_grad():
        lin.weight.fill_(0.003)
    clip_weights_(lin, c)
    assert torch.all(lin.weight == 0.003)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("role", ["generator", "discriminator"])
def test_layer_table_params_sum_and_shapes(arch, role):
    if role == "generator":
        model = build_generator(arch, 3, z_dim=Z_DIM, ngf=NGF)
        input_shape, final = (Z_DIM,), (3, 32, 32)
    else:
        model = build_discriminator(arch, 3, ndf=NDF, critic_dim=CRITIC_DIM)
        input_shape, final = (3, 32, 32), (CRITIC_DIM,)
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rows = layer_table(model, input_shape)
    assert rows and all(set(r) >= {"layer", "output_shape", "params"} for r in rows)
    assert sum(r["params"] for r in rows) == sum(p.numel() for p in model.parameters())
    assert rows[-1]["output_shape"] == final
    assert all(isinstance(r["output_shape"], tuple) and isinstance(r["params"], int) for r in rows)
    # the dummy pass changes no state (BN running stats, power-iteration buffers) and keeps the mode
    assert model.training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    # the default input shape is the one the model was built for
    assert layer_table(model) == rows


def test_layer_table_dcgan_pyramid():
    rows = layer_table(build_generator("dcgan", 1, z_dim=Z_DIM, ngf=NGF))
    convt = [r for r in rows if r["layer"].startswith("ConvTranspose2d")]
    assert [r["output_shape"] for r in convt] == [(4 * NGF, 4, 4), (2 * NGF, 8, 8), (NGF, 16, 16), (1, 32, 32)]
    assert rows[-1]["layer"] == "Tanh"
    d_rows = layer_table(build_discriminator("dcgan", 1, ndf=NDF, critic_dim=CRITIC_DIM))
    convs = [r for r in d_rows if "Conv2d" in r["layer"]]
    assert all(r["layer"].startswith("SN-") for r in convs)
    assert [r["output_shape"] for r in convs] == [(NDF, 16, 16), (2 * NDF, 8, 8), (4 * NDF, 4, 4),
                                                  (CRITIC_DIM, 1, 1)]


def test_layer_table_resnet_blocks():
    g_rows = layer_table(build_generator("resnet", 3, z_dim=Z_DIM, ngf=NGF))
    assert [r["output_shape"] for r in g_rows if r["layer"].startswith("ResBlock")] == [
        (NGF, 8, 8), (NGF, 16, 16), (NGF, 32, 32)]
    d_rows = layer_table(build_discriminator("resnet", 3, ndf=NDF, critic_dim=CRITIC_DIM))
    blocks = [r for r in d_rows if "ResBlock" in r["layer"]]
    assert [r["output_shape"] for r in blocks] == [(NDF, 16, 16), (NDF, 8, 8), (NDF, 8, 8), (NDF, 8, 8)]


@pytest.mark.parametrize("arch", ARCHS)
def test_same_seed_same_weights(arch):
    def build():
        torch.manual_seed(123)
        return (build_generator(arch, 3, z_dim=Z_DIM, ngf=NGF),
                build_discriminator(arch, 3, ndf=NDF, critic_dim=CRITIC_DIM))
    (g1, d1), (g2, d2) = build(), build()
    for a, b in ((g1, g2), (d1, d2)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    torch.manual_seed(124)
    g3 = build_generator(arch, 3, z_dim=Z_DIM, ngf=NGF)
    assert any(not torch.equal(g1.state_dict()[k], v) for k, v in g3.state_dict().items())


@pytest.mark.parametrize("arch", ARCHS)
def test_state_dict_round_trip(arch):
    torch.manual_seed(6)
    g = build_generator(arch, 3, z_dim=Z_DIM, ngf=NGF)
    d = build_discriminator(arch, 3, ndf=NDF, critic_dim=CRITIC_DIM)
    z, x = torch.randn(4, Z_DIM), torch.randn(4, 3, 32, 32)
    for _ in range(3):  # move BN statistics and power-iteration buffers away from their initial values
        d(g(z))
    g.eval(), d.eval()
    buf = io.BytesIO()
    torch.save({"g": g.state_dict(), "d": d.state_dict()}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    torch.manual_seed(999)  # different initial weights and u, v
    g2 = build_generator(arch, 3, z_dim=Z_DIM, ngf=NGF)
    d2 = build_discriminator(arch, 3, ndf=NDF, critic_dim=CRITIC_DIM)
    g2.load_state_dict(loaded["g"])
    d2.load_state_dict(loaded["d"])
    g2.eval(), d2.eval()
    assert torch.equal(g(z), g2(z))
    assert torch.equal(d(x), d2(x))
    # training-mode power iteration continues identically from the restored u, v
    d.train(), d2.train()
    assert torch.equal(d(x), d2(x))


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_compiles_as_one_graph(arch):
    """Static shapes, no host sync: torch.compile(fullgraph=True) of the discriminator (the only
    network with custom forward code, the spectral norm) must not hit a graph break, and the
    compiled training forward updates the power-iteration buffers like eager mode."""
    torch.manual_seed(7)
    d = build_discriminator(arch, 3, ndf=NDF, critic_dim=CRITIC_DIM)
    d_ref = build_discriminator(arch, 3, ndf=NDF, critic_dim=CRITIC_DIM)
    d_ref.load_state_dict(d.state_dict())
    x = torch.randn(4, 3, 32, 32)
    compiled = torch.compile(d, backend="aot_eager", fullgraph=True)
    out = compiled(x)
    ref = d_ref(x)
    torch.testing.assert_close(out, ref)
    for k, v in d.state_dict().items():
        torch.testing.assert_close(v, d_ref.state_dict()[k])


# ----------------------------------------------------------------------------- the authors' networks
# Parameter counts of the authors' networks (miqbal23/sinkhorngan-positive, modules/network/sn_dcgan.py
# and sn_resnet.py) at ngf = ndf = 64, z_dim = critic_dim = 100, as recorded in docs/paper-map.md.
AUTHORS_PARAMS = {("dcgan", 1): (1_066_880, 1_065_984), ("resnet", 3): (327_619, 271_204)}


@pytest.mark.parametrize("arch, channels", sorted(AUTHORS_PARAMS))
def test_parameter_counts_match_the_authors_networks(arch, channels):
    n = lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)
    assert (n(build_generator(arch, channels)), n(build_discriminator(arch, channels))) == AUTHORS_PARAMS[arch, channels]


def test_resnet_generator_shortcut_is_a_plain_upsample():
    g = build_generator("resnet", 3, z_dim=Z_DIM, ngf=NGF)
    x = torch.randn(2, NGF, 4, 4)
    for block in (g.block1, g.block2, g.block3):
        assert list(block.shortcut.parameters()) == []
        torch.testing.assert_close(block.shortcut(x), x.repeat_interleave(2, 2).repeat_interleave(2, 3))


def _fans(w: torch.Tensor) -> tuple[int, int]:
    receptive = w[0, 0].numel() if w.dim() > 2 else 1
    return w.shape[1] * receptive, w.shape[0] * receptive


def _assert_uniform_with_bound(w: torch.Tensor, bound: float, name: str) -> None:
    """Weights drawn from U(-bound, bound): none beyond it, and (with >= 100 draws) some close to it."""
    assert w.numel() >= 100, name
    top = w.detach().abs().max().item()
    assert 0.9 * bound <= top <= bound * (1 + 1e-6), (name, top, bound)


def test_resnet_initialisation_gains_are_the_authors():
    """Xavier-uniform, bound gain * sqrt(6 / (fan_in + fan_out)): gain sqrt(2) on the discriminator's
    1x1 shortcut convolutions, 1 everywhere else; biases keep PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    torch.manual_seed(8)
    nets = (build_generator("resnet", 3, z_dim=Z_DIM, ngf=NGF),
            build_discriminator("resnet", 3, ndf=NDF, critic_dim=CRITIC_DIM, spectral_norm=False))
    shortcut_convs = 0
    for net in nets:
        for name, m in net.named_modules():
            if not isinstance(m, (nn.Conv2d, nn.Linear)):
                continue
            fan_in, fan_out = _fans(m.weight)
            gain = 2 ** 0.5 if ".shortcut." in f".{name}." else 1.0
            shortcut_convs += gain > 1
            if m.weight.numel() >= 100:
                _assert_uniform_with_bound(m.weight, gain * (6 / (fan_in + fan_out)) ** 0.5, name)
            assert m.bias is not None and m.bias.abs().max() <= fan_in ** -0.5, name
            assert m.bias.abs().max() > 0, name  # not zeroed
    assert shortcut_convs == 2  # first block and the down-sampling block of D


def test_dcgan_initialisation_is_the_authors():
    """G: conv weights ~ N(0, 0.02), BN weights ~ N(1, 0.02); D: PyTorch's default
    Kaiming-uniform (a = sqrt 5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)); no biases anywhere."""
    torch.manual_seed(9)
    g = build_generator("dcgan", 1, z_dim=Z_DIM, ngf=NGF)
    d = build_discriminator("dcgan", 1, ndf=NDF, critic_dim=CRITIC_DIM, spectral_norm=False)
    convt = torch.cat([m.weight.detach().flatten() for m in g.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert convt.mean().abs() < 0.002 and convt.std() == pytest.approx(0.02, rel=0.05)
    bn = torch.cat([m.weight.detach() for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert (bn - 1).abs().max() < 0.1 and bn.std() > 0.005
    for name, m in d.named_modules():
        if isinstance(m, nn.Conv2d):
            _assert_uniform_with_bound(m.weight, _fans(m.weight)[0] ** -0.5, name)
    assert all(m.bias is None for net in (g, d) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
