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
# # Generator and discriminator losses (Figs. 4, 6, 7, 11, 13, 15, 17, 19)
#
# Each of these figures of the paper plots the generator loss (G) and the discriminator loss
# (D) of a few training runs against the number of generator iterations:
#
# | figure | runs compared |
# |---|---|
# | fig04 | MNIST, DCGAN: ours (sequential SGDA) vs SGD-AutoDiff |
# | fig06 / fig07 | Cats / CelebA, ResNet: ours vs SGD-AutoDiff |
# | fig11 | mini-batch size m = 100, 200, 300 (Cats and CelebA panels) |
# | fig13 | regularisation eps = 0.01, 0.005, 0.001 (Cats and CelebA panels) |
# | fig15 | Sinkhorn iterations L = 10, 50, 100 (Cats): G left, D right |
# | fig17 | ground-cost exponent p = 2, 5, 7 (Cats): G left, D right |
# | fig19 | non-convex exponents p = 2.05 ... 2.3 (CelebA) |
#
# The runs of a figure and their legend labels come from `config/study.yaml` (via
# `sinkgan.study`); every run is read from `results/<scale>/<run-id>/log.csv` (this notebook
# never trains). A light centred moving average (4 % of the curve) is drawn over the raw,
# translucent curve. Labels and titles give the values that ran (each run's resolved config), the
# paper's value beside them where they differ; a setting has the same colour, line style and
# marker in every figure; a y axis spanning more than two decades is logarithmic (symlog when the
# values change sign), and the rows of a figure share their y limits. Constant curves, runs with
# identical numbers (here or in another figure) and curves that coincide are named in the notes
# under the figure. The stamp at the bottom names the scale, the data actually trained on (a
# stand-in data set is named as a stand-in), the iterations, narrowed networks and the code version.
#
# **How to run.** The Snakemake rule `plot` runs this file for `figures/<scale>/<fig>.pdf`. From a shell:
# `FIGURE=fig04 SCALE=smoke python code/notebooks/losses.py` writes the same file, byte for byte
# (`FIGURE_OUT=path.pdf` writes elsewhere, `SINKGAN_ROOT=dir` reads `config/` and `results/`
# from another root). In Jupyter: `jupytext --to ipynb code/notebooks/losses.py` (or open the
# `.py` directly with the jupytext extension), start Jupyter with `FIGURE`/`SCALE` set, or
# change the default figure in the next cell, and run all cells.

# %%
import matplotlib.pyplot as plt

from sinkgan import plotting

params = plotting.notebook_params("fig04", globals())
plotting.apply_style()
params

# %%
runs = plotting.figure_runs(params)
kind = plotting.figure_kind(params)
if kind != "losses":
    raise ValueError(f"{params.figure} is a {kind!r} figure; losses.py draws 'losses' figures only")
styles = plotting.run_styles(params, [spec for spec, _ in runs])

# Panels: one row per paper data set (fig11 and fig13 mix Cats and CelebA), G left, D right.
# The legend names settings: a row's data set ("Cats, m = 16") is left to the row's title.
groups: dict[str, list] = {}
for spec, run in runs:
    groups.setdefault(plotting.dataset_title(spec, run), []).append((plotting.run_label(spec, run), run, styles[spec.run_id]))
notes = plotting.degenerate_notes({label: {"G loss": run.log["g_loss"], "D loss": run.log["d_loss"]}
                                   for curves in groups.values() for label, run, _ in curves})
notes += plotting.twin_notes(params, runs)
if len(groups) > 1:
    groups = {name: [(label.removeprefix(f"{name}, "), run, style) for label, run, style in curves]
              for name, curves in groups.items()}
[(name, [label for label, _, _ in curves]) for name, curves in groups.items()], notes

# %%
n_rows = len(groups)
fig, axes = plt.subplots(n_rows, 2, figsize=(plotting.DOUBLE, 2.3 * n_rows + 0.3), squeeze=False, sharey="col")
drawn: dict[int, list] = {0: [], 1: []}
for row, (name, curves) in zip(axes, groups.items()):
    prefix = f"{name}: " if n_rows > 1 else ""
    drawn[0] += plotting.loss_axes(row[0], curves, "g_loss", title=f"{prefix}generator (G)")
    drawn[1] += plotting.loss_axes(row[1], curves, "d_loss", title=f"{prefix}discriminator (D)")
for col, arrays in drawn.items():  # rows compare the same quantity: one scale and one y range per column
    plotting.set_yscale(axes[0, col], arrays)
fig.suptitle(plotting.figure_title(params, runs), wrap=True)
plotting.figure_legend(fig)
plotting.stamp(fig, params.scale, [run.summary for _, run in runs],
               configs=[plotting.run_config(spec, run) for spec, run in runs], notes=notes)
plotting.show_inline(fig)  # in Jupyter: show the figure before it is written
plotting.save_pdf(fig, params.out)
print(f"wrote {params.out}")
