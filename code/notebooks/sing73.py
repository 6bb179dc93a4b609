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
# # SiNG Section 7.3 / Fig. 2: a GAN trained with SiNG vs Adam (figures/sing73.pdf)
#
# The GAN of SiNG eq. 7, `min_theta max_xi S_{c_xi}(alpha_theta, beta)`: objective `gamma = 100`,
# SiNG constraint `gamma = 1`, Adam (step 1e-3) for the discriminator, batch 4000 in the paper.
# Like the paper's Fig. 2: samples of the generator trained with Adam (left) and with SiNG (right),
# from the same fixed latents; below, the generator loss of both runs against wall-clock time.
#
# Data: `results/<scale>/sing/gan/` (`samples_adam.png`, `samples_sing.png`, `log.csv`), written by
# `python -m sinkgan.sing_experiments gan`; this notebook never trains.
#
# **How to run.** `snakemake --cores 2 figures/sing73.pdf`, or `SCALE=smoke python code/notebooks/sing73.py`.

# %%
import matplotlib.pyplot as plt

from sinkgan import plotting
from sinkgan.sing_experiments import OPTIMIZER_COLORS, OPTIMIZER_LABELS, read_results

params = plotting.notebook_params("sing73", globals())
summary, log = read_results(params.results_dir, "gan")
run_dir = params.results_dir / "sing" / "gan"
order = [o for o in ("adam", "sing") if o in set(log["optimizer"])]
params

# %%
fig = plt.figure(figsize=(7.0, 6.2))
grid = fig.add_gridspec(2, len(order), height_ratios=(3.0, 1.4))
for k, opt in enumerate(order):
    plotting.sample_grid_panel(fig.add_subplot(grid[0, k]), run_dir / f"samples_{opt}.png", OPTIMIZER_LABELS[opt])
ax = fig.add_subplot(grid[1, :])
for opt in order:
    curve = log[log["optimizer"] == opt]
    ax.plot(curve["wall_seconds"], curve["loss"], marker=".", color=OPTIMIZER_COLORS.get(opt, "k"), label=OPTIMIZER_LABELS[opt])
ax.set_xlabel("wall-clock time (s)")
ax.set_ylabel("generator loss")
ax.legend(frameon=False)
cfg = summary["config"]
fig.suptitle(f"SiNG Fig. 2: GAN samples, Adam (left) vs SiNG (right); objective gamma {cfg['objective_gamma']:g}, "
             f"constraint gamma {cfg['constraint_gamma']:g}, batch {cfg['batch_size']}", fontsize=8)
plotting.stamp(fig, params.scale, summary["runs"])
plotting.save_pdf(fig, params.out)
