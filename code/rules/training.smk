# Training: one job per distinct run of the study (a run shared by several figures is trained once).


rule download_data:
    """Fetch (where the source allows) and cache a real data set; a local rule, because compute
    nodes often have no internet.  Data sets that cannot be downloaded (Cats, usually CelebA)
    fail here with the exact steps to prepare them by hand."""
    output:
        touch(f"{DATA_ROOT}/.ready/{{dataset}}"),
    wildcard_constraints:
        dataset="mnist|cats|celeba|cifar10",
    params:
        root=lambda w, output: Path(output[0]).parent.parent,
    log:
        f"{RESULTS}/logs/download_data/{{dataset}}.log",
    conda:
        ENV
    shell:
        "python -m sinkgan data fetch {wildcards.dataset} --root {params.root} --download > {log} 2>&1"


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
        made=touch(made(f"{RESULTS}/{{run_id}}")),  # its readers rerun when it reruns (common.smk)
    params:
        # the resolved config: a change to it reruns this run (Snakemake's params trigger), except
        # in the switches that change only how it computes (sinkgan.config.HOW_NOT_WHAT)
        config=lambda w: STUDY.runs()[w.run_id].config.result_settings(),
        scale=SCALE,
        study=STUDY_FILE,
    threads: GPU_THREADS
    resources:
        **GPU_JOB,
    log:
        f"{RESULTS}/logs/train/{{run_id}}.log",
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} python -m sinkgan train-study {params.scale} {wildcards.run_id}"
        " --study {params.study} --no-progress >> {log} 2>&1"


# A twin (sinkgan.twins) is its original's copy, made on the submitting host (a localrule: under
# --profile slurm it asks for no GPU and waits in no queue), where the original's weights are here
# or about to be (copied_twins, common.smk); otherwise it is trained itself, by rule train.
ruleorder: copy_twin > train


rule copy_twin:
    """A twin's training results (sinkgan.twins): its original's, copied into its folder under its
    own name, summary.json last (`sinkgan study copy-twin`)."""
    input:
        original_results,
    output:
        summary=f"{RESULTS}/{{run_id}}/summary.json",
        generator=f"{RESULTS}/{{run_id}}/generator.pt",
        discriminator=f"{RESULTS}/{{run_id}}/discriminator.pt",
        samples=f"{RESULTS}/{{run_id}}/samples/final.png",
        config=f"{RESULTS}/{{run_id}}/config.yaml",
        made=touch(made(f"{RESULTS}/{{run_id}}")),
    wildcard_constraints:
        run_id=twin_ids(copied_twins()),
    params:
        config=lambda w: STUDY.runs()[w.run_id].config.result_settings(),  # as rule train's
        scale=SCALE,
        study=STUDY_FILE,
    log:
        f"{RESULTS}/logs/copy_twin/{{run_id}}.log",
    conda:
        ENV
    shell:
        "python -m sinkgan study copy-twin {wildcards.run_id} --scale {params.scale} --study {params.study} > {log} 2>&1"


rule manifest:
    """results/<scale>/MANIFEST: one line per run of the scale (training runs, then SiNG experiments)
    with its iterations, commit, device, wall time and GPU-seconds, rewritten from the runs'
    summaries (sinkgan.manifest; `sinkgan study manifest` writes it for a partly trained scale)."""
    input:
        read_results(RUN_SUMMARIES + SING_SUMMARIES),
    output:
        MANIFEST,
    params:
        scale=SCALE,
        study=STUDY_FILE,
    log:
        f"{RESULTS}/logs/manifest.log",
    conda:
        ENV
    shell:
        "python -m sinkgan study manifest --scale {params.scale} --study {params.study} > {log} 2>&1"
