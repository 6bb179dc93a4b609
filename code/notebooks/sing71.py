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
# # SiNG Section 7.1: squared-l2 pixel cost, SiNG vs Adam (figures/<scale>/sing71.pdf)
#
# The Sinkhorn Natural Gradient paper (NeurIPS 2020) minimises
# `F(theta) = S_gamma(alpha_theta, beta)` with `beta` = CelebA and the ground cost
# `c(x, y) = ||x - y||^2` on pixels, `gamma = 0.01` for the objective and the SiNG constraint, and
# plots the generator loss against wall-clock time for SiNG and Adam (the figure beside its
# Section 7.1). Left: that plot. Right: the SiNG diagnostics logged every step, the cosine
# between the SiNG direction `d` and `-grad F`, and the relative residual of the conjugate-gradient
# solve of `(Hbar + lambda I) u = grad F`.
#
# Data: `results/<scale>/sing/l2/` written by `python -m sinkgan.sing_experiments l2` (this notebook
# never trains). The stamp names the scale, the data (a stand-in named as such) and the code version.
#
# **How to run.** `snakemake --cores 2 figures/sing71.pdf`, or `SCALE=smoke python code/notebooks/sing71.py`
# (same bytes), or open in Jupyter (jupytext).

# %%
import matplotlib.pyplot as plt

from sinkgan import plotting
from sinkgan.sing_experiments import OPTIMIZER_LABELS, read_results

params = plotting.notebook_params("sing71", globals())
plotting.apply_style()
summary, log = read_results(params.results_dir, "l2")
params

# %%
fig, (ax, bx) = plt.subplots(1, 2, figsize=(plotting.DOUBLE, 2.7))
for opt, part in log.groupby("optimizer", sort=False):
    ax.plot(part["wall_seconds"], part["loss"], **plotting.optimizer_style(opt), markevery=max(1, len(part) // 10),
            label=OPTIMIZER_LABELS.get(opt, opt))
plotting.set_yscale(ax, [part["loss"] for _, part in log.groupby("optimizer")])
ax.set_xlabel("wall-clock time (s)")
ax.set_ylabel(r"generator loss $S_\gamma(\alpha_\theta, \beta)$")
data = "; ".join(d["paper_dataset"] if not d.get("dataset_is_standin") else f"{d['paper_dataset']} (stand-in: {d['dataset']})"
                 for d in summary["datasets"])
ax.set_title(f"{data}: squared-$\\ell_2$ pixel cost")

sing = log[log["optimizer"] == "sing"]
if len(sing):
    bx.plot(sing["step"], sing["cosine"], color="0.2", marker=".", label=r"SiNG: cos$(d, -\nabla F)$ (left axis)")
    bx.set_ylim(0, 1.05)
    bx.set_xlabel("SiNG step")
    bx.set_ylabel("cosine")
    rx = bx.twinx()
    rx.semilogy(sing["step"], sing["cg_residual"], color=plotting.PALETTE[3], linestyle="--", marker="x",
                label="SiNG: CG relative residual (right axis)")
    rx.set_ylabel("CG relative residual")
    rx.grid(False)
bx.set_title("SiNG diagnostics")
fig.suptitle("SiNG 7.1: minimise the Sinkhorn divergence to the data, SiNG vs Adam")
plotting.figure_legend(fig)
plotting.stamp(fig, params.scale, summary["runs"],
               notes=plotting.degenerate_notes({OPTIMIZER_LABELS.get(o, o): {"loss": part["loss"]}
                                                for o, part in log.groupby("optimizer", sort=False)}))
plotting.show_inline(fig)
plotting.save_pdf(fig, params.out)
