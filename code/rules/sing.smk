# Sinkhorn Natural Gradient (SiNG, NeurIPS 2020): the three experiments of its Section 7.
#
#   snakemake --cores 2 figures/sing71.pdf      # 7.1: S(alpha_theta, CelebA), squared-l2 pixel cost, SiNG vs Adam
#   snakemake --cores 2 figures/sing72.pdf      # 7.2 (SiNG Fig. 1): fixed encoder cost, CelebA and CIFAR-10
#   snakemake --cores 2 figures/sing73.pdf      # 7.3 (SiNG Fig. 2): GAN trained with SiNG vs Adam, samples
#
# Settings per experiment and scale: config/sing.yaml (validated; `python -m sinkgan.sing_experiments -h`).
# Results: results/<scale>/sing/<experiment>/{log.csv, summary.json[, samples_*.png]}.
# 7.2's encoder is the discriminator of a GAN run of the study (config/sing.yaml: encoder_figure,
# encoder_index; fig07's CelebA run by default), so that run is trained first.
# (The three plot rules are spelled out: a rule defined in a Python loop binds `script:` late.)
from dataclasses import asdict as _sing_asdict

from sinkgan.sing_experiments import load_sing_config as _load_sing_config

SING_FIGURES = {"sing71": "l2", "sing72": "encoder", "sing73": "gan"}
SING_CONFIG = "config/sing.yaml"
ALL_FIGURES += [f"figures/{fig}.pdf" for fig in SING_FIGURES]


def _sing_cfg(experiment):
    return _load_sing_config(experiment, SCALE, SING_CONFIG)


def _sing_encoder_run(experiment):
    """The run directory whose discriminator is the fixed encoder (7.2 only), as the study resolves it."""
    if experiment != "encoder":
        return None
    cfg = _sing_cfg(experiment)
    runs = STUDY.figure_runs(cfg.encoder_figure)
    if cfg.encoder_index >= len(runs):
        raise ValueError(f"{SING_CONFIG}: encoder_index {cfg.encoder_index} out of range for {cfg.encoder_figure}")
    return run_dir(runs[cfg.encoder_index].run_id)


def _sing_inputs(w):
    run = _sing_encoder_run(w.experiment)
    return {"config": SING_CONFIG, **({"encoder": f"{run}/summary.json"} if run else {})}


rule sing_experiment:
    """One SiNG experiment (every data set and optimizer of it) into results/<scale>/sing/<experiment>/."""
    input:
        unpack(_sing_inputs),
    output:
        log=f"{RESULTS}/sing/{{experiment}}/log.csv",
        summary=f"{RESULTS}/sing/{{experiment}}/summary.json",
    wildcard_constraints:
        experiment="l2|encoder|gan",
    params:
        # the resolved settings: a change reruns the experiment (Snakemake's params trigger)
        settings=lambda w: _sing_asdict(_sing_cfg(w.experiment)),
        encoder=lambda w: f"--encoder-run {_sing_encoder_run(w.experiment)}" if w.experiment == "encoder" else "",
        data=STUDY.scale["data"],
        data_root=STUDY.data_root,
        out=lambda w: f"{RESULTS}/sing/{w.experiment}",
    threads: 1
    resources:
        gpu=1,
        runtime=SLURM.get("runtime_min", 60),
        mem_mb=SLURM.get("mem_mb", 4000),
    log:
        f"{RESULTS}/logs/sing/{{experiment}}.log",
    shell:
        "python -m sinkgan.sing_experiments {wildcards.experiment} --scale {SCALE} --out {params.out}"
        " --config {input.config} --set data={params.data} --set data_root={params.data_root}"
        " {params.encoder} > {log} 2>&1"


rule plot_sing71:
    input:
        f"{RESULTS}/sing/l2/summary.json",
        f"{RESULTS}/sing/l2/log.csv",
    output:
        "figures/sing71.pdf",
    params:
        figure="sing71",
        scale=SCALE,
    script:
        "../notebooks/sing71.py"


rule plot_sing72:
    input:
        f"{RESULTS}/sing/encoder/summary.json",
        f"{RESULTS}/sing/encoder/log.csv",
    output:
        "figures/sing72.pdf",
    params:
        figure="sing72",
        scale=SCALE,
    script:
        "../notebooks/sing72.py"


rule plot_sing73:
    input:
        f"{RESULTS}/sing/gan/summary.json",
        f"{RESULTS}/sing/gan/log.csv",
    output:
        "figures/sing73.pdf",
    params:
        figure="sing73",
        scale=SCALE,
    script:
        "../notebooks/sing73.py"
