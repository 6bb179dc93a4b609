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
# # Fig. 22: log(1/SSIM) vs log(eta_theta + eta_phi), and the rate kappa
#
# For every captured point of the back-and-forward tracks (see fig21 and
# `sinkgan.metrics.tracking`), `eta_theta` and `eta_phi` count the generator and critic updates
# since the stationary point. Ordinary least squares (`statsmodels`) fits
#
# $$\log(1/\mathrm{SSIM}) = a + \kappa \log(\eta_\theta + \eta_\phi)$$
#
# per run; the legend gives kappa with its 95 % confidence interval and the number n of points
# the fit uses. A run has the same style in both panels (and in every figure). Left: p in
# {2.05, 2.1, 2.15, 2.3} at n_critic = 10; right: p = 2.15 at n_critic in {5, 10, 15}. The paper
# reports that kappa depends on p and n_critic and changes sign with n_critic.
#
# Reads `results/<scale>/<run>/tracking/ssim.csv` (points) and `tracking/rate.json` (the fit:
# kappa, CI, intercept, R^2), both written by rule `track`.
#
# **How to run.** Rule `plot` runs this file for `figures/<scale>/fig22.pdf`; from a shell
# `FIGURE=fig22 SCALE=smoke python code/notebooks/fig22_rate.py` writes the same file.

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sinkgan import plotting

params = plotting.notebook_params("fig22", globals())
plotting.apply_style()
params

# %%
runs = plotting.figure_runs(params)
kind = plotting.figure_kind(params)
if kind != "rate":
    raise ValueError(f"{params.figure} is a {kind!r} figure; fig22_rate.py draws 'rate' figures only")
panels = plotting.study_of(params).figure(params.figure).get("panels") or {
    "all": [spec.label for spec, _ in runs]}


def load(run):
    folder = run.dir / "tracking"
    for name in ("ssim.csv", "rate.json"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} does not exist; track the run first: "
                                    f"`snakemake --cores 2 {folder / name}`")
    return pd.read_csv(folder / "ssim.csv"), json.loads((folder / "rate.json").read_text())


styles = plotting.run_styles(params, [spec for spec, _ in runs])
by_label = {spec.label: (spec, run, *load(run)) for spec, run in runs}
[(label, rate["kappa"], rate["ci_low"], rate["ci_high"], rate["n_points"]) for label, (_, _, _, rate) in by_label.items()]

# %%
PANEL_TITLES = {"left": "p in {2.05, 2.1, 2.15, 2.3}, n_critic = 10",
                "right": "p = 2.15, n_critic in {5, 10, 15}"}


def kappa_text(rate):
    n = f"n = {rate.get('n_points', '?')}"
    if rate["kappa"] is None:
        return f"κ unavailable ({n})"
    return f"κ = {rate['kappa']:.3g} [{rate['ci_low']:.3g}, {rate['ci_high']:.3g}], {n}"


fig, axes = plt.subplots(1, len(panels), figsize=(plotting.DOUBLE, 2.8), squeeze=False, sharex=True, sharey=True)
for ax, (panel, labels) in zip(axes[0], panels.items()):
    for label in labels:
        spec, run, table, rate = by_label[label]
        style = styles[spec.run_id]
        eta = table["gen_updates"] + table["critic_updates"]
        ok = (eta > 0) & (table["ssim"] > 0)
        x = np.log(eta[ok].to_numpy(dtype=float))
        y = -np.log(table["ssim"][ok].to_numpy(dtype=float))
        ax.scatter(x, y, s=6, color=style["color"], marker=style["marker"], alpha=0.5, linewidths=0)
        text = f"{plotting.run_label(spec, run)}: {kappa_text(rate)}"
        if rate["kappa"] is not None and x.size:
            xs = np.array([x.min(), x.max()])
            ax.plot(xs, rate["intercept"] + rate["kappa"] * xs, color=style["color"], linestyle=style["linestyle"],
                    label=text)
        else:
            ax.plot([], [], color=style["color"], linestyle=style["linestyle"], label=text)
    ax.set_xlabel(plotting.notation("log(eta_theta + eta_phi)"))
    ax.set_ylabel("log(1 / SSIM)")
    ax.set_title(plotting.notation(PANEL_TITLES.get(panel, panel)).replace(" in ", " ∈ "))
modes = sorted({rate["mode"] for _, _, _, rate in by_label.values()})
fig.suptitle(f"{plotting.figure_title(params, runs)}  (SSIM mode: {', '.join(modes)}; OLS, 95% CI)", wrap=True)
plotting.figure_legend(fig, ncol=2)
plotting.stamp(fig, params.scale, [run.summary for _, run in runs],
               configs=[plotting.run_config(spec, run) for spec, run in runs])
plotting.show_inline(fig)
plotting.save_pdf(fig, params.out)
print(f"wrote {params.out}")
