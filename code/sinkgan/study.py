"""The study: which training runs each figure needs, at a given scale (``config/study.yaml``).

A run's id is derived from its settings, so a run shared by several figures is trained once
and changing one experiment's hyperparameter creates (and trains) only the runs it changes::

    study = Study.load("smoke")
    for spec in study.figure_runs("fig04"):
        spec.label, spec.run_id, spec.run_dir, spec.config   # TrainConfig

The study is resolved once per Snakemake invocation: the scale and the ``--config`` overrides
:data:`OVERRIDE_KEYS` give one :class:`Study`, written by :meth:`Study.write_resolved` to
``results/<scale>/.study/<overrides>.json``; every job of the invocation (training, each figure
notebook, the report) reads that file with :meth:`Study.read` instead of resolving again, so a
setting cannot mean two things in two places.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import yaml

from .atomic import atomic_write_text
from .config import ConfigError, TrainConfig, validate
from .provenance import repo_root
from .twins import originals

SCALES = ("smoke", "cpu", "small", "paper")  # the keys of config/study.yaml's `scales`, in size order
#: ``snakemake --config`` keys (besides ``scale``) that change how the study resolves.
OVERRIDE_KEYS = ("data", "data_root")
FORMAT = "sinkgan-resolved-study/1"


@dataclass
class RunSpec:
    label: str
    run_id: str
    run_dir: Path
    config: TrainConfig
    overrides: dict = field(default_factory=dict)


def _num(v) -> str:
    return f"{v:g}"


def run_id_of(cfg: TrainConfig, paper_dataset: str, defaults: TrainConfig) -> str:
    """Readable id from the settings that define a run, e.g. ``cats.photos-standin-seqsgda-p2-eps1-L10-m16-nc10``."""
    data = paper_dataset if cfg.dataset == paper_dataset else f"{paper_dataset}.{cfg.dataset}"
    parts = [data, cfg.variant, f"p{_num(cfg.p)}", f"eps{_num(cfg.eps)}", f"L{cfg.n_iter}", f"m{cfg.batch_size}", f"nc{cfg.n_critic}"]
    for key in ("cost", "grad", "value", "order", "optimizer", "lr_g", "lr_d", "k_sn", "clip", "seed", "z_dim", "critic_dim",
                "autocast"):
        value = getattr(cfg, key)
        if value != getattr(defaults, key):
            parts.append(f"{key}{_num(value) if isinstance(value, float) else value}")
    parts.append(f"it{cfg.iterations}")
    return "-".join(str(p) for p in parts)


class Study:
    """The runs of every figure at one scale, resolved (every config validated) on construction."""

    def __init__(self, spec: dict, scale: str, root: Path, data: str | None = None, data_root: str = "data"):
        if scale not in spec["scales"]:
            raise ConfigError(f"scale: {scale!r} is not one of {', '.join(spec['scales'])}")
        self.spec = spec
        self.scale_name = scale
        self.scale = dict(spec["scales"][scale])
        if data is not None:
            if data not in ("real", "standin"):
                raise ConfigError(f"data: {data!r} is not one of real, standin")
            self.scale["data"] = data
        self.root = root
        self.data_root = data_root
        #: the overrides given (``--config`` keys :data:`OVERRIDE_KEYS`), as they name the resolved file
        self.overrides = {**({"data": data} if data is not None else {}),
                          **({"data_root": data_root} if data_root != "data" else {})}
        self.results = root / "results" / scale
        self.spec = {**spec, "figures": scale_figures(spec, scale)}
        self._runs: dict[str, RunSpec] = {}
        self._by_figure: dict[str, list[RunSpec]] = {fig: self._resolve_figure(fig) for fig in self.spec["figures"]}

    @classmethod
    def load(cls, scale: str = "smoke", root: str | Path | None = None, data: str | None = None, data_root: str = "data") -> "Study":
        """``data``: override the scale's real/standin choice; ``data_root``: where real data sets live."""
        root = Path(root) if root is not None else repo_root()
        spec = yaml.safe_load((root / "config" / "study.yaml").read_text())
        return cls(spec, scale, root, data, data_root)

    @classmethod
    def from_overrides(cls, scale: str, config: Mapping, root: str | Path | None = None) -> "Study":
        """The study as ``snakemake --config scale=... <key>=...`` asks for it (keys :data:`OVERRIDE_KEYS`;
        an empty value is the scale's own choice)."""
        return cls.load(scale, root, **{k: config[k] for k in OVERRIDE_KEYS if config.get(k)})

    # ------------------------------------------------------------------ the resolved file
    def to_dict(self) -> dict:
        """Everything a consumer needs, resolved: the scale's settings, each figure's runs (label,
        run id, the study entry) and each run's full config."""
        return {
            "format": FORMAT,
            "scale": self.scale_name,
            "scale_settings": self.scale,
            "data_root": self.data_root,
            "overrides": self.overrides,
            "spec": self.spec,
            "figures": {fig: [{"label": s.label, "run_id": s.run_id, "overrides": s.overrides} for s in specs]
                        for fig, specs in self._by_figure.items()},
            "runs": {run_id: spec.config.to_dict() for run_id, spec in self._runs.items()},
        }

    def write_resolved(self, folder: str | Path) -> Path:
        """Write :meth:`to_dict` to ``folder/<name>.json``, the name given by the overrides alone
        (``default.json`` without any), so that an invocation with other overrides never overwrites
        it and editing ``config/study.yaml`` keeps the name (a job's parameters stay the same);
        a file that would not change is not written."""
        name = "default"
        if self.overrides:
            name = "overrides-" + hashlib.sha256(json.dumps(self.overrides, sort_keys=True).encode()).hexdigest()[:12]
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"
        path = Path(folder) / f"{name}.json"
        if not path.is_file() or path.read_text() != text:
            atomic_write_text(path, text)
        return path

    @classmethod
    def read(cls, path: str | Path, root: str | Path | None = None) -> "Study":
        """The study a :meth:`write_resolved` file holds, as written (nothing is resolved again; each
        config is re-validated).  Run directories are under ``<root>/results/<scale>/``."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ConfigError(f"resolved study {path}: cannot be read ({err})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ConfigError(f"resolved study {path}: not a {FORMAT} file")
        study = cls.__new__(cls)
        study.spec, study.scale_name, study.scale = doc["spec"], doc["scale"], doc["scale_settings"]
        study.root = Path(root) if root is not None else repo_root()
        study.data_root, study.overrides = doc["data_root"], doc["overrides"]
        study.results = study.root / "results" / study.scale_name
        configs = {run_id: validate(TrainConfig, cfg) for run_id, cfg in doc["runs"].items()}
        study._runs, study._by_figure = {}, {}
        for fig, entries in doc["figures"].items():
            specs = [RunSpec(e["label"], e["run_id"], study.results / e["run_id"], configs[e["run_id"]], dict(e["overrides"]))
                     for e in entries]
            study._by_figure[fig] = specs
            for spec in specs:
                study._runs.setdefault(spec.run_id, spec)
        return study

    # ------------------------------------------------------------------
    def dataset_for(self, paper_dataset: str) -> str:
        """The data set a run of ``paper_dataset`` trains on: the paper's, or (``data: standin``) the
        scale's offline data set (``scales.<scale>.standins``, else the study's ``standins``)."""
        if self.scale["data"] != "standin":
            return paper_dataset
        return {**self.spec["standins"], **self.scale.get("standins", {})}[paper_dataset]

    def figure(self, fig: str) -> dict:
        if fig not in self.spec["figures"]:
            raise KeyError(f"unknown figure {fig!r}; known: {', '.join(self.spec['figures'])}")
        return self.spec["figures"][fig]

    def figures(self, kind: str | None = None) -> list[str]:
        return [f for f, d in self.spec["figures"].items() if kind is None or d["kind"] == kind]

    def resolve(self, overrides: dict, fig: str | None = None) -> tuple[str, TrainConfig]:
        over = {k: v for k, v in overrides.items() if k != "label"}
        paper_ds = over.pop("dataset")
        train = dict(self.scale.get("train", {}))
        batch_scale = train.pop("batch_scale", 1.0)
        mapping = {**self.spec["defaults"], **self.spec["datasets"][paper_ds], **over, **train}
        mapping["batch_size"] = max(2, round(mapping["batch_size"] * batch_scale))
        by_fig = self.scale.get("iterations_by_figure", {})
        if fig in by_fig:
            mapping["iterations"] = by_fig[fig]
        mapping["dataset"] = self.dataset_for(paper_ds)
        mapping["data_root"] = self.data_root
        try:
            cfg = validate(TrainConfig, mapping)
        except ConfigError as err:
            raise ConfigError(f"study {self.scale_name}, figure {fig}: {err}") from None
        defaults = validate(TrainConfig, {**self.spec["defaults"], **train_defaults_only(train)})
        run_id = run_id_of(cfg, paper_ds, defaults)
        cfg.name = run_id
        return run_id, cfg

    def figure_runs(self, fig: str) -> list[RunSpec]:
        """The runs of ``fig`` in the study's order (resolved once, on construction)."""
        self.figure(fig)  # unknown figure: KeyError naming the known ones
        return list(self._by_figure[fig])

    def _resolve_figure(self, fig: str) -> list[RunSpec]:
        specs = []
        for entry in self.figure(fig).get("runs", []):
            run_id, cfg = self.resolve(entry, fig)
            spec = RunSpec(entry["label"], run_id, self.results / run_id, cfg, dict(entry))
            old = self._runs.setdefault(run_id, spec)
            if old.config != cfg:
                raise ConfigError(f"run id {run_id} resolves to two different configs (figure {fig})")
            specs.append(spec)
        return specs

    def runs(self) -> dict[str, RunSpec]:
        """Every distinct training run of the study at this scale."""
        return dict(self._runs)

    def twins(self) -> dict[str, str]:
        """``{twin run id: original run id}``: the runs that train exactly what an earlier run of the
        study trains (on stand-in data, a Cats and a CelebA run with the same settings), copied from
        it instead of trained (:mod:`sinkgan.twins`)."""
        return originals({run_id: spec.config for run_id, spec in self._runs.items()})

    def runs_of_kind(self, kind: str) -> dict[str, RunSpec]:
        out = {}
        for fig in self.figures(kind):
            for spec in self.figure_runs(fig):
                out[spec.run_id] = spec
        return out


def scale_figures(spec: dict, scale: str) -> dict:
    """The figures a scale builds: every figure of the study, or the scale's ``figures:`` list
    (a scale such as ``cpu`` that rebuilds only Figs. 4, 5, 7 and 9)."""
    wanted = spec["scales"][scale].get("figures")
    if wanted is None:
        return dict(spec["figures"])
    unknown = [f for f in wanted if f not in spec["figures"]]
    if unknown:
        raise ConfigError(f"scales.{scale}.figures: unknown figure(s) {', '.join(unknown)}; known: {', '.join(spec['figures'])}")
    return {f: spec["figures"][f] for f in spec["figures"] if f in wanted}


def train_defaults_only(train: dict) -> dict:
    """Scale settings that also shape the default config (used to decide which fields are 'non-default')."""
    return {k: v for k, v in train.items() if k in ("z_dim", "critic_dim")}
