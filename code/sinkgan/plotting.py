"""Shared figure code for the notebooks in ``code/notebooks/`` (figures 4-22, SiNG 7.1-7.3).

Every figure is drawn by a jupytext percent-format notebook that runs three ways and must give
the same PDF, byte for byte:

* from Snakemake (``script:`` directive; a ``snakemake`` object is injected into the notebook's
  globals and carries ``params.figure``, ``params.scale`` and ``output[0]``);
* from the command line: ``FIGURE=fig04 SCALE=smoke python code/notebooks/losses.py``;
* opened in Jupyter (same environment variables, or the notebook's default figure): the figure
  is shown inline (:func:`show_inline`, a PNG) and the same PDF is written.

This module provides what all of them share:

``notebook_params(default_figure, namespace)``
    where the figure, scale, output path and repository root come from;
``load_run(run_dir)``
    one finished run directory (``summary.json``, ``config.yaml``, ``log.csv``; see
    ``docs/CONTRACT.md``);
``figure_runs(params)``
    the (RunSpec, Run) pairs of a figure, in the paper's order (from ``sinkgan.study``);
``run_label``, ``resolved_text``, ``figure_title``
    labels and titles with the values that actually ran (read from the run's resolved config),
    the paper's value beside them where they differ, in the paper's notation (:func:`notation`);
``style_of``, ``figure_legend``, ``SINGLE``/``DOUBLE``
    one colour, line style and marker per setting in every figure, one legend per figure outside
    the data, two figure widths; the style file ``sinkgan.mplstyle`` (:func:`apply_style`);
``degenerate_notes``, ``twin_notes``, ``coinciding``
    constant series, identical curves or sample grids, near-constant images, runs identical to
    another figure's runs: found and written on the figure (:func:`stamp`) instead of drawn
    silently;
``choose_yscale``
    linear, log or symlog from the span of the data;
``loss_axes``, ``sample_grid_panel``
    the two kinds of panel;
``stamp(fig, scale, summaries, configs=..., notes=...)``
    the provenance line every figure carries (scale, data set -- a stand-in named as such --,
    iterations, narrowed networks, code version) and the figure's notes; lays the figure out;
``save_pdf(fig, path)``
    deterministic, atomic PDF output.

Determinism: outside a Jupyter kernel the Agg backend; the style file applied by
:func:`apply_style` on top of matplotlib's defaults (each notebook calls it), no
``CreationDate``/``Producer`` metadata, and images embedded unresampled.
"""

from __future__ import annotations

import functools
import io
import math
import os
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import matplotlib

if "ipykernel" not in sys.modules and not os.environ.get("MPLBACKEND"):
    # Headless and deterministic from the command line and Snakemake; in a Jupyter kernel the
    # kernel's (inline) backend stays, so figures can be shown.
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after matplotlib.use)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from . import rundir  # noqa: E402
from .config import paper_subset  # noqa: E402
from .atomic import atomic_write_bytes  # noqa: E402
from .provenance import repo_root  # noqa: E402  (one definition of the root, shared with the study)
from .twins import training_key  # noqa: E402

__all__ = [
    "DOUBLE",
    "LOG_COLUMNS",
    "PALETTE",
    "SINGLE",
    "STYLE_FILE",
    "NotebookParams",
    "Run",
    "apply_style",
    "choose_yscale",
    "coinciding",
    "constant_value",
    "dataset_title",
    "degenerate_notes",
    "distinct_levels",
    "figure_kind",
    "figure_legend",
    "figure_runs",
    "figure_title",
    "study_of",
    "load_run",
    "loss_axes",
    "network_text",
    "notation",
    "notebook_params",
    "optimizer_style",
    "repo_root",
    "resolved_text",
    "run_config",
    "run_label",
    "run_styles",
    "sample_grid_panel",
    "save_pdf",
    "set_yscale",
    "show_inline",
    "smooth",
    "stamp",
    "stamp_text",
    "style_of",
    "twin_notes",
]

#: Columns of ``log.csv`` (docs/CONTRACT.md).
LOG_COLUMNS = rundir.LOG_COLUMNS

#: The style file (shipped as package data).
STYLE_FILE = Path(__file__).with_name("sinkgan.mplstyle")

#: Figure widths in inches at final size: one column and two columns of a two-column paper.
SINGLE, DOUBLE = 3.5, 7.2

#: Okabe-Ito colour-blind-safe palette (the style file's colour cycle) without its yellow, which
#: has too little contrast on white for lines.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

#: Font size of the stamp and the notes (points, final size).
STAMP_FONTSIZE = 7.0

#: Human names of the paper's data sets (keys of ``datasets:`` in config/study.yaml).
DATASET_NAMES = {"mnist": "MNIST", "cats": "Cats", "celeba": "CelebA"}

#: Environment variables read by :func:`notebook_params`.
ENV_FIGURE, ENV_SCALE, ENV_ROOT, ENV_OUT = "FIGURE", "SCALE", "SINKGAN_ROOT", "FIGURE_OUT"
ENV_DATA, ENV_DATA_ROOT, ENV_STUDY = "DATA", "DATA_ROOT", "SINKGAN_STUDY"


def apply_style() -> None:
    """Reset matplotlib to its defaults and apply the style file :data:`STYLE_FILE`.

    Every notebook calls it once before drawing (importing this module changes no style).
    """
    matplotlib.rc_file_defaults()
    plt.style.use(str(STYLE_FILE))


# --------------------------------------------------------------------------------------------
# Where a notebook's inputs and output are


@dataclass(frozen=True)
class NotebookParams:
    """What a figure notebook draws and where it writes it."""

    figure: str  #: e.g. ``"fig04"``
    scale: str  #: e.g. ``"smoke"``
    out: Path  #: the PDF to write
    root: Path  #: repository root (``config/study.yaml``, ``results/<scale>/``)
    data: str | None = None  #: ``real``/``standin`` override of the scale's data choice (``--config data=``)
    data_root: str = "data"  #: where real data sets live (part of the resolved run configs)
    study: Path | None = None  #: the invocation's resolved study (under Snakemake); read, never re-resolved

    @property
    def results_dir(self) -> Path:
        """``<root>/results/<scale>``."""
        return self.root / "results" / self.scale


def notebook_params(default_figure: str, namespace: Mapping[str, Any] | None = None) -> NotebookParams:
    """Figure, scale, output path and root for a notebook.

    Pass the notebook's ``globals()`` as ``namespace``. With a ``snakemake`` object in
    ``namespace`` (a ``script:`` rule) the figure is ``snakemake.params.figure``, the scale
    ``snakemake.params.scale`` and the output ``snakemake.output[0]``. Otherwise the
    environment decides: ``FIGURE`` (default ``default_figure``), ``SCALE`` (default
    ``"smoke"``), ``FIGURE_OUT`` (default ``<root>/figures/<scale>/<figure>.pdf``), ``DATA`` and
    ``DATA_ROOT`` (the ``--config data=... data_root=...`` overrides). With a resolved study
    (``snakemake.params.study``, or ``SINKGAN_STUDY``, as the ``plot`` rule passes it) the
    notebook does not resolve the study at all: it reads the file the invocation resolved (see
    :meth:`sinkgan.study.Study.read`), the same file the training rules and the report read, so
    it draws exactly the runs that were trained. The root is :func:`repo_root` in both cases.
    """
    root = repo_root()
    smk = (namespace or {}).get("snakemake")
    if smk is not None:
        figure = str(smk.params.figure)
        scale = str(smk.params.scale)
        out = Path(str(smk.output[0]))
        data, data_root = None, "data"
        study = getattr(smk.params, "study", None)
        study = Path(str(study)) if study else None
    else:
        figure = os.environ.get(ENV_FIGURE) or default_figure
        scale = os.environ.get(ENV_SCALE) or "smoke"
        out_env = os.environ.get(ENV_OUT)
        out = Path(out_env) if out_env else root / "figures" / scale / f"{figure}.pdf"
        data = os.environ.get(ENV_DATA) or None
        data_root = os.environ.get(ENV_DATA_ROOT) or "data"
        study = Path(os.environ[ENV_STUDY]) if os.environ.get(ENV_STUDY) else None
    return NotebookParams(figure=figure, scale=scale, out=out, root=root, data=data, data_root=data_root, study=study)


# --------------------------------------------------------------------------------------------
# Reading runs


@dataclass(frozen=True)
class Run:
    """One finished run directory (``results/<scale>/<run_id>/``)."""

    dir: Path
    summary: dict
    config: dict
    log: pd.DataFrame

    @property
    def final_samples(self) -> Path:
        """``samples/final.png``: the 8x8 grid at the last iteration."""
        return self.dir / "samples" / "final.png"


def read_quality(run: Run, required: bool = True) -> dict | None:
    """The run's ``quality.json`` (FID, KID and, with the standard weights, IS of its final generator,
    and ``curve`` over its snapshots), written by the rule ``quality``; absent: a clear error
    (``required``) or ``None``."""
    path = run.dir / rundir.QUALITY
    q = rundir.read_json(path)
    if q is None and required:
        raise FileNotFoundError(f"{path} does not exist; measure it first: `snakemake --cores 2 {path}`")
    return q


#: A sample panel's score line where the run has no ``quality.json``.
QUALITY_NOT_MEASURED = "FID/KID not measured"


def unmeasured_notes(labels: Sequence[str], runs: Sequence[Run], qualities: Sequence[Mapping | None]) -> list[str]:
    """One note naming the runs drawn without ``quality.json`` (``None`` in ``qualities``, as
    :func:`read_quality` returns them: a cached scale draws their grids, but their FID/KID needs the
    generator, which is not kept beyond the smoke scale) and how to measure them."""
    missing = [(label, run) for label, run, q in zip(labels, runs, qualities) if q is None]
    if not missing:
        return []
    names = ", ".join(label.replace("\n", " ") for label, _ in missing)
    where = Path(*missing[0][1].dir.parts[-3:]) / rundir.QUALITY
    return [f"{QUALITY_NOT_MEASURED} for {names}: no quality.json; the weights it needs are not kept beyond "
            f"the smoke scale (`snakemake --cores 2 {where}` retrains the run and measures it)"]


def quality_text(q: Mapping | None) -> str:
    """``"FID 41.2, KID 0.0312 ± 0.002"``: the final generator's scores, for a panel's title
    (:data:`QUALITY_NOT_MEASURED` without a ``quality.json``)."""
    if q is None:
        return QUALITY_NOT_MEASURED
    parts = []
    if q.get("fid") is not None:
        parts.append(f"FID {q['fid']:.3g}")
    if q.get("kid_mean") is not None:
        sd = q.get("kid_std")
        parts.append(f"KID {q['kid_mean']:#.3g}" + (f" ± {sd:.1g}" if sd is not None else ""))
    return ", ".join(parts) or "no FID/KID"


def load_run(run_dir: str | os.PathLike) -> Run:
    """Read ``summary.json``, ``config.yaml`` and ``log.csv`` of a finished run.

    ``summary.json`` is written last by the trainer, so its absence means the run is missing
    or unfinished; that is reported with the path and how to produce it.
    """
    d = Path(run_dir)
    summary = rundir.read_summary(d)
    log = rundir.read_log(d)
    if log.empty:
        raise ValueError(f"{d / 'log.csv'}: run {d.name} logged no iteration; there is nothing to draw")
    bad = ~np.isfinite(log[["g_loss", "d_loss"]].to_numpy(dtype=float)).all(axis=1)
    if bad.any():
        raise ValueError(f"{d / 'log.csv'}: run {d.name} has non-finite losses from iteration "
                         f"{int(log.iteration[bad].iloc[0])} on; refusing to draw them as a gap")
    return Run(dir=d, summary=summary, config=rundir.read_config(d) or {}, log=log)


def figure_runs(params: NotebookParams) -> list[tuple[Any, Run]]:
    """The runs of ``params.figure`` as ``(RunSpec, Run)`` pairs, in the paper's order.

    The run list comes from ``sinkgan.study`` (``config/study.yaml``); each run is read from
    ``<root>/results/<scale>/<run_id>`` so that ``$SINKGAN_ROOT`` relocates the inputs.
    """
    specs = study_of(params).figure_runs(params.figure)
    if not specs:
        raise ValueError(f"figure {params.figure!r} lists no runs in config/study.yaml")
    return [(spec, load_run(params.results_dir / spec.run_id)) for spec in specs]


def figure_title(params: NotebookParams, runs: Sequence[tuple[Any, Run]] | None = None) -> str:
    """``"Fig. 4: <title from config/study.yaml>"`` with the values that ran (:func:`resolved_text`).

    ``runs``: the figure's (RunSpec, Run) pairs (default: the study's resolved configs of the figure).
    """
    fig = study_of(params).figure(params.figure)
    number = params.figure[3:].lstrip("0") if params.figure.startswith("fig") else params.figure
    if runs is None:
        configs = [run_config(spec, None) for spec in study_of(params).figure_runs(params.figure)]
    else:
        configs = [run_config(spec, run) for spec, run in runs]
    return f"Fig. {number}: {resolved_text(str(fig.get('title', params.figure)), configs)}"


def figure_kind(params: NotebookParams) -> str:
    """The figure's ``kind`` in config/study.yaml (``losses``, ``samples``, ...)."""
    return str(study_of(params).figure(params.figure).get("kind"))


@functools.lru_cache(maxsize=8)
def study_of(params: NotebookParams):
    """The study the notebook draws from: the invocation's resolved file (``params.study``), else
    ``config/study.yaml`` resolved once here with the ``DATA``/``DATA_ROOT`` overrides."""
    from sinkgan.study import Study  # imported lazily: plotting helpers work without it

    if params.study is not None:
        study = Study.read(params.study, root=params.root)
        if study.scale_name != params.scale:
            raise ValueError(f"{params.study} resolves scale {study.scale_name!r}, not {params.scale!r}")
        return study
    return Study.load(params.scale, root=params.root, data=params.data, data_root=params.data_root)


def dataset_title(spec: Any, run: Run) -> str:
    """Paper data set of a run (``"Cats"``), from the spec's overrides or the summary."""
    key = (getattr(spec, "overrides", None) or {}).get("dataset")
    if key is None:
        key = run.summary.get("stands_in_for") or run.summary.get("dataset", "?")
    return DATASET_NAMES.get(str(key).lower(), str(key))


# --------------------------------------------------------------------------------------------
# Labels: the values that ran, in the paper's notation

#: Symbols of the paper written in labels and titles as ``name = value`` -> config field.
LABEL_FIELDS = {"m": "batch_size", "eps": "eps", "L": "n_iter", "p": "p", "n_critic": "n_critic"}

#: Plain-text names -> the paper's symbols (unicode where DejaVu Sans has the glyph, else mathtext).
NOTATION = {
    "eta_theta": r"$\eta_\theta$", "eta_phi": r"$\eta_\phi$", "n_critic": r"$n_\mathrm{critic}$",
    "kappa": "\u03ba", "eps": "\u03b5", "gamma": "\u03b3", "lambda": "\u03bb", "theta": "\u03b8",
}
_NOTATION_RE = re.compile(r"(?<![\\\w])(" + "|".join(sorted(NOTATION, key=len, reverse=True)) + r")(?!\w)")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_VALUE_RE = re.compile(r"(?<![\w\\])(" + "|".join(sorted(LABEL_FIELDS, key=len, reverse=True))
                       + r")(\s*=\s*)(" + _NUMBER + r"(?:,\s*" + _NUMBER + r")*)")


def notation(text: str) -> str:
    """Write the plain names of ``text`` as the paper's symbols: eps -> ε, kappa -> κ,
    eta_theta -> η_θ, eta_phi -> η_φ, n_critic -> n_critic with a subscript (outside ``$...$``)."""
    parts = re.split(r"(\$[^$]*\$)", text)
    return "".join(part if part.startswith("$") else _NOTATION_RE.sub(lambda m: NOTATION[m.group(1)], part)
                   for part in parts)


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def run_config(spec: Any, run: Run | None = None) -> dict:
    """The configuration a run was trained with: its ``config.yaml`` (what ran) over the study's
    resolved ``spec.config`` (for fields the file lacks)."""
    cfg = getattr(spec, "config", None) if spec is not None else None
    out = dict(cfg.to_dict()) if hasattr(cfg, "to_dict") else dict(cfg or {})
    if run is not None:
        out.update({k: v for k, v in (run.config or {}).items() if k != "provenance"})
    return out


def resolved_text(text: str, configs: Sequence[Mapping[str, Any]]) -> str:
    """``text`` (a label or title from config/study.yaml, which states the paper's values) with
    every ``m = .. / eps = .. / L = .. / p = .. / n_critic = ..`` replaced by the values of the
    resolved ``configs`` that ran, and the paper's value beside it where they differ:
    ``"m = 64"`` for runs with ``batch_size`` 10 becomes ``"m = 10 (paper: 64)"``; a list
    ``"m = 100, 200, 300"`` becomes the runs' values in order. Then :func:`notation`."""

    def sub(match: re.Match) -> str:
        name, eq, nominal_text = match.groups()
        field = LABEL_FIELDS[name]
        nominal = [float(v) for v in nominal_text.split(",")]
        actual = list(dict.fromkeys(float(c[field]) for c in configs if c.get(field) is not None))
        if not actual or sorted(actual) == sorted(nominal):
            return match.group(0)
        values = ", ".join(_fmt(v) for v in actual)
        return f"{name}{eq}{values} (paper: {', '.join(_fmt(v) for v in nominal)})"

    return notation(_VALUE_RE.sub(sub, text))


def run_label(spec: Any, run: Run | None = None) -> str:
    """The legend/panel label of one run: ``spec.label`` with the values that run used
    (:func:`resolved_text` on the run's own config)."""
    return resolved_text(str(spec.label), [run_config(spec, run)])


def network_text(configs: Sequence[Mapping[str, Any]]) -> str | None:
    """``"networks narrowed: ngf 8 (paper 64), ..."`` where the runs' widths differ from the
    paper's (the defaults of :class:`sinkgan.config.TrainConfig`, Tables 2-3), plus a training-image
    limit; ``None`` when the runs use the paper's networks on all images."""
    from .config import TrainConfig

    paper = TrainConfig()
    parts = []
    for field in ("ngf", "ndf", "critic_dim", "z_dim"):
        values = list(dict.fromkeys(c[field] for c in configs if c.get(field) is not None))
        if values and values != [getattr(paper, field)]:
            parts.append(f"{field} {', '.join(_fmt(v) for v in values)} (paper {_fmt(getattr(paper, field))})")
    out = f"networks narrowed: {', '.join(parts)}" if parts else None
    limits = sorted({int(c["max_images"]) for c in configs if c.get("max_images")})
    if limits:
        out = (out + " | " if out else "") + f"first {', '.join(map(str, limits))} training images"
    return out


# --------------------------------------------------------------------------------------------
# One visual language: a style per setting, one legend per figure

_SETTING_FIELDS = ("variant", "p", "eps", "n_iter", "batch_size", "n_critic", "cost", "grad", "value",
                   "order", "optimizer", "lr_g", "lr_d", "seed")


def _setting_key(spec: Any) -> tuple:
    """A run's setting: its figure-definition values except the data set (so the same setting has
    the same style for Cats and CelebA and in every figure, at every scale)."""
    over = {k: v for k, v in (getattr(spec, "overrides", None) or {}).items() if k not in ("label", "dataset")}
    return tuple((k, _fmt(over[k])) for k in _SETTING_FIELDS if k in over)


def style_of(index: int) -> dict:
    """Colour, line style and marker number ``index``: colours cycle through :data:`PALETTE`,
    the line style changes every ``len(PALETTE)`` and the marker with the index, so no two
    indices below ``len(PALETTE) * len(LINESTYLES)`` look alike."""
    if index < 0:
        raise ValueError(f"style index must be >= 0, got {index}")
    return {"color": PALETTE[index % len(PALETTE)],
            "linestyle": LINESTYLES[(index // len(PALETTE)) % len(LINESTYLES)],
            "marker": MARKERS[index % len(MARKERS)]}


def run_styles(params: NotebookParams, specs: Iterable[Any]) -> dict[str, dict]:
    """``run_id -> style`` for ``specs``: one style per setting, numbered in the order the
    settings first appear in config/study.yaml (all figures), so a setting looks the same in
    every panel and figure."""
    study = study_of(params)
    order: dict[tuple, int] = {}
    for fig in study.figures():
        for spec in study.figure_runs(fig):
            order.setdefault(_setting_key(spec), len(order))
    out = {}
    for spec in specs:
        key = _setting_key(spec)
        out[spec.run_id] = style_of(order.setdefault(key, len(order)))
    return out


def optimizer_style(name: str) -> dict:
    """Colour, line style and marker of a SiNG experiment's optimizer (same in every SiNG figure)."""
    from .sing_experiments import OPTIMIZERS

    i = OPTIMIZERS.index(name) if name in OPTIMIZERS else len(OPTIMIZERS)
    return {"color": PALETTE[i % len(PALETTE)], "linestyle": LINESTYLES[i % len(LINESTYLES)],
            "marker": MARKERS[i % len(MARKERS)]}


def figure_legend(fig: plt.Figure, extra: Sequence[tuple[Any, str]] = (), ncol: int | None = None):
    """One legend for the whole figure, outside the data (below the panels; :func:`stamp` places
    it): the labelled artists of all axes, each label once, then ``extra`` (handle, label)
    pairs. Axes legends are removed."""
    handles: dict[str, Any] = {}
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    for h, lab in extra:
        handles.setdefault(lab, h)
    if not handles:
        return None
    width = fig.get_size_inches()[0]
    longest = max(len(lab) for lab in handles)
    fits = max(1, int(width * 72 / (longest * 0.55 * plt.rcParams["legend.fontsize"] + 36)))
    n = len(handles)
    ncol = ncol or min(n, fits)
    return fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=ncol,
                      frameon=False, bbox_to_anchor=(0.5, 0.0))


# --------------------------------------------------------------------------------------------
# Degenerate results: found and said on the figure, never drawn silently


def constant_value(values: Sequence[float] | np.ndarray, rtol: float = 1e-9) -> float | None:
    """The value of a series that is constant (all finite values within ``rtol * max(1, |v|)`` of
    each other, at least two points), else ``None``."""
    y = np.asarray(values, dtype=float)
    y = y[np.isfinite(y)]
    if y.size < 2:
        return None
    if float(y.max() - y.min()) <= rtol * max(1.0, float(np.abs(y).max())):
        return float(y[0])
    return None


def distinct_levels(image: str | os.PathLike | np.ndarray) -> int:
    """Number of distinct pixel values (over all channels) of an image or PNG file."""
    if not isinstance(image, np.ndarray):
        from PIL import Image

        with Image.open(image) as im:
            image = np.asarray(im.convert("RGB"))
    return int(np.unique(np.asarray(image)).size)


#: A sample grid with at most this many distinct pixel values is reported as near-constant.
NEAR_CONSTANT_LEVELS = 16


def _pixels(image: str | os.PathLike | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return image
    from PIL import Image

    with Image.open(image) as im:
        return np.asarray(im.convert("RGB"))


def coinciding(curves: Mapping[str, Sequence[float]], rtol: float = 1e-2) -> list[tuple[list[str], float]]:
    """Groups of curves that coincide without being identical: same length and
    ``max|a - b| <= rtol * (max - min of a and b together)``, i.e. within 1 % of the height they
    span on the plot, so they are drawn on top of each other; returns ``(labels, max |a - b|)``
    per group of two or more."""
    labels = list(curves)
    arrays = {k: np.asarray(curves[k], dtype=float) for k in labels}
    groups: list[tuple[list[str], float]] = []
    used: set[str] = set()
    for i, a in enumerate(labels):
        if a in used:
            continue
        group, worst = [a], 0.0
        for b in labels[i + 1:]:
            x, y = arrays[a], arrays[b]
            if b in used or x.shape != y.shape or np.array_equal(x, y):
                continue
            diff = float(np.nanmax(np.abs(x - y))) if x.size else 0.0
            both = np.concatenate([x, y])
            if diff <= rtol * max(float(np.nanmax(both) - np.nanmin(both)), 1e-300):
                group.append(b)
                worst = max(worst, diff)
        if len(group) > 1:
            used.update(group)
            groups.append((group, worst))
    return groups


def degenerate_notes(curves: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
                     images: Mapping[str, str | os.PathLike | np.ndarray] | None = None,
                     max_levels: int = NEAR_CONSTANT_LEVELS) -> list[str]:
    """Human-readable notes on degenerate data, for a figure (and the report).

    ``curves``: ``label -> {series name -> values}`` (e.g. ``{"G loss": ..., "D loss": ...}``);
    ``images``: ``label -> PNG path or pixel array``. Reported: a series that is constant
    (:func:`constant_value`), runs whose series are all identical (the same data drawn as two
    experiments), series that coincide on the plot (:func:`coinciding`), a sample grid with at
    most ``max_levels`` distinct pixel values, and identical sample grids.
    """
    notes: list[str] = []
    curves = curves or {}
    for label, series in curves.items():
        for name, values in series.items():
            value = constant_value(values)
            if value is not None:
                notes.append(f"{label}: {name} is constant ({value:.6g}) at every iteration")
    notes += _identical_groups({k: tuple(np.asarray(v, dtype=float).tobytes() for v in s.values())
                                for k, s in curves.items()}, "identical numbers, drawn as separate runs")
    names = list(dict.fromkeys(n for s in curves.values() for n in s))
    for name in names:
        have = {k: s[name] for k, s in curves.items() if name in s}
        for group, diff in coinciding(have):
            notes.append(f"{name} of {_join(group)} coincide (largest difference {diff:.2g})")
    pixels = {k: _pixels(v) for k, v in (images or {}).items()}
    for label, px in pixels.items():
        levels = int(np.unique(px).size)
        if levels <= max_levels:
            notes.append(f"{label}: samples are near-constant ({levels} distinct pixel values)")
    notes += _identical_groups({k: (px.shape, px.tobytes()) for k, px in pixels.items()},
                               "identical sample grids")
    return notes


def _join(labels: Sequence[str]) -> str:
    return ", ".join(labels[:-1]) + " and " + labels[-1] if len(labels) > 1 else labels[0]


def _identical_groups(keys: Mapping[str, Any], what: str) -> list[str]:
    groups: dict[Any, list[str]] = {}
    for label, key in keys.items():
        groups.setdefault(key, []).append(label)
    return [f"{_join(g)}: {what}" for g in groups.values() if len(g) > 1]


def twin_notes(params: NotebookParams, runs: Sequence[tuple[Any, Run]]) -> list[str]:
    """Runs of this figure that train exactly what a run of another paper data set elsewhere in
    the study trains (e.g. Cats and CelebA on the same stand-in images with the same seed):
    ``"Ours (CelebA): the same numbers as the Cats run of fig06, fig08 (same data and seed)"``.

    Decided from the resolved configurations alone (:func:`sinkgan.twins.training_key`: every result
    setting but the run's name, the data actually trained on included), never from other runs'
    files: a figure depends on its own runs only, so it is drawn the same whichever other runs have
    finished.  The DAG trains the first of such runs and copies it into the others (:mod:`sinkgan.twins`).
    """
    study = study_of(params)
    here = {spec.run_id for spec, _ in runs}
    where: dict[str, list[str]] = {}
    specs: dict[str, Any] = {}
    for fig in study.figures():
        for spec in study.figure_runs(fig):
            where.setdefault(spec.run_id, []).append(fig)
            specs.setdefault(spec.run_id, spec)
    found: dict[str, tuple[str, set[str]]] = {}
    for spec, run in runs:
        mine = spec.overrides.get("dataset")
        for run_id, other in specs.items():
            theirs = other.overrides.get("dataset")
            if run_id in here or theirs == mine or training_key(other.config) != training_key(spec.config):
                continue
            label = f"{run_label(spec, run)} ({DATASET_NAMES.get(mine, str(mine))})"
            name, figs = found.setdefault(label, (DATASET_NAMES.get(theirs, str(theirs)), set()))
            figs.update(f for f in where[run_id] if f != params.figure)
    return [f"{label}: the same numbers as the {name} run{' of ' + ', '.join(sorted(figs)) if figs else ''} "
            f"(same data and seed)" for label, (name, figs) in found.items()]


# --------------------------------------------------------------------------------------------
# Scales


def choose_yscale(arrays: Iterable[Sequence[float]], decades: float = 2.0) -> tuple[str, dict]:
    """``("linear" | "log" | "symlog", kwargs for set_yscale)`` for data ``arrays`` drawn on one axis.

    The span is ``log10(max|y| / q)`` with ``q`` the 10th percentile of the non-zero ``|y|`` (a few
    points near zero do not count); above ``decades`` the axis is logarithmic: ``log`` when every
    value is positive, else ``symlog`` with ``linthresh = q``.
    """
    ys = [np.asarray(a, dtype=float) for a in arrays]
    y = np.concatenate([a[np.isfinite(a)] for a in ys]) if ys else np.array([])
    mag = np.abs(y[y != 0])
    if mag.size == 0:
        return "linear", {}
    q = float(np.percentile(mag, 10))
    if math.log10(float(mag.max()) / q) <= decades:
        return "linear", {}
    if (y > 0).all():
        return "log", {}
    return "symlog", {"linthresh": 10 ** math.floor(math.log10(q))}


def set_yscale(ax: plt.Axes, arrays: Iterable[Sequence[float]]) -> str:
    """Apply :func:`choose_yscale` to ``ax``; returns the scale's name."""
    name, kw = choose_yscale(arrays)
    ax.set_yscale(name, **kw)
    return name


# --------------------------------------------------------------------------------------------
# Panels


def smooth(values: Sequence[float] | np.ndarray | pd.Series, window: int | None = None) -> np.ndarray:
    """Centred moving average: ``s_i = mean(y_j : |j - i| <= w // 2, 0 <= j < n)``.

    The default window is ``w = max(1, round(n / 25))`` (light smoothing: 4% of the curve);
    ``w = 1`` returns the values unchanged. Edges average over the points that exist.
    """
    y = pd.Series(np.asarray(values, dtype=float))
    n = len(y)
    w = max(1, int(round(n / 25))) if window is None else int(window)
    if w < 1:
        raise ValueError(f"smoothing window must be >= 1, got {w}")
    if w == 1:
        return y.to_numpy()
    return y.rolling(w, center=True, min_periods=1).mean().to_numpy()


def loss_axes(
    ax: plt.Axes,
    curves: Iterable[tuple],
    column: str,
    ylabel: str | None = None,
    title: str | None = None,
    window: int | None = None,
) -> list[np.ndarray]:
    """Plot ``log[column]`` against ``log.iteration`` for each ``(label, run[, style])``.

    ``style`` (from :func:`run_styles`; default :func:`style_of` by position) gives colour, line
    style and marker. The raw curve is drawn thin and translucent, the :func:`smooth` curve on top
    with the style and markers and carries the label; when smoothing would change nothing only
    the raw curve is drawn, opaque. A constant series is marked "constant" at its end. The y axis
    is linear, log or symlog by :func:`choose_yscale`. No axes legend (see :func:`figure_legend`).
    Returns the plotted y arrays (for a scale shared with other panels).
    """
    if column not in ("g_loss", "d_loss"):
        raise ValueError(f"column must be 'g_loss' or 'd_loss', got {column!r}")
    drawn = []
    for i, item in enumerate(curves):
        label, run = item[0], item[1]
        style = dict(item[2]) if len(item) > 2 and item[2] else style_of(i)
        x = run.log["iteration"].to_numpy()
        y = run.log[column].to_numpy(dtype=float)
        s = smooth(y, window)
        marks = {"markevery": max(1, len(x) // 8), "markersize": 3.5}
        if np.array_equal(s, y):
            ax.plot(x, y, label=label, **style, **marks)
        else:
            ax.plot(x, y, color=style["color"], alpha=0.3, linewidth=0.5)
            ax.plot(x, s, label=label, **style, **marks)
        value = constant_value(y)
        if value is not None and len(x):
            ax.annotate(f"constant {value:.3g}", (x[-1], y[-1]), xytext=(-2, 3), textcoords="offset points",
                        ha="right", va="bottom", fontsize=7, color=style["color"])
        drawn.append(y)
    ax.set_xlabel("generator iterations")
    ax.set_ylabel(ylabel or {"g_loss": "generator loss", "d_loss": "discriminator loss"}[column])
    if title:
        ax.set_title(title)
    set_yscale(ax, drawn)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    return drawn


def sample_grid_panel(ax: plt.Axes, png: str | os.PathLike, label: str) -> None:
    """Show one sample grid PNG (8x8 samples) with ``label`` above it, pixels unresampled."""
    from PIL import Image

    path = Path(png)
    if not path.is_file():
        raise FileNotFoundError(f"sample grid {path} does not exist (run unfinished?)")
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    ax.imshow(rgb, interpolation="none")
    ax.set_title(label)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


# --------------------------------------------------------------------------------------------
# Provenance stamp and output


def _short_commit(commit: str) -> str:
    commit = str(commit)
    head, dirty = commit, ""
    for suffix in ("-dirty", "+dirty"):
        if commit.endswith(suffix):
            head, dirty = commit[: -len(suffix)], suffix
    if len(head) > 12 and all(c in "0123456789abcdef" for c in head.lower()):
        head = head[:12]
    return head + dirty


def _range(values: list[Any]) -> str:
    uniq = sorted(set(values), key=lambda v: (str(type(v)), v))
    if len(uniq) == 1:
        return str(uniq[0])
    if all(isinstance(v, (int, float)) for v in uniq):
        return f"{uniq[0]}-{uniq[-1]}"
    return ", ".join(str(v) for v in uniq)


def stamp_text(scale: str, summaries: Sequence[Mapping[str, Any]]) -> str:
    """The provenance text of a figure drawn from runs with these ``summary.json`` dicts.

    Names the scale, every data set actually trained on -- a stand-in as
    ``"<name> (STAND-IN for <paper data set>)"``, a subset of the paper's own data as
    ``"<name> (SUBSET of <paper data set>)"`` --, the iterations (a range if runs differ)
    and the code version(s) (git commit) of the runs.
    """
    if not summaries:
        raise ValueError("stamp needs at least one run summary")
    for s in summaries:
        missing = [k for k in ("dataset", "iterations", "commit") if k not in s]
        if missing:
            raise ValueError(f"summary.json lacks field(s) {missing}: {dict(s)}")
    data: dict[str, list[str]] = {}
    for s in summaries:
        targets = data.setdefault(str(s["dataset"]), [])
        if s.get("dataset_is_standin") and not paper_subset(s["dataset"]):
            paper = str(s.get("stands_in_for") or "?")
            paper = DATASET_NAMES.get(paper.lower(), paper)
            if paper not in targets:
                targets.append(paper)
    parts = []
    for name, targets in data.items():
        if whole := paper_subset(name):  # the paper's own images, fewer of them: not a stand-in
            parts.append(f"{name} (SUBSET of {DATASET_NAMES.get(whole, whole)})")
        else:
            parts.append(f"{name} (STAND-IN for {', '.join(targets)})" if targets else name)
    scales = {str(s.get("scale", scale)) for s in summaries}
    if scales != {scale}:
        raise ValueError(f"figure at scale {scale!r} drawn from runs of scale(s) {sorted(scales)}")
    iters = _range([int(s["iterations"]) for s in summaries])
    commits = ", ".join(dict.fromkeys(_short_commit(s["commit"]) for s in summaries))
    return f"scale: {scale} | data: {'; '.join(parts)} | iterations: {iters} | code: {commits}"


def _wrap(text: str, width_in: float, fontsize: float) -> list[str]:
    chars = max(30, int(width_in * 72 / (0.55 * fontsize)))
    return textwrap.wrap(text, chars, break_on_hyphens=False) or [""]


def _renderer(fig: plt.Figure):
    get = getattr(fig.canvas, "get_renderer", None)
    return get() if get is not None else fig._get_renderer()


def stamp(fig: plt.Figure, scale: str, summaries: Sequence[Mapping[str, Any]],
          configs: Sequence[Mapping[str, Any]] | None = None, notes: Sequence[str] = ()) -> plt.Text:
    """Write :func:`stamp_text` (plus :func:`network_text` of ``configs``) and the ``notes``
    (:func:`degenerate_notes`, :func:`twin_notes`) in 7 pt along the bottom of ``fig``, and lay it out.

    Call it last, after all panels and :func:`figure_legend` are drawn. The figure grows by the
    height of the legend, notes and stamp (the panels keep their size); the figure legend is put
    below the panels, the notes and the stamp below it, and ``tight_layout`` fits the panels and
    the suptitle into the rest.
    """
    text = stamp_text(scale, summaries)
    if configs:
        net = network_text([c.to_dict() if hasattr(c, "to_dict") else c for c in configs])
        if net:
            text += f" | {net}"
    width_in, height_in = fig.get_size_inches()
    fs, line = STAMP_FONTSIZE, STAMP_FONTSIZE * 1.25 / 72
    stamp_lines = _wrap(text, width_in, fs)
    note_lines = [w for n in dict.fromkeys(notes) for w in _wrap(f"NOTE: {n}", width_in, fs)]
    block = (len(stamp_lines) + len(note_lines)) * line + 6 / 72
    legend = fig.legends[0] if fig.legends else None
    legend_h = 0.0
    if legend is not None:
        legend_h = legend.get_window_extent(_renderer(fig)).height / fig.dpi + 2 / 72
    total = height_in + block + legend_h
    fig.set_size_inches(width_in, total)
    if legend is not None:
        legend.set_bbox_to_anchor((0.5, block / total), transform=fig.transFigure)
    if note_lines:
        fig.text(0.01, (len(stamp_lines) * line + 4 / 72) / total, "\n".join(note_lines), fontsize=fs,
                 ha="left", va="bottom", color="#8B0000", gid="figure-notes", linespacing=1.1)
    top = 1.0
    title = fig._suptitle  # tight_layout does not always leave room for a wrapped suptitle
    if title is not None:
        title.set_y(1.0 - 2 / 72 / total)
        title.set_verticalalignment("top")
        title.set_in_layout(False)  # its room is the rect below
        top -= (title.get_window_extent(_renderer(fig)).height / fig.dpi + 4 / 72) / total
    fig.tight_layout(rect=(0.0, (block + legend_h) / total, 1.0, top), pad=0.4)
    return fig.text(0.01, 2 / 72 / total, "\n".join(stamp_lines), fontsize=fs, ha="left", va="bottom",
                    color="0.25", gid="provenance-stamp", linespacing=1.1)


def show_inline(fig: plt.Figure) -> None:
    """Display ``fig`` as a PNG in a Jupyter notebook (whatever the backend); a no-op outside an
    IPython kernel. Call before :func:`save_pdf`, which closes the figure."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return
    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)
    display(Image(data=buf.getvalue(), format="png"))


def save_pdf(fig: plt.Figure, path: str | os.PathLike) -> Path:
    """Save ``fig`` as a PDF at ``path``: deterministic bytes, atomic (temp file, then rename).

    No ``CreationDate``/``Producer`` metadata, so the same inputs give the same file.
    The figure is closed afterwards.
    """
    out = Path(path)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="pdf", metadata={"CreationDate": None, "Producer": None})
    finally:
        plt.close(fig)
    atomic_write_bytes(out, buf.getvalue())
    return out
