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
# seed; every `capture_every` generator updates the generator is captured and compared by SSIM
# (`pytorch-msssim`) with the preceding capture (reference `previous`, the default: the change
# "relative to the preceding SeqSGDA iteration" of section III-D, which tends to 1 as the
# generator settles) or, with the switch `reference: start`, with the track's start. Step 0
# (theta^0 against itself, SSIM 1 by definition) is not drawn. Mode `params` (default) compares
# the generator's parameter tensors (each viewed as a 2-d image, parameter-count-weighted mean over tensors);
# mode `images` compares images from 64 fixed latents (data_range 255). See
# `sinkgan.metrics.ssim` for the exact definitions.
#
# Reads `results/<scale>/<run>/tracking/ssim.csv` (rule `track`). Each curve is the mean over
# tracks; the band spans the tracks' minimum and maximum.
#
# **How to run.** Rule `plot` runs this file for `figures/<scale>/fig21.pdf`; from a shell
# `FIGURE=fig21 SCALE=smoke python code/notebooks/fig21_ssim.py` writes the same file.

# %%
import matplotlib.pyplot as plt
import pandas as pd

from sinkgan import plotting

params = plotting.notebook_params("fig21", globals())
plotting.apply_style()
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


styles = plotting.run_styles(params, [spec for spec, _ in runs])
tables = [(plotting.run_label(spec, run), load_tracking(run), styles[spec.run_id]) for spec, run in runs]
modes = sorted({m for _, t, _ in tables for m in t["mode"].unique()})
REFERENCE_AXIS = {"previous": "SSIM to the preceding capture", "start": "SSIM to the track's start"}
references = sorted({r for _, t, _ in tables for r in (t["reference"].unique() if "reference" in t else ["unknown"])})
ylabel = " / ".join(REFERENCE_AXIS.get(r, "SSIM (reference not recorded)") for r in references)
[(label, len(t), t.track.nunique()) for label, t, _ in tables]

# %%
from matplotlib.patches import Patch

fig, ax = plt.subplots(figsize=(plotting.SINGLE, 2.6))
curves = {}
for label, t, style in tables:
    g = t[t.step > 0].groupby("gen_updates")["ssim"]
    stats = pd.DataFrame({"mean": g.mean(), "lo": g.min(), "hi": g.max()}).sort_index()
    n_tracks = t.track.nunique()
    ax.plot(stats.index, stats["mean"], **style, label=f"{label} ({n_tracks} tracks)")
    ax.fill_between(stats.index, stats["lo"], stats["hi"], color=style["color"], alpha=0.2, linewidth=0)
    curves[label] = {"mean SSIM": stats["mean"].to_numpy()}
notes = plotting.degenerate_notes(curves)
plotting.set_yscale(ax, [c["mean SSIM"] for c in curves.values()])
ax.set_xlabel("generator updates eta_theta since the stationary point".replace("eta_theta", r"$\eta_\theta$"))
ax.set_ylabel(ylabel)
ax.set_title(f"SSIM mode: {', '.join(modes)}")
fig.suptitle(plotting.figure_title(params, runs), wrap=True)
plotting.figure_legend(fig, extra=[(Patch(color="0.6", alpha=0.4), "band: min-max over tracks")], ncol=1)
plotting.stamp(fig, params.scale, [run.summary for _, run in runs],
               configs=[plotting.run_config(spec, run) for spec, run in runs], notes=notes)
plotting.show_inline(fig)
plotting.save_pdf(fig, params.out)
print(f"wrote {params.out}")
