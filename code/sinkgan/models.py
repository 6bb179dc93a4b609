r"""The paper's generator and discriminator networks (Tables 2 and 3).

Two architectures for 32x32 images with ``channels`` colour channels:

* ``"dcgan"`` (Table 2, MNIST 32x32x1; the authors' ``modules/network/sn_dcgan.py``)

  - G: ``z (n, z_dim) -> (z_dim, 1, 1)``, four transposed-convolution blocks (DCGAN pyramid)
    ``1 -> 4 -> 8 -> 16 -> 32`` pixels with ``4 ngf, 2 ngf, ngf, channels`` feature maps;
    batch norm + ReLU after all but the last, tanh at the end.  No convolution has a bias.
  - D: ``conv4x4 s2 (ndf) -> conv4x4 s2 (2 ndf) -> conv4x4 s2 (4 ndf)``, each followed by
    LeakyReLU(0.2), then ``conv4x4 s1 p0`` to ``critic_dim`` maps of size 1x1, flattened: a
    feature vector of ``critic_dim`` numbers (no sigmoid).  This last 4x4 "valid"
    convolution over the whole 4x4 map is the linear map to the feature vector.  No
    convolution has a bias.
  - Parameters at ngf = ndf = 64, z_dim = critic_dim = 100, one channel: G 1,066,880,
    D 1,065,984 (the authors' networks).
  - Initialisation (the authors' code; the text is silent): G conv weights ~ N(0, 0.02),
    batch-norm weights ~ N(1, 0.02), batch-norm biases 0; D keeps PyTorch's default
    (Kaiming-uniform with a = sqrt 5).

* ``"resnet"`` (Table 3, Cats and CelebA 32x32x3; the authors' ``modules/network/sn_resnet.py``,
  the SNGAN CIFAR ResNet)

  - G: ``Linear(z_dim, 4*4*ngf) -> (ngf, 4, 4)``, three up-sampling residual blocks
    ``BN-ReLU-up2-conv3x3-BN-ReLU-conv3x3`` (+ shortcut ``up2``, a plain nearest-neighbour
    up-sample, no convolution), giving ``4 -> 8 -> 16 -> 32`` pixels, then
    ``BN-ReLU-conv3x3-tanh``.
  - D: the SNGAN "optimised" first block ``conv3x3-ReLU-conv3x3-avgpool2``
    (+ shortcut ``avgpool2-conv1x1``), one down-sampling block and two plain blocks
    ``ReLU-conv3x3-ReLU-conv3x3`` (+ ``conv1x1-avgpool2`` shortcut where the shape changes,
    identity otherwise), ``32 -> 16 -> 8 -> 8 -> 8`` pixels with ``ndf`` maps, then ReLU,
    global *average* pool (the paper's text and the authors' ``AvgPool2d(8)``; SNGAN sums,
    which only rescales the features by 64) and a linear map to ``critic_dim`` features.
  - Convolutions and dense layers have biases.  Parameters at ngf = ndf = 64,
    z_dim = critic_dim = 100, three channels: G 327,619, D 271,204 (the authors' networks).
  - Initialisation (the authors' code; the text is silent): Xavier-uniform weights with gain
    1, except gain sqrt(2) on the discriminator's 1x1 shortcut convolutions; biases keep
    PyTorch's default (uniform in +-1/sqrt(fan_in)); batch norm (1, 0).

Spectral normalisation (Miyato et al. 2018) with coefficient ``k_SN`` is applied to *every*
convolution and linear layer of the discriminator::

    W_SN = k_SN * W / sigma(W),    sigma(W) = u^T W_mat v,

where ``W_mat`` is the weight reshaped to (out_features, -1) and ``(u, v)`` are the left and
right singular-vector estimates kept as buffers.  In training mode every forward pass does one
power iteration ``v <- W^T u / ||W^T u||, u <- W v / ||W v||`` before computing sigma; in eval
mode ``u, v`` are frozen.  ``u, v`` are drawn from the global RNG when the network is built
(followed by ``INIT_POWER_ITERATIONS`` warm-up iterations), so everything is deterministic
given the seed and the module's state.  With ``spectral_norm=False`` the same discriminator is
built without it (the SGD-AutoDiff baseline, which uses ``clip_weights_`` instead).

All forward passes have static shapes and no host synchronisation (CUDA-graph capturable).
"""
from __future__ import annotations

import functools
import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

ARCHS = ("dcgan", "resnet")
IMAGE_SIZE = 32
INIT_POWER_ITERATIONS = 15  # warm-up power iterations at build time (as torch.nn.utils.spectral_norm)


# ----------------------------------------------------------------------------- validation
def _check_arch(arch: str) -> None:
    if arch not in ARCHS:
        raise ValueError(f"arch={arch!r} is not one of {ARCHS}")


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be an integer >= 1")


def _check_positive_float(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")


# ----------------------------------------------------------------------------- spectral norm
class SpectralNorm(nn.Module):
    r"""Parametrization ``W -> k_SN * W / sigma(W)`` with one power iteration per training forward.

    ``sigma(W) = u^T W_mat v`` with ``W_mat = W.reshape(out, -1)``.  In training mode the
    estimates are refreshed first (no gradient flows through them)::

        v <- normalize(W_mat^T u),   u <- normalize(W_mat v)

    and written back into the buffers ``u`` (out,) and ``v`` (in,) which live in the state dict.
    In eval mode ``u, v`` are used unchanged.  The gradient of ``W_SN`` w.r.t. ``W`` includes the
    dependence of ``sigma`` on ``W`` (as in Miyato et al.).
    """

    def __init__(self, weight: torch.Tensor, k_sn: float = 1.0, eps: float = 1e-12,
                 init_iterations: int = INIT_POWER_ITERATIONS) -> None:
        super().__init__()
        _check_positive_float("k_sn", k_sn)
        self.k_sn = float(k_sn)
        self.eps = eps
        w = weight.detach().flatten(1)
        u = F.normalize(torch.randn(w.shape[0], dtype=w.dtype, device=w.device), dim=0, eps=eps)
        v = F.normalize(torch.randn(w.shape[1], dtype=w.dtype, device=w.device), dim=0, eps=eps)
        self.register_buffer("u", u)
        self.register_buffer("v", v)
        with torch.no_grad():
            for _ in range(init_iterations):
                self._power_iteration(w)

    def _power_iteration(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step ``v = W^T u / |W^T u|``, ``u = W v / |W v|``; updates the buffers in place."""
        v = F.normalize(w.t() @ self.u, dim=0, eps=self.eps)
        u = F.normalize(w @ v, dim=0, eps=self.eps)
        self.u.copy_(u)
        self.v.copy_(v)
        return u, v

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        w = weight.flatten(1)
        if self.training:
            with torch.no_grad():
                u, v = self._power_iteration(w.detach())
        else:
            # clones: a later training-mode forward updates the buffers in place
            u, v = self.u.clone(), self.v.clone()
        sigma = torch.dot(u, w @ v)
        return weight * (self.k_sn / sigma)

    def extra_repr(self) -> str:
        return f"k_sn={self.k_sn}"


def apply_spectral_norm(module: nn.Module, k_sn: float = 1.0) -> nn.Module:
    """Register ``SpectralNorm(k_sn)`` on the ``weight`` of every Conv2d / Linear inside ``module``."""
    _check_positive_float("k_sn", k_sn)
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear)) and not parametrize.is_parametrized(m, "weight"):
            parametrize.register_parametrization(m, "weight", SpectralNorm(m.weight, k_sn))
    return module


def spectral_norm_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, layer) for every layer of ``module`` whose weight is spectrally normalised."""
    return [(n, m) for n, m in module.named_modules()
            if parametrize.is_parametrized(m, "weight")
            and any(isinstance(p, SpectralNorm) for p in m.parametrizations.weight)]


@torch.no_grad()
def clip_weights_(module: nn.Module, c: float) -> nn.Module:
    """Weight clipping of the SGD-AutoDiff baseline: ``p <- clamp(p, -c, c)`` for every parameter, in place."""
    _check_positive_float("c", c)
    for p in module.parameters():
        p.clamp_(-c, c)
    return module


# ----------------------------------------------------------------------------- building blocks
class ResidualBlock(nn.Module):
    """``y = residual(x) + shortcut(x)``; one row of the architecture table."""

    def __init__(self, residual: nn.Sequential, shortcut: nn.Module, label: str) -> None:
        super().__init__()
        self.residual = residual
        self.shortcut = shortcut
        self.label = label

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


class GlobalAvgPool(nn.Module):
    """``(n, c, h, w) -> (n, c)``, the mean over the spatial positions."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class Network(nn.Sequential):
    """An ``nn.Sequential`` that remembers how it was built (``arch``, ``role``, ``input_shape``)."""

    def __init__(self, layers: OrderedDict, arch: str, role: str, input_shape: tuple[int, ...]) -> None:
        super().__init__(layers)
        self.arch = arch
        self.role = role
        self.input_shape = tuple(input_shape)


def _gen_up_block(ch: int) -> ResidualBlock:
    """Up-sampling block ``ch -> ch`` maps; the shortcut is a plain up-sample (no convolution)."""
    residual = nn.Sequential(OrderedDict(
        bn1=nn.BatchNorm2d(ch), relu1=nn.ReLU(), up=nn.Upsample(scale_factor=2, mode="nearest"),
        conv1=nn.Conv2d(ch, ch, 3, 1, 1), bn2=nn.BatchNorm2d(ch), relu2=nn.ReLU(),
        conv2=nn.Conv2d(ch, ch, 3, 1, 1)))
    shortcut = nn.Upsample(scale_factor=2, mode="nearest")
    return ResidualBlock(residual, shortcut, "ResBlock up (BN-ReLU-up-conv3x3-BN-ReLU-conv3x3; up)")


def _disc_first_block(cin: int, cout: int) -> ResidualBlock:
    residual = nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(cin, cout, 3, 1, 1), relu=nn.ReLU(), conv2=nn.Conv2d(cout, cout, 3, 1, 1),
        pool=nn.AvgPool2d(2)))
    shortcut = nn.Sequential(OrderedDict(pool=nn.AvgPool2d(2), conv=nn.Conv2d(cin, cout, 1, 1, 0)))
    return ResidualBlock(residual, shortcut, "ResBlock down, first (conv3x3-ReLU-conv3x3-avgpool; avgpool-conv1x1)")


def _disc_block(cin: int, cout: int, down: bool) -> ResidualBlock:
    layers = OrderedDict(relu1=nn.ReLU(), conv1=nn.Conv2d(cin, cout, 3, 1, 1), relu2=nn.ReLU(),
                         conv2=nn.Conv2d(cout, cout, 3, 1, 1))
    if down:
        layers["pool"] = nn.AvgPool2d(2)
    residual = nn.Sequential(layers)
    if down or cin != cout:
        sc = OrderedDict(conv=nn.Conv2d(cin, cout, 1, 1, 0))
        if down:
            sc["pool"] = nn.AvgPool2d(2)
        shortcut: nn.Module = nn.Sequential(sc)
        sc_label = "conv1x1" + ("-avgpool" if down else "")
    else:
        shortcut, sc_label = nn.Identity(), "identity"
    kind = "down" if down else "plain"
    tail = "-avgpool" if down else ""
    return ResidualBlock(residual, shortcut, f"ResBlock {kind} (ReLU-conv3x3-ReLU-conv3x3{tail}; {sc_label})")


# ----------------------------------------------------------------------------- initialisation
@torch.no_grad()
def _init_dcgan_generator(model: nn.Module) -> None:
    """The authors' DCGAN generator: conv weights ~ N(0, 0.02), BN weights ~ N(1, 0.02), BN biases 0.

    (Their DCGAN critic is not re-initialised: it keeps PyTorch's default.)
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@torch.no_grad()
def _init_resnet(model: nn.Module) -> None:
    """The authors' ResNet: Xavier-uniform weights, gain sqrt(2) on the 1x1 shortcut convolutions
    (``.shortcut.`` in the module path), gain 1 elsewhere; biases and batch norm keep PyTorch's
    default initialisation (biases uniform in +-1/sqrt(fan_in), batch norm (1, 0))."""
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            gain = math.sqrt(2.0) if ".shortcut." in f".{name}." else 1.0
            nn.init.xavier_uniform_(m.weight, gain=gain)


# ----------------------------------------------------------------------------- public builders
@functools.lru_cache(maxsize=1)
def prime_cpu_tanh() -> None:
    """Call the CPU ``tanh`` kernel once, on every intra-op thread, before any result depends on it.

    Observed with two threads (PyTorch 2.13 CPU, AVX-512): the first ``tanh`` of a process (the
    DCGAN generator's output layer, after ConvTranspose2d) sometimes computed half of its input,
    the main thread's share, on a path accurate to only ~5e-5 relative near 0; the same call
    repeated was exact.  It struck about one process in seven, so two runs of one configuration,
    or a run and its resumption, differed in the 8th digit and then everywhere.  A throwaway first
    call made 46 of 46 processes bit-identical
    (tests/test_train.py::test_training_is_bit_identical_across_processes).
    """
    torch.tanh(torch.linspace(-3.0, 3.0, 1 << 16))


def build_generator(arch: str, channels: int, z_dim: int = 100, ngf: int = 64) -> Network:
    """Generator ``G_theta``: ``z (n, z_dim) -> x (n, channels, 32, 32)`` with values in [-1, 1] (tanh)."""
    prime_cpu_tanh()
    _check_arch(arch)
    _check_positive_int("channels", channels)
    _check_positive_int("z_dim", z_dim)
    _check_positive_int("ngf", ngf)
    if arch == "dcgan":
        layers = OrderedDict(
            unflatten=nn.Unflatten(1, (z_dim, 1, 1)),
            convt1=nn.ConvTranspose2d(z_dim, 4 * ngf, 4, 1, 0, bias=False), bn1=nn.BatchNorm2d(4 * ngf), relu1=nn.ReLU(),
            convt2=nn.ConvTranspose2d(4 * ngf, 2 * ngf, 4, 2, 1, bias=False), bn2=nn.BatchNorm2d(2 * ngf), relu2=nn.ReLU(),
            convt3=nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False), bn3=nn.BatchNorm2d(ngf), relu3=nn.ReLU(),
            convt4=nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False), tanh=nn.Tanh())
        net = Network(layers, arch, "generator", (z_dim,))
        _init_dcgan_generator(net)
    else:
        layers = OrderedDict(
            dense=nn.Linear(z_dim, 4 * 4 * ngf), unflatten=nn.Unflatten(1, (ngf, 4, 4)),
            block1=_gen_up_block(ngf), block2=_gen_up_block(ngf), block3=_gen_up_block(ngf),
            bn=nn.BatchNorm2d(ngf), relu=nn.ReLU(), conv=nn.Conv2d(ngf, channels, 3, 1, 1), tanh=nn.Tanh())
        net = Network(layers, arch, "generator", (z_dim,))
        _init_resnet(net)
    return net


def build_discriminator(arch: str, channels: int, ndf: int = 64, critic_dim: int = 100, k_sn: float = 1.0,
                        spectral_norm: bool = True) -> Network:
    """Discriminator (feature map) ``D_phi``: ``x (n, channels, 32, 32) -> (n, critic_dim)``.

    The learned ground cost is ``c_phi(x, y) = ||D_phi(x) - D_phi(y)||^p`` (eq. 20).  With
    ``spectral_norm=True`` every conv/linear weight is ``k_SN * W / sigma(W)``.
    """
    _check_arch(arch)
    _check_positive_int("channels", channels)
    _check_positive_int("ndf", ndf)
    _check_positive_int("critic_dim", critic_dim)
    _check_positive_float("k_sn", k_sn)
    if not isinstance(spectral_norm, bool):
        raise ValueError(f"spectral_norm={spectral_norm!r} must be True or False")
    if arch == "dcgan":
        layers = OrderedDict(
            conv1=nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), lrelu1=nn.LeakyReLU(0.2),
            conv2=nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False), lrelu2=nn.LeakyReLU(0.2),
            conv3=nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1, bias=False), lrelu3=nn.LeakyReLU(0.2),
            conv4=nn.Conv2d(4 * ndf, critic_dim, 4, 1, 0, bias=False), flatten=nn.Flatten(1))
        net = Network(layers, arch, "discriminator", (channels, IMAGE_SIZE, IMAGE_SIZE))  # PyTorch's default init
    else:
        layers = OrderedDict(
            block1=_disc_first_block(channels, ndf), block2=_disc_block(ndf, ndf, down=True),
            block3=_disc_block(ndf, ndf, down=False), block4=_disc_block(ndf, ndf, down=False),
            relu=nn.ReLU(), pool=GlobalAvgPool(), dense=nn.Linear(ndf, critic_dim))
        net = Network(layers, arch, "discriminator", (channels, IMAGE_SIZE, IMAGE_SIZE))
        _init_resnet(net)
    if spectral_norm:
        apply_spectral_norm(net, k_sn)  # after initialisation: u, v belong to the initial weights
    return net


# ----------------------------------------------------------------------------- architecture table
def _is_row(m: nn.Module) -> bool:
    """A table row: a residual block, or a leaf module (ignoring its parametrization container)."""
    if isinstance(m, ResidualBlock):
        return True
    return all(name == "parametrizations" for name, _ in m.named_children())


def _describe(m: nn.Module) -> str:
    """Human-readable layer description, e.g. ``SN-Conv2d 4x4 s2 p1, 1->64``."""
    if isinstance(m, ResidualBlock):
        first = next((c for c in m.residual if isinstance(c, (nn.Conv2d, nn.ConvTranspose2d))), None)
        sn = "SN-" if spectral_norm_layers(m) else ""
        io = f", {first.in_channels}->{first.out_channels}" if first is not None else ""
        return f"{sn}{m.label}{io}"
    sn = "SN-" if parametrize.is_parametrized(m, "weight") else ""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        k, s, p = m.kernel_size, m.stride, m.padding
        kind = "ConvTranspose2d" if isinstance(m, nn.ConvTranspose2d) else "Conv2d"
        return (f"{sn}{kind} {k[0]}x{k[1]} s{s[0]} p{p[0]}, "
                f"{m.in_channels}->{m.out_channels}")
    if isinstance(m, nn.Linear):
        return f"{sn}Linear {m.in_features}->{m.out_features}"
    if isinstance(m, nn.BatchNorm2d):
        return f"BatchNorm2d({m.num_features})"
    if isinstance(m, nn.LeakyReLU):
        return f"LeakyReLU({m.negative_slope})"
    if isinstance(m, nn.Unflatten):
        return f"Reshape to {tuple(m.unflattened_size)}"
    if isinstance(m, nn.Upsample):
        return f"Upsample x{m.scale_factor} ({m.mode})"
    if isinstance(m, nn.AvgPool2d):
        return f"AvgPool2d {m.kernel_size}"
    if isinstance(m, GlobalAvgPool):
        return "Global average pool"
    return type(m).__name__


@torch.no_grad()
def layer_table(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> list[dict]:
    """The network's layers in execution order, found by forward hooks on a dummy batch.

    Rows are leaf modules (conv, linear, batch norm, activation, reshape, pooling) and residual
    blocks (one row each, submodules included).  Each row is
    ``{"name": dotted module path, "layer": description, "output_shape": shape without the batch
    dimension, "params": trainable-parameter count}``; the counts sum to the model's total.
    ``input_shape`` excludes the batch dimension (default: ``model.input_shape``).  The dummy
    forward runs in eval mode (no batch-norm or power-iteration state changes); the training
    mode is restored afterwards.
    """
    if input_shape is None:
        input_shape = getattr(model, "input_shape", None)
        if input_shape is None:
            raise ValueError("input_shape is required for a model without an input_shape attribute")
    rows_by_module = [(n, m) for n, m in model.named_modules() if _is_row(m)]
    # drop rows nested inside another row (submodules of a residual block)
    names = [n for n, _ in rows_by_module]
    rows_by_module = [(n, m) for n, m in rows_by_module
                      if not any(n != o and (o == "" or n.startswith(o + ".")) for o in names)]
    records: list[dict] = []
    seen: set[int] = set()

    def hook_for(name: str):
        def hook(mod, _inp, out):
            first = id(mod) not in seen
            seen.add(id(mod))
            records.append(dict(name=name, layer=_describe(mod), output_shape=tuple(out.shape[1:]),
                                params=sum(p.numel() for p in mod.parameters()) if first else 0))
        return hook

    handles = [m.register_forward_hook(hook_for(n)) for n, m in rows_by_module]
    was_training = model.training
    try:
        param = next(model.parameters())
        model.eval()
        model(torch.zeros((2, *input_shape), dtype=param.dtype, device=param.device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return records


def data_channels(dataset: str) -> int:
    """Image channels of a data set id (1 for MNIST and its stand-ins, 3 for the photographs)."""
    from .data import DATASETS

    return DATASETS[dataset].channels


def build_networks(cfg, device) -> tuple[nn.Module, nn.Module]:
    """``(G, D)`` for a :class:`~sinkgan.config.TrainConfig`; spectral norm on D except for the SGD-AutoDiff baseline."""
    channels = data_channels(cfg.dataset)
    G = build_generator(cfg.arch, channels, z_dim=cfg.z_dim, ngf=cfg.ngf)
    D = build_discriminator(
        cfg.arch, channels, ndf=cfg.ndf, critic_dim=cfg.critic_dim, k_sn=cfg.k_sn,
        spectral_norm=cfg.variant != "sgd-autodiff",
    )
    return G.to(device), D.to(device)
