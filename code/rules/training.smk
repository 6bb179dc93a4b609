# Training: one job per distinct run of the study (a run shared by several figures is trained once).


def real_data_ready(wildcards):
    """At scales on real data, a run waits for its data set to be fetched on the submitting host."""
    if STUDY.scale["data"] != "real":
        return []
    return [f"{STUDY.data_root}/.ready/{STUDY.runs()[wildcards.run_id].config.dataset}"]


rule download_data:
    """Fetch (where the source allows) and cache a real data set; a local rule, because compute
    nodes often have no internet.  Data sets that cannot be downloaded (Cats, usually CelebA)
    fail here with the exact steps to prepare them by hand."""
    output:
        touch(f"{STUDY.data_root}/.ready/{{dataset}}"),
    wildcard_constraints:
        dataset="mnist|cats|celeba|cifar10",
    shell:
        "python -m sinkgan.data fetch {wildcards.dataset} --root {STUDY.data_root} --download"


rule train:
    """Train one run of the study into results/<scale>/<run_id>/ (resumes from its checkpoint).

    log.csv and checkpoints/ are deliberately not declared outputs: Snakemake deletes the
    outputs of a failed attempt (a SIGTERM at a time limit, a preemption), and the retry must
    find both to resume.  summary.json, written last, marks the run complete.
    """
    input:
        real_data_ready,
    output:
        summary=f"{RESULTS}/{{run_id}}/summary.json",
        generator=f"{RESULTS}/{{run_id}}/generator.pt",
        discriminator=f"{RESULTS}/{{run_id}}/discriminator.pt",
        samples=f"{RESULTS}/{{run_id}}/samples/final.png",
        config=f"{RESULTS}/{{run_id}}/config.yaml",
    params:
        # the resolved config: any change to it reruns this run (Snakemake's params trigger)
        config=lambda w: STUDY.runs()[w.run_id].config.to_dict(),
        data=STUDY.scale["data"],
        data_root=STUDY.data_root,
    threads: SLURM.get("cpus", 2)
    resources:
        gpu=1,
        runtime=SLURM.get("runtime_min", 60),
        mem_mb=SLURM.get("mem_mb", 4000),
    log:
        f"{RESULTS}/logs/train/{{run_id}}.log",
    shell:
        "OMP_NUM_THREADS={threads} sinkgan train-study {SCALE} {wildcards.run_id} --data {params.data} --data-root {params.data_root}"
        " --no-progress >> {log} 2>&1"
