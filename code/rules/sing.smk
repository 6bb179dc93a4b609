# Sinkhorn Natural Gradient (SiNG, NeurIPS 2020): the three experiments of its Section 7.
#
#   snakemake --cores 2 figures/sing71.pdf      # 7.1: S(alpha_theta, CelebA), squared-l2 pixel cost, SiNG vs Adam
#   snakemake --cores 2 figures/sing72.pdf      # 7.2 (SiNG Fig. 1): fixed encoder cost, CelebA and CIFAR-10
#   snakemake --cores 2 figures/sing73.pdf      # 7.3 (SiNG Fig. 2): GAN trained with SiNG vs Adam, samples
#
# Settings per experiment and scale: config/sing.yaml (validated; `sinkgan sing --help`).
# Results: results/<scale>/sing/<experiment>/{log.csv, summary.json[, samples_*.png]}; the figures
# are drawn by the rule `plot` (plotting.smk) with code/notebooks/sing7N.py.
# 7.2's encoder is the discriminator of a GAN run of the study (config/sing.yaml: encoder_figure,
# encoder_index; fig07's CelebA run by default), so that run is trained first.

rule sing_experiment:
    """One SiNG experiment (every data set and optimizer of it) into results/<scale>/sing/<experiment>/."""
    input:
        unpack(sing_inputs),
    output:
        log=f"{RESULTS}/sing/{{experiment}}/log.csv",
        summary=f"{RESULTS}/sing/{{experiment}}/summary.json",
        made=touch(made(f"{RESULTS}/sing/{{experiment}}")),  # its figure reruns when it reruns (common.smk)
    wildcard_constraints:
        experiment="|".join(SING_FIGURES.values()),
    params:
        # the resolved settings: a change reruns the experiment (Snakemake's params trigger)
        settings=lambda w: asdict(sing_cfg(w.experiment)),
        encoder=lambda w: f"--encoder-run {sing_encoder_run(w.experiment)}" if w.experiment == "encoder" else "",
        data=STUDY.scale["data"],
        data_root=DATA_ROOT,
        scale=SCALE,
        out=lambda w: f"{RESULTS}/sing/{w.experiment}",
    threads: GPU_THREADS  # on a CPU-only machine, the cores a training job gets
    resources:
        **GPU_JOB,
    log:
        f"{RESULTS}/logs/sing/{{experiment}}.log",
    conda:
        ENV
    shell:
        "python -m sinkgan sing {wildcards.experiment} --scale {params.scale} --out {params.out}"
        " --config {input.config} --set data={params.data} --set data_root={params.data_root}"
        " {params.encoder} > {log} 2>&1"
