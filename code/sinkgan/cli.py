"""sinkgan: the one command line of the reproduction (``sinkgan COMMAND --help`` for each).

  train CONFIG --out DIR     train one run          train-study SCALE RUN_ID   one run of the study
  study list|show|manifest|cost|copy-twin   the study's runs      validate CONFIG   check a config
  metrics quality|track|rate measurements           data list|fetch|prepare    data sets
  table table2|table3        Tables 2 and 3         report scorecard|build     the report
  sing l2|encoder|gan        a SiNG experiment      bench [--quick]            time training and S_eps
  verify-results [RUN ...]   retrain committed runs and compare their losses

``python -m sinkgan`` is the same; ``python -m sinkgan.metrics|data|report|sing_experiments|tables``
stay as aliases of the command groups.
"""
from __future__ import annotations

import argparse
import sys


def _run(cfg, out, resume: bool, args) -> int:
    """Train and map the outcome to an exit status: 0 done, 1 failed (non-finite loss, lost log),
    2 refused before anything was written, 128+signal when stopped after a checkpoint."""
    from .rundir import CheckpointError
    from .config import ConfigError
    from .train import Interrupted, RunFailed, RunRefused, train

    try:
        summary = train(cfg, out, resume=resume, progress=not args.no_progress, scale=args.scale)
    except Interrupted as stop:
        print(f"sinkgan: {stop}", file=sys.stderr)
        return 128 + stop.signum
    except ConfigError as err:
        print(f"sinkgan: invalid config: {err}", file=sys.stderr)
        return 2
    except (FileExistsError, RunRefused, CheckpointError) as err:
        print(f"sinkgan: {err}", file=sys.stderr)
        return 2
    except RunFailed as err:
        print(f"sinkgan: run failed: {err}", file=sys.stderr)
        return 1
    print(f"sinkgan: finished, summary in {summary}")
    return 0


def _load_config(args):
    """``args.config`` with ``args.set`` applied, or None after printing why it is invalid."""
    from .config import ConfigError, load_config

    try:
        return load_config(args.config, args.set)
    except ConfigError as err:
        print(f"sinkgan: invalid config: {err}", file=sys.stderr)
        return None


def _train(args) -> int:
    cfg = _load_config(args)
    return 2 if cfg is None else _run(cfg, args.out, args.resume, args)


def _study(args):
    """The study a command reads: the resolved file ``--study`` (what a DAG job gets), else
    ``config/study.yaml`` resolved here at ``args.scale`` with ``--data``/``--data-root``."""
    from .config import ConfigError
    from .study import Study

    if getattr(args, "study", None) is None:
        return Study.load(args.scale, data=args.data, data_root=args.data_root)
    if args.data is not None or args.data_root != "data":
        raise ConfigError("--data/--data-root are settled in the resolved --study file; give one or the other")
    study = Study.read(args.study)
    if study.scale_name != args.scale:
        raise ConfigError(f"--study {args.study} resolves scale {study.scale_name!r}, not {args.scale!r}")
    return study


def _study_run(args):
    """``(study, RunSpec)`` of ``args.run_id``, or an error naming the study's runs."""
    from .config import ConfigError

    runs = _study(args).runs()
    if args.run_id not in runs:
        raise ConfigError(f"run {args.run_id!r} is not part of the {args.scale} study; its {len(runs)} runs: "
                          f"{', '.join(sorted(runs))} (`sinkgan study list --scale {args.scale}`)")
    return runs[args.run_id]


def _train_study(args) -> int:
    import os

    from .config import TRAIN_SET_ENV, ConfigError, check_data_available, how_not_what, validate

    try:
        spec = _study_run(args)
        copied = _copy_if_twin(args, spec)
        if copied is not None:
            return copied
        # how (not what) it computes: the DAG's train_set (through the environment), then --set
        how = {**how_not_what(os.environ.get(TRAIN_SET_ENV, ""), where=f"{TRAIN_SET_ENV} (snakemake --config train_set)"),
               **how_not_what(args.set, where="--set")}
        cfg = validate(type(spec.config), {**spec.config.to_dict(), **how}) if how else spec.config
        check_data_available(cfg)
    except ConfigError as err:
        print(f"sinkgan: invalid config: {err}", file=sys.stderr)
        return 2
    with _every_sitting_logged(spec.run_dir, args):
        return _run(cfg, spec.run_dir, True, args)


def _every_sitting_logged(run_dir, args):
    """What a sitting prints also goes to ``RUN_DIR/train.log`` (sinkgan.joblog), after a header naming
    the sitting: the job's own log (results/<scale>/logs/train/<run>.log) is emptied by Snakemake when a
    resumed run's job starts."""
    import datetime
    import platform

    from .joblog import appended_to
    from .provenance import git_commit
    from .rundir import TRAIN_LOG

    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return appended_to(run_dir / TRAIN_LOG, f"==== {now} sinkgan train-study {args.scale} {args.run_id}: "
                                            f"commit {git_commit()}, host {platform.node()} ====")


def _original(args) -> tuple[str | None, object]:
    """``(original run id, its folder)`` of the twin ``args.run_id`` (sinkgan.twins), or ``(None, None)``."""
    study = _study(args)
    original = study.twins().get(args.run_id)
    return (original, study.runs()[original].run_dir) if original else (None, None)


def _copy_if_twin(args, spec) -> int | None:
    """A twin whose original has finished here, weights included, is copied from it (sinkgan.twins):
    the exit status; else ``None`` (train it: the same numbers, computed again)."""
    from .rundir import DISCRIMINATOR, GENERATOR, SUMMARY
    from .twins import copy_training

    original, src = _original(args)
    if original is None:
        return None
    missing = [name for name in (SUMMARY, GENERATOR, DISCRIMINATOR) if not (src / name).is_file()]
    if missing:
        print(f"sinkgan: {args.run_id} trains what {original} trains, but {src} has no {', '.join(missing)} here: "
              f"training it", file=sys.stderr)
        return None
    try:
        copy_training(src, spec.run_dir, spec.config)
    except ValueError as err:  # the original trained something else (stale): train this one
        print(f"sinkgan: {err}; training {args.run_id} instead", file=sys.stderr)
        return None
    print(f"sinkgan: {args.run_id}: copied from {original}, which trains the same (sinkgan.twins)", file=sys.stderr)
    return 0


def _validate(args) -> int:
    cfg = _load_config(args)
    if cfg is None:
        return 2
    import yaml

    print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
    return 0


def _study_show(args) -> int:
    import yaml

    from .config import ConfigError

    try:
        spec = _study_run(args)
    except ConfigError as err:
        print(f"sinkgan: {err}", file=sys.stderr)
        return 2
    print(yaml.safe_dump(spec.config.to_dict(), sort_keys=False), end="")
    return 0


def _study_list(args) -> int:
    """One line per run: its id, then the figures that use it."""
    from .config import ConfigError

    from .manifest import run_figures

    try:
        study = _study(args)
        users = run_figures(study, [args.figure] if args.figure else None)
    except (ConfigError, KeyError) as err:
        print(f"sinkgan: {err}", file=sys.stderr)
        return 2
    for run_id, figs in users.items():
        print(f"{run_id}\t{','.join(figs)}")
    return 0


def _study_manifest(args) -> int:
    """Write results/<scale>/MANIFEST (one line per run of the scale, finished or not) and print it."""
    from .config import ConfigError
    from .manifest import format_manifest, results_table_md, write_manifest

    try:
        study = _study(args)
        if args.markdown:
            print(results_table_md(study), end="")
            return 0
        path, rows = write_manifest(study)
    except ConfigError as err:
        print(f"sinkgan: {err}", file=sys.stderr)
        return 2
    print(format_manifest(rows), end="")
    finished = sum(1 for row in rows if row["finished"] == "yes")
    print(f"sinkgan: {finished} of {len(rows)} runs finished; manifest in {path}", file=sys.stderr)
    return 0


def _study_copy_twin(args) -> int:
    """Copy a twin's original into its folder (sinkgan.twins): its training results (what
    ``train-study`` does for a twin), or with ``--quality OUT`` its measurement (rule copy_twin_quality)."""
    from .config import ConfigError
    from .twins import copy_quality, copy_training

    try:
        spec = _study_run(args)
        original, src = _original(args)
        if original is None:
            raise ConfigError(f"run {args.run_id!r} is no twin: no earlier run of the {args.scale} study trains what it "
                              f"trains (train it: `sinkgan train-study {args.scale} {args.run_id}`)")
        if args.quality:
            out = copy_quality(src, spec.run_dir, original, args.quality)
        else:
            out = copy_training(src, spec.run_dir, spec.config)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        print(f"sinkgan: {err}", file=sys.stderr)
        return 2
    print(f"sinkgan: {args.run_id}: copied from {original} ({out})", file=sys.stderr)
    return 0


def _study_cost(args) -> int:
    """Estimated training hours of the scale on the benchmarked device (sinkgan.cost)."""
    from .config import ConfigError
    from .cost import format_cost, read_bench, scale_cost

    try:
        cost = scale_cost(_study(args), read_bench(args.bench), args.precision, args.mode)
    except (ConfigError, ValueError, OSError) as err:
        print(f"sinkgan: {err}", file=sys.stderr)
        return 2
    print(format_cost(cost))
    return 0


def _add_study_options(p, scale_positional: bool = False) -> None:
    from .study import SCALES

    if scale_positional:
        p.add_argument("scale", choices=SCALES, help="study scale (config/study.yaml scales:)")
    else:
        p.add_argument("--scale", default="smoke", choices=SCALES, help="study scale (default smoke)")
    p.add_argument("--study", default=None, metavar="FILE",
                   help="a resolved study (results/<scale>/.study/*.json, what the DAG passes) instead of resolving "
                        "config/study.yaml here")
    p.add_argument("--data", choices=("real", "standin"), default=None,
                   help="override the scale's data choice (as snakemake --config data=...)")
    p.add_argument("--data-root", default="data", help="folder of the real data sets (as --config data_root=...)")


#: Command groups whose arguments their own module defines (``configure(parser)``, ``run(args)``);
#: the module is imported only when its group is used (some import torch).
GROUPS = {
    "metrics": ("sinkgan.metrics.__main__", "measurements of finished runs: quality (IS/FID/KID), track (SSIM), rate (kappa)"),
    "data": ("sinkgan.data", "data sets: list, fetch (download where allowed, cache), prepare (Cats)"),
    "report": ("sinkgan.report", "the reproduction report: scorecard, build (LaTeX), check-log, deviations-md"),
    "sing": ("sinkgan.sing_experiments", "run one SiNG experiment (Section 7: l2, encoder, gan)"),
    "table": ("sinkgan.tables", "write Table 2 or 3 from the model code"),
    "bench": ("sinkgan.bench", "time a training iteration and S_eps here (results/bench/<device>.json)"),
    "verify-results": ("sinkgan.verify", "retrain committed runs from their recorded configs and compare their losses"),
}


class _Version(argparse.Action):
    """``--version``: the package version and the code's commit (asked of git only when wanted)."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from . import __version__
        from .provenance import git_commit

        print(f"sinkgan {__version__} (code {git_commit()})")
        parser.exit()


def build_parser(groups=None) -> argparse.ArgumentParser:
    """The ``sinkgan`` parser; ``groups``: the command groups of :data:`GROUPS` to configure in full
    (``None``: all of them; the others then only list themselves in ``--help``)."""
    import importlib

    parser = argparse.ArgumentParser(prog="sinkgan", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_Version, help="print the version and the code's commit")
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train one run into a run directory")
    p.add_argument("config", help="YAML config (fields of sinkgan.config.TrainConfig)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt if it exists")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field (repeatable)")
    p.add_argument("--scale", default=None, help="study scale recorded in the summary (set by the DAG)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (rate-limited progress lines instead)")
    p.set_defaults(func=_train)

    p = sub.add_parser("train-study", help="train one run of the study (used by the Snakemake rule; always resumes)")
    _add_study_options(p, scale_positional=True)
    p.add_argument("run_id", help="a run id of the study (`sinkgan study list`)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (rate-limited progress lines instead)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="backend, compile or memory_format only: how the run computes, not what (also from the DAG: "
                        "snakemake --config train_set='compile=reduce-overhead backend=auto')")
    p.set_defaults(func=_train_study)

    p = sub.add_parser("study", help="the study's runs: list their ids, show one's resolved config")
    study_sub = p.add_subparsers(dest="study_command", required=True)
    q = study_sub.add_parser("list", help="every run id of the study at a scale, with the figures that use it")
    _add_study_options(q)
    q.add_argument("--figure", default=None, help="only the runs of this figure (e.g. fig04)")
    q.set_defaults(func=_study_list)
    q = study_sub.add_parser("show", help="the resolved config of one run")
    q.add_argument("run_id", help="a run id of the study (`sinkgan study list`)")
    _add_study_options(q)
    q.set_defaults(func=_study_show)
    q = study_sub.add_parser("manifest", help="write results/<scale>/MANIFEST: every run, finished or not, with its "
                                              "commit, device and times")
    _add_study_options(q)
    q.add_argument("--markdown", action="store_true",
                   help="print, without writing MANIFEST, the README's table of the scale's runs: what each run's "
                        "committed files say (state, machine, wall time, s / iteration, loss level, FID/KID)")
    q.set_defaults(func=_study_manifest)
    q = study_sub.add_parser("copy-twin", help="copy the results of the run a twin trains the same as (sinkgan.twins)")
    q.add_argument("run_id", help="a twin's run id (a run that trains exactly what an earlier run of the study trains)")
    _add_study_options(q)
    q.add_argument("--quality", default=None, metavar="OUT", help="copy the original's quality.json to OUT instead")
    q.set_defaults(func=_study_copy_twin)
    q = study_sub.add_parser("cost", help="estimated hours to train the scale on a benchmarked device (sinkgan.cost)")
    _add_study_options(q)
    q.add_argument("--bench", required=True, metavar="JSON", help="a benchmark, results/bench/<device>.json")
    q.add_argument("--precision", default=None, choices=("fp32", "tf32", "bf16"),
                   help="time every run in this precision (default: the one each run trains in: bf16 with "
                        "autocast=bf16, tf32 with tf32=true, else fp32)")
    q.add_argument("--mode", default=None, choices=("eager", "compiled", "captured", "fused", "fused+captured"),
                   help="time every run in this mode (default: the mode each run's config trains in)")
    q.set_defaults(func=_study_cost)

    p = sub.add_parser("run-config", help="the resolved config of a study run (same as `study show RUN --scale SCALE`)")
    _add_study_options(p, scale_positional=True)
    p.add_argument("run_id", help="a run id of the study")
    p.set_defaults(func=_study_show)

    p = sub.add_parser("validate", help="check a config and print it resolved")
    p.add_argument("config", help="YAML config (fields of sinkgan.config.TrainConfig)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field (repeatable)")
    p.set_defaults(func=_validate)

    for name, (module, help_text) in GROUPS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if groups is None or name in groups:
            mod = importlib.import_module(module)
            mod.configure(p)
            p.set_defaults(func=mod.run)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(groups={chosen}).parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
