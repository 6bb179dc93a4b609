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
# # Fig. 21: SSIM vs number of generator updates (CelebA, ResNet, n_critic = 10)
#
# Convergence protocol of section IV-C: from the final checkpoint of each run (the stationary
# point) several back-and-forward tracks go back to that point and run forward with their own
# seed; every `capture_every` generator updates the generator is captured and compared with the
# track's start by SSIM (`pytorch-msssim`). Mode `params` (default) compares the generator's
# parameter tensors (each viewed as a 2-d image, parameter-count-weighted mean over tensors);
# mode `images` compares images from 64 fixed latents (data_range 255). See
# `sinkgan.metrics.ssim` for the exact definitions.
#
# Reads `results/<scale>/<run>/tracking/ssim.csv` (rule `track`). Each curve is the mean over
# tracks; the band spans the tracks' minimum and maximum.
#
# **How to run.** Rule `plot_fig21` runs this file for `figures/fig21.pdf`; from a shell
# `FIGURE=fig21 SCALE=smoke python code/notebooks/fig21_ssim.py` writes the same file.

# %%
import matplotlib.pyplot as plt
import pandas as pd

from sinkgan import plotting

params = plotting.notebook_params("fig21", globals())
params

# %%
runs = plotting.figure_runs(params)
kind = plotting.figure_kind(params)
if kind != "ssim":
    raise ValueError(f"{params.figure} is a {kind!r} figure; fig21_ssim.py draws 'ssim' figures only")


def load_tracking(run):
    path = run.dir / "tracking" / "ssim.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; track the run first: `snakemake --cores 2 {path}`")
    return pd.read_csv(path)


tables = [(spec.label, load_tracking(run)) for spec, run in runs]
modes = sorted({m for _, t in tables for m in t["mode"].unique()})
[(label, len(t), t.track.nunique()) for label, t in tables]

# %%
fig, ax = plt.subplots(figsize=(5.4, 3.6))
for i, (label, t) in enumerate(tables):
    g = t.groupby("gen_updates")["ssim"]
    stats = pd.DataFrame({"mean": g.mean(), "lo": g.min(), "hi": g.max()}).sort_index()
    n_tracks = t.track.nunique()
    ax.plot(stats.index, stats["mean"], color=f"C{i}", marker="o", markersize=2.5, label=f"{label} ({n_tracks} tracks)")
    ax.fill_between(stats.index, stats["lo"], stats["hi"], color=f"C{i}", alpha=0.2, linewidth=0)
ax.set_xlabel(r"generator updates $\eta_\theta$ since the stationary point")
ax.set_ylabel("SSIM to the track's start")
ax.set_title(f"SSIM mode: {', '.join(modes)}")
ax.legend(loc="best", frameon=False)
fig.suptitle(plotting.figure_title(params), wrap=True)
plotting.stamp(fig, params.scale, [run.summary for _, run in runs])
plotting.show_inline(fig)
plotting.save_pdf(fig, params.out)
print(f"wrote {params.out}")
