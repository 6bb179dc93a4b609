"""One typed configuration schema for the command line, the Snakemake DAG and the report.

Every field carries its allowed values in ``metadata`` (``range=(lo, hi)`` with ``lo_open`` /
``hi_open`` flags, or ``choices``), and :func:`validate` turns any mapping into a checked
dataclass, refusing malformed input *before any compute* with a message that names the field
and its allowed range.  The same machinery serves any other dataclass (e.g. the SiNG
experiments) through ``validate(SomeDataclass, mapping)``.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from .atomic import atomic_write_text


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


INF = math.inf


def setting(default, help: str, *, range=None, lo_open=False, hi_open=False, choices=None):
    """A dataclass field with the metadata :func:`validate` checks: ``range=(lo, hi)`` (``lo_open`` /
    ``hi_open`` exclude an end) or ``choices``; ``help`` is the text of ``--help`` and of the docs."""
    meta = {"help": help}
    if range is not None:
        meta.update(range=range, lo_open=lo_open, hi_open=hi_open)
    if choices is not None:
        meta["choices"] = tuple(choices)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


_f = setting  # short name for the field tables below


def check_adam_betas(betas, field: str = "adam_betas") -> list[float]:
    """Adam's ``(beta1, beta2)`` in setting ``field``: two numbers, each in [0, 1); returned as floats."""
    if len(betas) != 2 or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas):
        raise ConfigError(f"{field}: {betas!r} must be two numbers, each in [0, 1)")
    return [float(b) for b in betas]


def check_max_images(max_images: int, batch_size: int) -> None:
    """A data set cut to ``max_images`` must still fill one mini-batch (0 = no cut)."""
    if max_images and max_images < batch_size:
        raise ConfigError(f"max_images: {max_images} is smaller than batch_size {batch_size}; allowed 0 or >= batch_size")


DATASET_IDS = ("mnist", "cats", "celeba", "cifar10", "mnist5k", "fashion", "fashion-rgb", "digits", "photos-standin")
#: Offline sets made of the paper data set's own real images, fewer of them (data sets of
#: ``sinkgan.data``): a verdict on one is about the paper's data, qualified by its size;
#: the other offline sets are stand-ins (a different distribution).
PAPER_SUBSETS = {"mnist5k": "mnist"}


def paper_subset(dataset: str | None) -> str | None:
    """The paper data set that ``dataset`` is a subset of (:data:`PAPER_SUBSETS`), else None."""
    return PAPER_SUBSETS.get(str(dataset))


VARIANTS = ("seqsgda", "simsgda", "sgd-autodiff")
MEMORY_FORMATS = ("auto", "contiguous", "channels_last")
#: ``TrainConfig.autocast``: the networks in float32 (none) or under bfloat16 autocast (bf16)
AUTOCASTS = ("none", "bf16")
#: TrainConfig fields that choose how a run computes, not what: the values agree up to float
#: rounding.  A run may resume with them changed, and changing them does not retrain a finished
#: run (:meth:`TrainConfig.result_settings`, the training rule's rerun trigger).
HOW_NOT_WHAT = ("backend", "compile", "memory_format")


def resolve_memory_format(name: str, device_type: str) -> str:
    """``memory_format`` for a device: ``auto`` is ``channels_last`` on CPU (oneDNN's convolutions run
    NHWC faster: measured in ``sinkgan bench``) and ``contiguous`` on CUDA (not yet measured there)."""
    if name not in MEMORY_FORMATS:
        raise ConfigError(f"memory_format: {name!r} is not one of {', '.join(MEMORY_FORMATS)}")
    if name != "auto":
        return name
    return "channels_last" if device_type == "cpu" else "contiguous"


@dataclass
class TrainConfig:
    """A training run.  Defaults are the paper's hyperparameters (27) on MNIST/DCGAN."""

    name: str = _f("run", "free-form run name (used in logs)")
    # --- data and networks
    dataset: str = _f("mnist5k", "data set id", choices=DATASET_IDS)
    data_root: str = _f("data", "folder holding prepared real data sets and the cache")
    download: bool = _f(False, "download the real data set where its source allows")
    max_images: int = _f(0, "keep only the first N training images (0 = all)", range=(0, INF))
    arch: str = _f("dcgan", "network pair: Table 2 (dcgan) or Table 3 (resnet)", choices=("dcgan", "resnet"))
    z_dim: int = _f(100, "latent dimension", range=(1, 4096))
    ngf: int = _f(64, "generator width", range=(1, 1024))
    ndf: int = _f(64, "discriminator width", range=(1, 1024))
    critic_dim: int = _f(100, "length of the discriminator's feature vector", range=(1, 4096))
    k_sn: float = _f(1.0, "spectral-norm coefficient k_SN", range=(0, INF), lo_open=True, hi_open=True)
    clip: float = _f(0.01, "weight clipping bound for sgd-autodiff", range=(0, INF), lo_open=True, hi_open=True)
    # --- the loss
    variant: str = _f("seqsgda", "algorithm: Algorithm 1, simultaneous, or the Genevay et al. baseline", choices=VARIANTS)
    p: float = _f(2.0, "ground-cost exponent, c = ||D(x) - D(y)||^p", range=(0, INF), lo_open=True, hi_open=True)
    eps: float = _f(1.0, "entropic regularisation", range=(0, INF), lo_open=True, hi_open=True)
    n_iter: int = _f(10, "Sinkhorn iterations L", range=(1, 100000))
    cost: str = _f("euclidean", "ground cost: eq. 20 (euclidean) or the authors' sum |a_k-b_k|^p (lp)", choices=("euclidean", "lp"))
    grad: str = _f("autodiff", "differentiate through the iterations (autodiff) or at the potentials (envelope)", choices=("autodiff", "envelope"))
    value: str = _f("dual", "reported loss: dual <f,a>+<g,b> or sharp <pi,C>", choices=("dual", "sharp"))
    order: str = _f("fake-real", "argument order of S_eps and W_eps: (fake, real) as the text writes it, or (real, fake) as the authors' code", choices=("fake-real", "real-fake"))
    backend: str = _f("torch", "Sinkhorn implementation: torch operations, the fused Triton kernels (CUDA, m <= 128), "
                      "or auto (fused on CUDA when triton is importable, else torch); same values", choices=("torch", "fused", "auto"))
    # --- optimisation
    batch_size: int = _f(100, "mini-batch size m", range=(2, 100000))
    n_critic: int = _f(10, "critic steps per generator step", range=(1, 1000))
    iterations: int = _f(1000, "generator iterations", range=(1, 10**9))
    optimizer: str = _f("adam", "optimizer of both players", choices=("adam", "rmsprop"))
    lr_g: float = _f(1e-4, "generator learning rate alpha", range=(0, 1), lo_open=True)
    lr_d: float = _f(1e-4, "discriminator learning rate alpha", range=(0, 1), lo_open=True)
    adam_betas: list = _f([0.5, 0.999], "Adam (beta1, beta2), each in [0, 1)")
    seed: int = _f(0, "random seed", range=(0, 2**63 - 1))
    # --- bookkeeping
    device: str = _f("auto", "cpu, cuda, or auto (cuda if available)", choices=("auto", "cpu", "cuda"))
    tf32: bool = _f(False, "allow TF32 matmuls/convolutions on Ampere+ GPUs (recorded in the run)")
    autocast: str = _f("none", "run the two networks under bfloat16 autocast (bf16: their convolutions and matrix "
                       "products in bfloat16, on AMX/AVX512-BF16 CPUs and tensor-core GPUs); the Sinkhorn loss, its cost "
                       "and potentials stay float32; none = float32 throughout (the paper)", choices=AUTOCASTS)
    log_every: int = _f(50, "read losses back from the device every k iterations", range=(1, 10**9))
    sample_every: int = _f(500, "write a sample grid every k iterations", range=(1, 10**9))
    checkpoint_every: int = _f(500, "write a checkpoint every k iterations", range=(1, 10**9))
    n_grid: int = _f(64, "fixed latents in each sample grid", range=(1, 1024))
    snapshot_every: int = _f(0, "keep the generator every k iterations in snapshots/ for IS/FID over training (0 = none)",
                             range=(0, 10**9))
    progress_every_s: float = _f(30.0, "without a progress bar (under the DAG): print iteration, losses, it/s and "
                                       "ETA at most this often, in seconds", range=(0, INF), lo_open=True, hi_open=True)
    compile: str = _f("none", "torch.compile the critic and generator steps with this mode (reduce-overhead: CUDA graphs "
                      "on GPU); none = eager", choices=("none", "default", "reduce-overhead", "max-autotune"))
    memory_format: str = _f("auto", "layout of the images and convolution weights: channels_last (NHWC: oneDNN's faster "
                            "convolutions on CPU), contiguous (NCHW), or auto (channels_last on CPU, contiguous on CUDA); "
                            "same values up to float rounding", choices=MEMORY_FORMATS)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def result_settings(self) -> dict:
        """:meth:`to_dict` without :data:`HOW_NOT_WHAT` and the progress interval: the settings a
        finished run's results depend on (the training rule's ``params``: a change retrains)."""
        return {k: v for k, v in self.to_dict().items() if k not in (*HOW_NOT_WHAT, "progress_every_s")}


def _fmt_range(meta) -> str:
    lo, hi = meta["range"]
    left = "(" if meta.get("lo_open") else "["
    right = ")" if meta.get("hi_open") or hi == INF else "]"
    return f"{left}{lo}, {'inf' if hi == INF else hi}{right}"


def _check_value(cls_name: str, fd: dataclasses.Field, value, hints) -> object:
    name = f"{cls_name}.{fd.name}" if cls_name else fd.name
    typ = hints[fd.name]
    meta = fd.metadata
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f"{name}: expected an integer, got {value!r} ({type(value).__name__})")
    elif typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
        value = float(value)
        if math.isnan(value):
            raise ConfigError(f"{name}: NaN is not allowed; allowed range {_fmt_range(meta)}" if "range" in meta else f"{name}: NaN is not allowed")
    elif typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r} ({type(value).__name__})")
    elif typ is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        value = list(value)
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(map(str, meta['choices']))}")
    if "range" in meta:
        lo, hi = meta["range"]
        ok = (value > lo if meta.get("lo_open") else value >= lo) and (value < hi if meta.get("hi_open") else value <= hi)
        if not ok:
            raise ConfigError(f"{name}: {value!r} is out of range; allowed {_fmt_range(meta)}")
    return value


def validate(cls, mapping: dict):
    """Build ``cls`` (a dataclass) from ``mapping``, checking every field against its metadata.

    Unknown keys, wrong types, NaN and out-of-range values raise :class:`ConfigError`.
    """
    if not isinstance(mapping, dict):
        raise ConfigError(f"{cls.__name__}: expected a mapping of field: value, got {type(mapping).__name__}")
    known = {fd.name: fd for fd in fields(cls)}
    for key in mapping:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown field {key!r}{hint}; known fields: {', '.join(known)}")
    hints = typing.get_type_hints(cls)
    values = {k: _check_value("", known[k], v, hints) for k, v in mapping.items()}
    obj = cls(**values)
    post = getattr(obj, "check", None)
    if callable(post):
        post()
    return obj


def _check_train(cfg: TrainConfig) -> None:
    cfg.adam_betas = check_adam_betas(cfg.adam_betas)
    if cfg.variant == "simsgda" and cfg.n_critic != 1:
        raise ConfigError(f"n_critic: simsgda updates both players simultaneously, so n_critic must be 1 (got {cfg.n_critic})")
    if cfg.backend == "fused" and cfg.device == "cpu":
        raise ConfigError("backend: 'fused' runs the Triton kernels on CUDA (on CPU only the slow interpreter, for tests); "
                          "allowed with device=cpu: torch, auto")
    if cfg.autocast == "bf16" and cfg.variant == "sgd-autodiff":
        raise ConfigError("autocast: 'bf16' is refused with variant sgd-autodiff: its weight-clipped critic's features "
                          "vary across images by 1e-4 to 1e-3 of their size, at or below bfloat16's resolution (4e-3), so "
                          "S_eps would be mostly rounding (tests/test_autocast.py); allowed with sgd-autodiff: none")
    check_max_images(cfg.max_images, cfg.batch_size)


TrainConfig.check = _check_train  # run by validate()


# YAML 1.1 (PyYAML) reads 1e-4, 1e5 and 1.0e4 as strings; YAML 1.2 and every user read them as numbers.
_FLOAT_WITH_EXPONENT = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$")


class YamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``1e-4`` as a number and refuses duplicate keys (no silent last-wins)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first != key_node.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given on line {first})", key_node.start_mark)
        return super().construct_mapping(node, deep)


class YamlDumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that quotes the strings :class:`YamlLoader` would read as numbers."""


for _cls in (YamlLoader, YamlDumper):
    _cls.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_WITH_EXPONENT, list("-+0123456789."))


def atomic_write_yaml(path: str | Path, obj) -> None:
    """Write ``obj`` as YAML with :class:`YamlDumper`, so that :func:`load_config` reads back what was written."""
    atomic_write_text(path, yaml.dump(obj, Dumper=YamlDumper, sort_keys=False))


def _yaml_error(err: yaml.YAMLError) -> str:
    """One line: the problem and where (``line L, column C``)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else problem


def parse_yaml(text: str, where: str):
    """YAML text -> Python object with :class:`YamlLoader`; malformed YAML is one ConfigError naming ``where``."""
    try:
        return yaml.load(text, Loader=YamlLoader)
    except yaml.YAMLError as err:
        raise ConfigError(f"{where}: not valid YAML: {_yaml_error(err)}") from None


def parse_override(item: str) -> tuple[str, object]:
    """``key=value`` -> (key, YAML-parsed value); ``eps=0.1`` -> ("eps", 0.1), ``lr_g=1e-4`` -> ("lr_g", 0.0001)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value")
    key, raw = item.split("=", 1)
    value = parse_yaml(raw, f"--set {item!r}") if raw != "" else ""
    return key.strip(), value


#: training modes (the rows of ``sinkgan bench``): name -> the :data:`HOW_NOT_WHAT` switches that
#: train that way.  "captured" replays each step as CUDA graphs (CUDA only).
MODES = {"eager": {}, "compiled": {"compile": "default"}, "captured": {"compile": "reduce-overhead"},
         "fused": {"backend": "fused"}, "fused+captured": {"backend": "fused", "compile": "reduce-overhead"}}
#: modes timed on CUDA only (the fused kernels run in Triton; CUDA graphs need a GPU)
CUDA_ONLY = ("captured", "fused", "fused+captured")
#: precisions of the benchmark's training rows: name -> the TrainConfig settings that train in it
#: (float32; TF32 matmuls, CUDA; the networks under bfloat16 autocast); :func:`precision_of` inverts it
PRECISIONS = {"fp32": {}, "tf32": {"tf32": True}, "bf16": {"autocast": "bf16"}}


def precision_of(cfg) -> str:
    """The :data:`PRECISIONS` entry a run's config trains in: ``bf16`` (``autocast="bf16"``), ``tf32`` or ``fp32``."""
    return "bf16" if cfg.autocast == "bf16" else "tf32" if cfg.tf32 else "fp32"


def mode_of(cfg, device_type: str) -> str:
    """The :data:`MODES` entry a run's config trains in on ``device_type`` (``backend=auto`` is
    fused on CUDA; ``max-autotune`` counts as compiled)."""
    fused = cfg.backend == "fused" or (cfg.backend == "auto" and device_type == "cuda")
    if cfg.compile == "reduce-overhead" and device_type == "cuda":
        return "fused+captured" if fused else "captured"
    if cfg.compile != "none":
        return "compiled"
    return "fused" if fused else "eager"


#: the environment variable through which the DAG (``snakemake --config train_set=...``) passes
#: :data:`HOW_NOT_WHAT` settings to every training job (``sinkgan train-study``)
TRAIN_SET_ENV = "SINKGAN_TRAIN_SET"


def how_not_what(items: typing.Iterable[str] | str, where: str = "train_set") -> dict:
    """``key=value`` settings of :data:`HOW_NOT_WHAT` only (several in one string: separated by spaces or commas),
    each value checked against its field; anything else is refused, naming ``where``: what a
    study's run computes comes from the study, not from the command line."""
    words = [w for item in ([items] if isinstance(items, str) else items) for w in item.replace(",", " ").split()]
    out = {}
    for item in words:
        key, value = parse_override(item)
        if key not in HOW_NOT_WHAT:
            raise ConfigError(f"{where}: {key!r} cannot be set here; allowed: {', '.join(HOW_NOT_WHAT)} (they change how "
                              f"a run computes, not what; the rest comes from the study)")
        out[key] = value
    validate(TrainConfig, dict(out))  # each value against its field's choices
    return out


def load_config(path: str | Path | None, overrides: typing.Iterable[str] = (), check_data: bool = True) -> TrainConfig:
    """Read a YAML config, apply ``key=value`` overrides, validate, and check the data set exists."""
    mapping: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a YAML text file (it is not UTF-8 text)") from None
        mapping = parse_yaml(text, str(path))
        if mapping is None:
            mapping = {}
        if not isinstance(mapping, dict):
            raise ConfigError(f"{path}: expected a mapping of field: value at the top level")
        mapping.pop("provenance", None)  # a resolved config written by a run may be fed back
    for item in overrides:
        key, value = parse_override(item)
        mapping[key] = value
    cfg = validate(TrainConfig, mapping)
    if check_data:
        check_data_available(cfg)
    return cfg


def check_data_available(cfg: TrainConfig) -> None:
    """Refuse a run whose data set is missing, with instructions (cheap: nothing is loaded)."""
    from . import data

    try:
        data.check_available(cfg.dataset, cfg.data_root, download=cfg.download)
    except data.DataUnavailable as err:
        raise ConfigError(f"dataset: {err}") from None
