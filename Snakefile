# Rebuild every figure and table of "Sinkhorn divergence GANs trained with sequential SGDA"
# (IEEE Access 2021) and of the SiNG paper (NeurIPS 2020).
#
#   snakemake --cores 2 figures/fig04.pdf                  # default scale (smoke), CPU
#   snakemake all --cores 2 --config scale=small           # one GPU (targets before --config)
#   snakemake figures/fig22.pdf --profile slurm            # a SLURM cluster, paper scale
#   snakemake all --cores 2 --software-deployment-method conda   # in the conda environment code/envs/sinkgan.yaml
#
# Figures are drawn into figures/<scale>/ and the report into paper/<scale>/main.pdf; the names
# figures/<fig>.pdf and paper/main.pdf are copies of the scale this invocation asked for.
#
# The study (every experiment, figure and scale) is defined once in config/study.yaml and resolved
# once per invocation (code/rules/common.smk); rules are split by concern under code/rules/
# (training, plotting, tables, metrics, SiNG, paper); config/schemas/ hold the JSON schemas that
# check config/*.yaml and the --config keys before any job runs.

# `snakemake --report report.html --config scale=...`: one self-contained page with every figure and
# table of the scale, its caption, provenance and the runtime statistics
report: "code/report/workflow.rst"


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
        drawable_targets() if ONLY_DRAWABLE else [*ALL_FIGURES, *ALL_TABLES, MANIFEST, *figure_results()],


# Light rules run on the submitting host under a cluster executor (--profile slurm): data
# downloads, twins' training results and measurements (copies), drawing, tables, the scorecard
# and the paper.  Training, the quality metrics, tracking and the SiNG experiments are submitted
# as GPU jobs.
localrules:
    all,
    download_data,
    copy_twin,
    copy_twin_quality,
    plot,
    table,
    scorecard,
    manifest,
    paper,
    figure_at_scale,
    paper_at_scale,
