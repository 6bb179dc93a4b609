"""The study: which training runs each figure needs, at a given scale (``config/study.yaml``).

A run's id is derived from its settings, so a run shared by several figures is trained once
and changing one experiment's hyperparameter creates (and trains) only the runs it changes::

    study = Study.load("smoke")
    for spec in study.figure_runs("fig04"):
        spec.label, spec.run_id, spec.run_dir, spec.config   # TrainConfig
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .config import ConfigError, TrainConfig, validate
from .provenance import repo_root

SCALES = ("smoke", "small", "paper")


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
    for key in ("cost", "grad", "value", "optimizer", "lr_g", "lr_d", "k_sn", "clip", "seed", "z_dim", "critic_dim"):
        value = getattr(cfg, key)
        if value != getattr(defaults, key):
            parts.append(f"{key}{_num(value) if isinstance(value, float) else value}")
    parts.append(f"it{cfg.iterations}")
    return "-".join(str(p) for p in parts)


class Study:
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
        self.results = root / "results" / scale
        self._runs: dict[str, RunSpec] = {}
        for fig in spec["figures"]:
            self.figure_runs(fig)  # validates every run up front

    @classmethod
    def load(cls, scale: str = "smoke", root: str | Path | None = None, data: str | None = None, data_root: str = "data") -> "Study":
        """``data``: override the scale's real/standin choice; ``data_root``: where real data sets live."""
        root = Path(root) if root is not None else repo_root()
        spec = yaml.safe_load((root / "config" / "study.yaml").read_text())
        return cls(spec, scale, root, data, data_root)

    # ------------------------------------------------------------------
    def dataset_for(self, paper_dataset: str) -> str:
        return self.spec["standins"][paper_dataset] if self.scale["data"] == "standin" else paper_dataset

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
        if mapping.get("variant") == "simsgda":
            mapping["n_critic"] = 1
        try:
            cfg = validate(TrainConfig, mapping)
        except ConfigError as err:
            raise ConfigError(f"study {self.scale_name}, figure {fig}: {err}") from None
        defaults = validate(TrainConfig, {**self.spec["defaults"], **train_defaults_only(train)})
        run_id = run_id_of(cfg, paper_ds, defaults)
        cfg.name = run_id
        return run_id, cfg

    def figure_runs(self, fig: str) -> list[RunSpec]:
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

    def runs_of_kind(self, kind: str) -> dict[str, RunSpec]:
        out = {}
        for fig in self.figures(kind):
            for spec in self.figure_runs(fig):
                out[spec.run_id] = spec
        return out


def train_defaults_only(train: dict) -> dict:
    """Scale settings that also shape the default config (used to decide which fields are 'non-default')."""
    return {k: v for k, v in train.items() if k in ("z_dim", "critic_dim")}
