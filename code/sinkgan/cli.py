"""Command line: ``sinkgan train CONFIG --out DIR [--resume] [--set key=value ...]``.

``sinkgan train-study SCALE RUN_ID`` trains one run of ``config/study.yaml`` (the DAG's rule).
Other sub-commands forward to the module that owns the work:
``sinkgan run-config SCALE RUN_ID`` prints the resolved config of a study run,
``sinkgan table table2|table3 --out FILE`` writes an architecture table,
``sinkgan validate CONFIG [--set ...]`` checks a config without training.
"""
from __future__ import annotations

import argparse
import sys


def _run(cfg, out, resume: bool, args) -> int:
    """Train and map the outcome to an exit status: 0 done, 2 refused, 128+signal when stopped."""
    from .train import Interrupted, train

    try:
        summary = train(cfg, out, resume=resume, progress=not args.no_progress, scale=args.scale)
    except Interrupted as stop:
        print(f"sinkgan: {stop}", file=sys.stderr)
        return 128 + stop.signum
    except FileExistsError as err:
        print(f"sinkgan: {err}", file=sys.stderr)
        return 2
    print(f"sinkgan: finished, summary in {summary}")
    return 0


def _train(args) -> int:
    from .config import ConfigError, load_config

    try:
        cfg = load_config(args.config, args.set)
    except ConfigError as err:
        print(f"sinkgan: invalid config: {err}", file=sys.stderr)
        return 2
    return _run(cfg, args.out, args.resume, args)


def _train_study(args) -> int:
    from .config import ConfigError, check_data_available
    from .study import Study

    try:
        runs = Study.load(args.scale, data=args.data, data_root=args.data_root).runs()
        if args.run_id not in runs:
            print(f"sinkgan: run {args.run_id!r} is not part of the {args.scale} study", file=sys.stderr)
            return 2
        spec = runs[args.run_id]
        check_data_available(spec.config)
    except ConfigError as err:
        print(f"sinkgan: invalid config: {err}", file=sys.stderr)
        return 2
    return _run(spec.config, spec.run_dir, True, args)


def _validate(args) -> int:
    from .config import ConfigError, load_config

    try:
        cfg = load_config(args.config, args.set)
    except ConfigError as err:
        print(f"sinkgan: invalid config: {err}", file=sys.stderr)
        return 2
    import yaml

    print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
    return 0


def _run_config(args) -> int:
    import yaml

    from .study import Study

    run = Study.load(args.scale).runs()[args.run_id]
    print(yaml.safe_dump(run.config.to_dict(), sort_keys=False), end="")
    return 0


def _table(args) -> int:
    from . import tables

    return tables.main([args.which, "--out", args.out])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="sinkgan", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one run into a run directory")
    p.add_argument("config", help="YAML config (fields of sinkgan.config.TrainConfig)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt if it exists")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field (repeatable)")
    p.add_argument("--scale", default=None, help="study scale recorded in the summary (set by the DAG)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)

    p = sub.add_parser("train-study", help="train one run of the study (used by the Snakemake rule; always resumes)")
    p.add_argument("scale")
    p.add_argument("run_id")
    p.add_argument("--data", choices=("real", "standin"), default=None, help="override the scale's data choice")
    p.add_argument("--data-root", default="data")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_train_study)

    p = sub.add_parser("validate", help="check a config and print it resolved")
    p.add_argument("config")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=_validate)

    p = sub.add_parser("run-config", help="print the resolved config of a study run")
    p.add_argument("scale")
    p.add_argument("run_id")
    p.set_defaults(func=_run_config)

    p = sub.add_parser("table", help="write Table 2 or 3 from the model code")
    p.add_argument("which", choices=("table2", "table3"))
    p.add_argument("--out", required=True)
    p.set_defaults(func=_table)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
