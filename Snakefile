# Rebuild every figure and table of "Sinkhorn divergence GANs trained with sequential SGDA"
# (IEEE Access 2021) and of the SiNG paper (NeurIPS 2020).
#
#   snakemake --cores 2 figures/fig04.pdf                  # default scale (smoke), CPU
#   snakemake --cores 2 --config scale=small all           # one GPU, about an hour
#   snakemake --profile slurm figures/fig22.pdf            # a SLURM cluster, paper scale
#
# The study (every experiment, figure and scale) is defined once in config/study.yaml;
# rules are split by concern under code/rules/ (training, plotting, tables, metrics, SiNG, paper).

include: "code/rules/common.smk"
include: "code/rules/training.smk"
include: "code/rules/plotting.smk"
include: "code/rules/tables.smk"
include: "code/rules/metrics.smk"
include: "code/rules/sing.smk"
include: "code/rules/paper.smk"


rule all:
    default_target: True
    input:
        ALL_FIGURES,
        ALL_TABLES,


# Light rules run on the submitting host under a cluster executor (--profile slurm):
# data downloads, drawing, tables, the scorecard and the paper.  Training, the quality metrics, tracking and
# the SiNG experiments are submitted as GPU jobs.
localrules:
    all,
    download_data,
    plot_losses,
    plot_samples,
    plot_fig10,
    plot_fig21,
    plot_fig22,
    plot_sing71,
    plot_sing72,
    plot_sing73,
    table,
    scorecard,
    paper,
