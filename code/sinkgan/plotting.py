"""Shared figure code for the notebooks in ``code/notebooks/`` (figures 4-9 and 11-20).

Every figure is drawn by a jupytext percent-format notebook that runs three ways and must give
the same PDF, byte for byte:

* from Snakemake (``script:`` directive; a ``snakemake`` object is injected into the notebook's
  globals and carries ``params.figure``, ``params.scale`` and ``output[0]``);
* from the command line: ``FIGURE=fig04 SCALE=smoke python code/notebooks/losses.py``;
* opened in Jupyter (same environment variables, or the notebook's default figure).

This module provides what all of them share:

``notebook_params(default_figure, namespace)``
    where the figure, scale, output path and repository root come from;
``load_run(run_dir)``
    one finished run directory (``summary.json``, ``config.yaml``, ``log.csv``; see
    ``docs/CONTRACT.md``);
``figure_runs(params)``
    the (label, run) pairs of a figure, in the paper's order (from ``sinkgan.study``);
``loss_axes``, ``sample_grid_panel``
    the two kinds of panel;
``stamp(fig, scale, summaries)``
    the provenance line every figure carries (scale, data set -- a stand-in named as such --,
    iterations, code version);
``save_pdf(fig, path)``
    deterministic, atomic PDF output.

Determinism: the Agg backend, a fixed rcParams set (``RCPARAMS``) applied on import, no
``CreationDate``/``Producer`` metadata, and images embedded unresampled.
"""

from __future__ import annotations

import io
import json
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after matplotlib.use)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from .checkpoint import atomic_write_bytes  # noqa: E402
from .provenance import repo_root  # noqa: E402  (one definition of the root, shared with the study)

__all__ = [
    "LOG_COLUMNS",
    "RCPARAMS",
    "NotebookParams",
    "Run",
    "apply_style",
    "dataset_title",
    "figure_kind",
    "figure_runs",
    "figure_title",
    "load_run",
    "loss_axes",
    "notebook_params",
    "repo_root",
    "sample_grid_panel",
    "save_pdf",
    "show_inline",
    "smooth",
    "stamp",
    "stamp_text",
]

#: Columns of ``log.csv`` (docs/CONTRACT.md).
LOG_COLUMNS = ("iteration", "gen_updates", "critic_updates", "g_loss", "d_loss", "wall_seconds")

#: Fixed style: nothing taken from the user's matplotlibrc, fonts shipped with matplotlib.
RCPARAMS: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8.0,
    "axes.titlesize": 9.0,
    "axes.labelsize": 8.0,
    "legend.fontsize": 7.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "figure.titlesize": 10.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.2,
    "figure.dpi": 100.0,
    "savefig.dpi": 300.0,
    "pdf.fonttype": 42,  # embed TrueType: text stays selectable/extractable (pdftotext)
    "pdf.compression": 6,
    "image.interpolation": "none",
    "axes.prop_cycle": matplotlib.cycler(color=plt.get_cmap("tab10").colors),
}

#: Human names of the paper's data sets (keys of ``datasets:`` in config/study.yaml).
DATASET_NAMES = {"mnist": "MNIST", "cats": "Cats", "celeba": "CelebA"}

#: Environment variables read by :func:`notebook_params`.
ENV_FIGURE, ENV_SCALE, ENV_ROOT, ENV_OUT = "FIGURE", "SCALE", "SINKGAN_ROOT", "FIGURE_OUT"


def apply_style() -> None:
    """Reset matplotlib to its defaults and apply :data:`RCPARAMS` (called on import)."""
    matplotlib.rc_file_defaults()
    plt.rcParams.update(RCPARAMS)


apply_style()


# --------------------------------------------------------------------------------------------
# Where a notebook's inputs and output are


@dataclass(frozen=True)
class NotebookParams:
    """What a figure notebook draws and where it writes it."""

    figure: str  #: e.g. ``"fig04"``
    scale: str  #: e.g. ``"smoke"``
    out: Path  #: the PDF to write
    root: Path  #: repository root (``config/study.yaml``, ``results/<scale>/``)

    @property
    def results_dir(self) -> Path:
        """``<root>/results/<scale>``."""
        return self.root / "results" / self.scale


def notebook_params(default_figure: str, namespace: Mapping[str, Any] | None = None) -> NotebookParams:
    """Figure, scale, output path and root for a notebook.

    Pass the notebook's ``globals()`` as ``namespace``. Under Snakemake (a ``snakemake`` object
    in ``namespace``) the figure is ``snakemake.params.figure``, the scale
    ``snakemake.params.scale`` and the output ``snakemake.output[0]``. Otherwise the
    environment decides: ``FIGURE`` (default ``default_figure``), ``SCALE`` (default
    ``"smoke"``) and ``FIGURE_OUT`` (default ``<root>/figures/<figure>.pdf``). The root is
    :func:`repo_root` in both cases.
    """
    root = repo_root()
    smk = (namespace or {}).get("snakemake")
    if smk is not None:
        figure = str(smk.params.figure)
        scale = str(smk.params.scale)
        out = Path(str(smk.output[0]))
    else:
        figure = os.environ.get(ENV_FIGURE) or default_figure
        scale = os.environ.get(ENV_SCALE) or "smoke"
        out_env = os.environ.get(ENV_OUT)
        out = Path(out_env) if out_env else root / "figures" / f"{figure}.pdf"
    return NotebookParams(figure=figure, scale=scale, out=out, root=root)


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


def load_run(run_dir: str | os.PathLike) -> Run:
    """Read ``summary.json``, ``config.yaml`` and ``log.csv`` of a finished run.

    ``summary.json`` is written last by the trainer, so its absence means the run is missing
    or unfinished; that is reported with the path and how to produce it.
    """
    d = Path(run_dir)
    summary_path = d / "summary.json"
    if not summary_path.is_file():
        raise FileNotFoundError(
            f"run {d} has no summary.json (missing or unfinished); "
            f"train it first, e.g. `snakemake --cores 2 {summary_path}`"
        )
    summary = json.loads(summary_path.read_text())
    config_path = d / "config.yaml"
    config = yaml.safe_load(config_path.read_text()) if config_path.is_file() else {}
    log = pd.read_csv(d / "log.csv")
    missing = [c for c in LOG_COLUMNS if c not in log.columns]
    if missing:
        raise ValueError(f"{d / 'log.csv'}: missing column(s) {missing}; expected {list(LOG_COLUMNS)}")
    return Run(dir=d, summary=summary, config=config or {}, log=log)


def figure_runs(params: NotebookParams) -> list[tuple[Any, Run]]:
    """The runs of ``params.figure`` as ``(RunSpec, Run)`` pairs, in the paper's order.

    The run list comes from ``sinkgan.study`` (``config/study.yaml``); each run is read from
    ``<root>/results/<scale>/<run_id>`` so that ``$SINKGAN_ROOT`` relocates the inputs.
    """
    study = _load_study(params)
    specs = study.figure_runs(params.figure)
    if not specs:
        raise ValueError(f"figure {params.figure!r} lists no runs in config/study.yaml")
    return [(spec, load_run(params.results_dir / spec.run_id)) for spec in specs]


def figure_title(params: NotebookParams) -> str:
    """``"Fig. 4: <title from config/study.yaml>"``."""
    fig = _load_study(params).figure(params.figure)
    number = params.figure[3:].lstrip("0") if params.figure.startswith("fig") else params.figure
    return f"Fig. {number}: {fig.get('title', params.figure)}"


def figure_kind(params: NotebookParams) -> str:
    """The figure's ``kind`` in config/study.yaml (``losses``, ``samples``, ...)."""
    return str(_load_study(params).figure(params.figure).get("kind"))


def _load_study(params: NotebookParams):
    from sinkgan.study import Study  # imported lazily: plotting helpers work without it

    return Study.load(params.scale, root=params.root)


def dataset_title(spec: Any, run: Run) -> str:
    """Paper data set of a run (``"Cats"``), from the spec's overrides or the summary."""
    key = (getattr(spec, "overrides", None) or {}).get("dataset")
    if key is None:
        key = run.summary.get("stands_in_for") or run.summary.get("dataset", "?")
    return DATASET_NAMES.get(str(key).lower(), str(key))


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
    curves: Iterable[tuple[str, Run]],
    column: str,
    ylabel: str | None = None,
    title: str | None = None,
    window: int | None = None,
) -> None:
    """Plot ``log[column]`` against ``log.iteration`` for each ``(label, run)``.

    The raw curve is drawn thin and translucent, the :func:`smooth` curve on top in the same
    colour and carries the legend label; when smoothing would change nothing only the raw
    curve is drawn, opaque.
    """
    if column not in ("g_loss", "d_loss"):
        raise ValueError(f"column must be 'g_loss' or 'd_loss', got {column!r}")
    for i, (label, run) in enumerate(curves):
        color = f"C{i % 10}"
        x = run.log["iteration"].to_numpy()
        y = run.log[column].to_numpy(dtype=float)
        s = smooth(y, window)
        if np.array_equal(s, y):
            ax.plot(x, y, color=color, label=label)
        else:
            ax.plot(x, y, color=color, alpha=0.3, linewidth=0.6)
            ax.plot(x, s, color=color, label=label)
    ax.set_xlabel("generator iterations")
    ax.set_ylabel(ylabel or {"g_loss": "generator loss", "d_loss": "discriminator loss"}[column])
    if title:
        ax.set_title(title)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    ax.legend(loc="best", frameon=False)


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
    ``"<name> (STAND-IN for <paper data set>)"`` --, the iterations (a range if runs differ)
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
        if s.get("dataset_is_standin"):
            paper = str(s.get("stands_in_for") or "?")
            paper = DATASET_NAMES.get(paper.lower(), paper)
            if paper not in targets:
                targets.append(paper)
    parts = []
    for name, targets in data.items():
        parts.append(f"{name} (STAND-IN for {', '.join(targets)})" if targets else name)
    scales = {str(s.get("scale", scale)) for s in summaries}
    if scales != {scale}:
        raise ValueError(f"figure at scale {scale!r} drawn from runs of scale(s) {sorted(scales)}")
    iters = _range([int(s["iterations"]) for s in summaries])
    commits = ", ".join(dict.fromkeys(_short_commit(s["commit"]) for s in summaries))
    return f"scale: {scale} | data: {'; '.join(parts)} | iterations: {iters} | code: {commits}"


def stamp(fig: plt.Figure, scale: str, summaries: Sequence[Mapping[str, Any]]) -> plt.Text:
    """Write :func:`stamp_text` in small type along the bottom of ``fig`` and lay it out.

    Call it last, after all panels are drawn: it runs ``tight_layout`` with the bottom strip
    reserved for the stamp (wrapped to the figure width).
    """
    text = stamp_text(scale, summaries)
    fontsize = 6.0
    width_in = fig.get_size_inches()[0]
    chars_per_line = max(40, int(width_in * 72 / (0.55 * fontsize)))
    wrapped = "\n".join(textwrap.wrap(text, chars_per_line, break_on_hyphens=False))
    n_lines = wrapped.count("\n") + 1
    height_in = fig.get_size_inches()[1]
    strip = (n_lines * fontsize * 1.3 + 4) / 72 / height_in
    fig.tight_layout(rect=(0.0, strip, 1.0, 1.0))
    return fig.text(0.01, 2 / 72 / height_in, wrapped, fontsize=fontsize, ha="left", va="bottom",
                    color="0.25", gid="provenance-stamp")


def show_inline(fig: plt.Figure) -> None:
    """Display ``fig`` in a Jupyter notebook (the Agg backend shows nothing by itself); a no-op
    outside an IPython kernel. Call before :func:`save_pdf`, which closes the figure."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return
    from IPython.display import display

    display(fig)


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
