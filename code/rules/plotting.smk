# Plotting: every figure is drawn by the jupytext notebook of its kind, the same file a reader
# opens in Jupyter (code/notebooks/).  Notebooks read results/<scale>/ only.


rule plot_losses:
    input:
        lambda w: run_summaries(w.fig),
    output:
        "figures/{fig}.pdf",
    wildcard_constraints:
        fig=figure_regex("losses"),
    params:
        figure=lambda w: w.fig,
        scale=SCALE,
    script:
        "../notebooks/losses.py"


rule plot_samples:
    input:
        lambda w: run_summaries(w.fig),
    output:
        "figures/{fig}.pdf",
    wildcard_constraints:
        fig=figure_regex("samples"),
    params:
        figure=lambda w: w.fig,
        scale=SCALE,
    script:
        "../notebooks/samples.py"
