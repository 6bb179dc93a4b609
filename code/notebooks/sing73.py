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
# # SiNG Section 7.3 / Fig. 2: a GAN trained with SiNG vs Adam (figures/<scale>/sing73.pdf)
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
from sinkgan.sing_experiments import OPTIMIZER_LABELS, read_results

params = plotting.notebook_params("sing73", globals())
plotting.apply_style()
summary, log = read_results(params.results_dir, "gan")
run_dir = params.results_dir / "sing" / "gan"
order = [o for o in ("adam", "sing") if o in set(log["optimizer"])]
params

# %%
images = {OPTIMIZER_LABELS[opt]: run_dir / f"samples_{opt}.png" for opt in order}
notes = plotting.degenerate_notes({OPTIMIZER_LABELS[o]: {"loss": log.loc[log["optimizer"] == o, "loss"]} for o in order},
                                  images=images)
fig = plt.figure(figsize=(plotting.DOUBLE, 6.0))
grid = fig.add_gridspec(3, len(order), height_ratios=(3.6, 0.15, 1.4))  # row 1: a gap (tight_layout ignores image aspect)
for k, opt in enumerate(order):
    plotting.sample_grid_panel(fig.add_subplot(grid[0, k]), images[OPTIMIZER_LABELS[opt]], OPTIMIZER_LABELS[opt])
ax = fig.add_subplot(grid[2, :])
for opt in order:
    curve = log[log["optimizer"] == opt]
    ax.plot(curve["wall_seconds"], curve["loss"], **plotting.optimizer_style(opt), markevery=max(1, len(curve) // 10),
            label=OPTIMIZER_LABELS[opt])
plotting.set_yscale(ax, [log.loc[log["optimizer"] == o, "loss"] for o in order])
ax.set_xlabel("wall-clock time (s)")
ax.set_ylabel("generator loss")
cfg = summary["config"]
data = "; ".join(f"{d['paper_dataset']} (stand-in: {d['dataset']})" if d.get("dataset_is_standin") else d["paper_dataset"]
                 for d in summary.get("datasets", []))
fig.suptitle(f"SiNG Fig. 2: GAN samples, Adam (left) vs SiNG (right); objective γ = {cfg['objective_gamma']:g}, "
             f"constraint γ = {cfg['constraint_gamma']:g}, batch {cfg['batch_size']}" + (f"; data: {data}" if data else ""),
             wrap=True)
plotting.figure_legend(fig)
plotting.stamp(fig, params.scale, summary["runs"], notes=notes)
plotting.show_inline(fig)
plotting.save_pdf(fig, params.out)
