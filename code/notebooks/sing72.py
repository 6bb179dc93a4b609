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
# # SiNG Section 7.2 / Fig. 1: a fixed encoder as ground cost (figures/<scale>/sing72.pdf)
#
# The SiNG paper fixes an encoder `phi_xi` (a pretrained discriminator without its last layer) and
# minimises `F(theta) = S_{c_xi}(alpha_theta, beta)` with `c_xi(x, y) = ||phi_xi(x) - phi_xi(y)||^2`
# on CelebA (left) and CIFAR-10 (right), comparing SiNG with SGD-type solvers from one common random
# initialisation: generator loss against wall-clock time (its Fig. 1).
#
# Here the encoder is the discriminator `D` of a GAN run of this repository (named under the
# panels; by default the CelebA run of fig07 at the same scale serves both data sets, see
# `config/sing.yaml` and the README's deviations). Data: `results/<scale>/sing/encoder/` (never
# trains here). At smoke scale both panels use the same colour stand-in, so they coincide.
#
# **How to run.** `snakemake --cores 2 figures/sing72.pdf`, or `SCALE=smoke python code/notebooks/sing72.py`.

# %%
import matplotlib.pyplot as plt

from sinkgan import plotting
from sinkgan.sing_experiments import OPTIMIZER_LABELS, read_results

params = plotting.notebook_params("sing72", globals())
plotting.apply_style()
summary, log = read_results(params.results_dir, "encoder")
NAMES = {"celeba": "CelebA", "cifar10": "CIFAR-10"}
params

# %%
datasets = summary["datasets"]
# Panels compare data sets: one y range.
fig, axes = plt.subplots(1, len(datasets), figsize=(plotting.DOUBLE if len(datasets) > 1 else plotting.SINGLE, 2.7),
                         squeeze=False, sharey=True)
curves = {}
for ax, d in zip(axes[0], datasets):
    label = d["paper_dataset"] if d["dataset"] == d["paper_dataset"] else f"{d['paper_dataset']}.{d['dataset']}"
    part = log[log["dataset"] == label]
    for opt, curve in part.groupby("optimizer", sort=False):
        ax.plot(curve["wall_seconds"], curve["loss"], **plotting.optimizer_style(opt), markevery=max(1, len(curve) // 10),
                label=OPTIMIZER_LABELS.get(opt, opt))
        curves[f"{label}, {OPTIMIZER_LABELS.get(opt, opt)}"] = {"loss": curve["loss"].to_numpy()}
    title = NAMES.get(d["paper_dataset"], d["paper_dataset"])
    if d["dataset_is_standin"]:
        title += f" (stand-in: {d['dataset']})"
    ax.set_title(title)
    ax.set_xlabel("wall-clock time (s)")
    ax.set_ylabel(r"generator loss $S_{c_\xi}(\alpha_\theta, \beta)$")
plotting.set_yscale(axes[0, 0], [log["loss"]])  # shared by the panels
enc = summary.get("encoder") or {}
fig.suptitle("SiNG Fig. 1: generator losses with a fixed encoder as ground cost\n"
             f"encoder: D ({enc.get('arch', '?')}) of run {enc.get('run_id', '?')}, trained on {enc.get('dataset', '?')}")
plotting.figure_legend(fig)
plotting.stamp(fig, params.scale, summary["runs"], notes=plotting.degenerate_notes(curves))
plotting.show_inline(fig)
plotting.save_pdf(fig, params.out)
