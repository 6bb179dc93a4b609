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
# # Sample grids (Figs. 5, 8, 9, 12, 14, 16, 18, 20)
#
# Each of these figures of the paper shows generated samples of a few runs side by side, in
# the paper's order (the order of the figure's `runs:` in `config/study.yaml`):
#
# | figure | grids, left to right |
# |---|---|
# | fig05 | MNIST, DCGAN: ours, SGD-AutoDiff |
# | fig08 / fig09 | Cats / CelebA, ResNet: ours, SGD-AutoDiff |
# | fig12 | Cats, m = 100, 200, 300 |
# | fig14 | Cats, eps = 0.005, 0.001, 0.01 |
# | fig16 | Cats, L = 10, 50, 100 |
# | fig18 | Cats, p = 7, 5, 2 |
# | fig20 | CelebA, p = 2.05, 2.1, 2.15, 2.3 |
#
# Every grid is the run's `samples/final.png` (8x8 samples of 64 fixed latent vectors at the
# last iteration), embedded pixel for pixel under the run's label (the values that ran, the
# paper's beside them where they differ) and the FID and KID of that generator (the run's
# `quality.json`, from the scale's `quality.n_samples` samples: the numbers the scorecard's
# quality claims compare; "FID/KID not measured", with a note, where a cached scale has the grid
# but not its measurement, whose generator is not kept beyond the smoke scale). Near-constant grids, identical grids and runs with the
# same numbers as another figure's runs are named in the notes under the figure. The stamp at the
# bottom names the scale, the data actually trained on (a stand-in data set is named as a
# stand-in), the iterations, narrowed networks and the code version. This notebook never trains.
#
# **How to run.** The Snakemake rule `plot` runs this file for `figures/<scale>/<fig>.pdf`. From a shell:
# `FIGURE=fig05 SCALE=smoke python code/notebooks/samples.py` writes the same file, byte for
# byte (`FIGURE_OUT=path.pdf` writes elsewhere, `SINKGAN_ROOT=dir` reads `config/` and
# `results/` from another root). In Jupyter: `jupytext --to ipynb code/notebooks/samples.py`
# (or open the `.py` directly with the jupytext extension), start Jupyter with
# `FIGURE`/`SCALE` set, or change the default figure in the next cell, and run all cells.

# %%
import matplotlib.pyplot as plt

from sinkgan import plotting

params = plotting.notebook_params("fig05", globals())
plotting.apply_style()
params

# %%
runs = plotting.figure_runs(params)
kind = plotting.figure_kind(params)
if kind != "samples":
    raise ValueError(f"{params.figure} is a {kind!r} figure; samples.py draws 'samples' figures only")
labels = [plotting.run_label(spec, run) for spec, run in runs]
# a cached scale (`make figures-cached`) draws grids whose quality.json cannot be made there: "not measured"
qualities = [plotting.read_quality(run, required=False) for _, run in runs]
scores = [plotting.quality_text(q) for q in qualities]
notes = plotting.unmeasured_notes(labels, [run for _, run in runs], qualities)
notes += plotting.degenerate_notes(images={label: run.final_samples for label, (_, run) in zip(labels, runs)})
notes += plotting.twin_notes(params, runs)
list(zip(labels, [str(run.final_samples) for _, run in runs])), notes

# %%
n = len(runs)
fig, axes = plt.subplots(1, n, figsize=(plotting.DOUBLE, plotting.DOUBLE / n + 0.6), squeeze=False)  # + two title lines
for ax, label, score, (spec, run) in zip(axes[0], labels, scores, runs):
    plotting.sample_grid_panel(ax, run.final_samples, f"{label}\n{score}")
fig.suptitle(plotting.figure_title(params, runs), wrap=True)
plotting.stamp(fig, params.scale, [run.summary for _, run in runs],
               configs=[plotting.run_config(spec, run) for spec, run in runs], notes=notes)
plotting.show_inline(fig)  # in Jupyter: show the figure before it is written
plotting.save_pdf(fig, params.out)
print(f"wrote {params.out}")
