# Plotting: every figure is drawn by the jupytext notebook of its kind, the same file a reader
# opens in Jupyter (code/notebooks/; the SiNG figures by their own), run as a script with the
# figure, scale, output and resolved study in its environment (FIGURE, SCALE, FIGURE_OUT,
# SINKGAN_STUDY: sinkgan.plotting.notebook_params).  Notebooks read results/<scale>/ and the
# study this invocation resolved, nothing else.  A shell command rather than `script:`: Snakemake
# reruns a `script:` rule whenever its output is not newer than the script file, and on a fresh
# clone git's checkout order decides that; the notebook's and the plotting module's SHA-256 in
# params reruns the figure when either is edited.


rule plot:
    """figures/<scale>/<fig>.pdf, drawn by the notebook of the figure's kind."""
    input:
        lambda w: read_results(plot_inputs(w)),
    output:
        report(f"{FIGURES}/{{fig}}.pdf", caption="../report/figure.rst", category="Figures",
               subcategory=lambda w: "SiNG paper" if w.fig in SING_FIGURES else "Sinkhorn GANs with SeqSGDA"),
    wildcard_constraints:
        fig="|".join(PAPER_FIGURES + list(SING_FIGURES)),
    params:
        caption=lambda w: f"Paper: {CAPTIONS.get(w.fig, '(caption missing)')}",
        figure=lambda w: w.fig,
        scale=SCALE,
        study=STUDY_FILE,
        notebook=notebook,
        code=lambda w: content_digest([f"code/notebooks/{notebook(w)}", "code/sinkgan/plotting.py"]),
    log:
        f"{RESULTS}/logs/plot/{{fig}}.log",
    conda:
        ENV
    shell:
        "FIGURE={params.figure} SCALE={params.scale} FIGURE_OUT={output:q} SINKGAN_STUDY={params.study:q} "
        "python code/notebooks/{params.notebook} > {log} 2>&1"


rule figure_at_scale:
    """figures/<fig>.pdf, the name users type: a copy of figures/<scale>/<fig>.pdf at the scale this
    invocation asked for (default smoke; paper with the slurm profile)."""
    input:
        unpack(lambda w: at_this_scale(f"figures/{w.fig}.pdf", f"{FIGURES}/{w.fig}.pdf")),
        # what the figure reads: a measurement its committed figure was drawn without (a cached
        # scale's sample grid, "FID/KID not measured") is made first, and the figure drawn again
        results=lambda w: by_content(plot_inputs(w)) if w.fig in PAPER_FIGURES or w.fig in SING_FIGURES else [],
    output:
        "figures/{fig}.pdf",
    wildcard_constraints:
        fig=r"fig\d\d|sing7\d",
    params:
        scale=SCALE,
    log:
        f"{RESULTS}/logs/figure_at_scale/{{fig}}.log",
    conda:
        ENV
    shell:
        "cp {input.scaled} {output} 2> {log}"
