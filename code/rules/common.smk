# Shared definitions (no rules here): the checked configuration, the study resolved once for
# this invocation, the names of every figure and table, and the functions the rule files use.
#
# Checked before any job runs: the `--config` keys (config/schemas/config.schema.yaml), the
# structure of config/study.yaml, config/claims.yaml and config/sing.yaml (their schemas), and
# every run's settings (sinkgan.config.TrainConfig, when the study is resolved).
import filecmp
import hashlib
import os
import re
import sys
from dataclasses import asdict
from pathlib import Path

import yaml
from snakemake.utils import validate

CODE = str(Path(workflow.basedir) / "code")
sys.path.insert(0, CODE)
# Every job (local, SLURM, a conda environment) imports this checkout's sinkgan.
if CODE not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [CODE, os.environ.get("PYTHONPATH")])))

from sinkgan import report as _report  # noqa: E402
from sinkgan.config import TRAIN_SET_ENV, how_not_what  # noqa: E402
from sinkgan.study import Study  # noqa: E402
from sinkgan.sing_experiments import load_sing_config  # noqa: E402

validate(config, "../../config/schemas/config.schema.yaml")
for _name in ("study", "claims", "sing"):
    validate(yaml.safe_load(Path(workflow.basedir, "config", f"{_name}.yaml").read_text()),
             f"../../config/schemas/{_name}.schema.yaml")


from sinkgan.snakemake_lock import release_stale_lock  # noqa: E402

release_stale_lock(os.getcwd())  # the working directory holds .snakemake/
SCALE = config.get("scale", "smoke")
# The study, resolved once (scale + the --config overrides of sinkgan.study.OVERRIDE_KEYS) and
# written to results/<scale>/.study/; training, every notebook and the report read that file.
STUDY = Study.from_overrides(SCALE, config, root=workflow.basedir)
RESULTS = f"results/{SCALE}"
STUDY_FILE = str(STUDY.write_resolved(f"{RESULTS}/.study"))
DATA_ROOT = STUDY.data_root
# How (not what) every training job computes: `--config train_set='compile=reduce-overhead backend=auto'`
# (the switches of sinkgan.config.HOW_NOT_WHAT only, checked here before any job).  It reaches the
# jobs through the environment, not their params: it is no rerun trigger, so a finished run is not
# retrained for it, and each run's config.yaml records what it trained with.
TRAIN_SET = " ".join(f"{k}={v}" for k, v in how_not_what(config.get("train_set", ""), "--config train_set").items())
os.environ[TRAIN_SET_ENV] = TRAIN_SET

# The conda environment of all rules (`--software-deployment-method conda`), the pins of requirements.txt.
ENV = "../envs/sinkgan.yaml"
# Resources of the GPU jobs (training, metrics, SiNG) at this scale (config/study.yaml scales.<scale>.slurm).
SLURM = STUDY.scale.get("slurm", {})
GPU_THREADS = SLURM.get("cpus", 2)
GPU_JOB = {"gpu": 1, "runtime": SLURM.get("runtime_min", 60), "mem_mb": SLURM.get("mem_mb", 4000)}

# Every figure of a scale lives under figures/<scale>/ (the committed smoke figures under
# figures/smoke/), so a figure of one scale is never taken for another.  The names users type,
# figures/fig22.pdf and paper/main.pdf, are copies of this invocation's scale (rules
# `figure_at_scale`, `paper_at_scale`).  Tables 2 and 3 depend on no scale: figures/table2.tex.
FIGURES = f"figures/{SCALE}"
# the paper's captions (paper/captions.yaml), shown in the report and in `snakemake --report report.html`
CAPTIONS = yaml.safe_load(Path("paper/captions.yaml").read_text()) or {}
SING_CONFIG = "config/sing.yaml"
# SiNG figure -> experiment (config/sing.yaml experiments.<experiment>.figure)
# at the scales config/sing.yaml defines (a scale such as `cpu` builds no SiNG figure)
_SING = yaml.safe_load(Path(SING_CONFIG).read_text())
SING_FIGURES = {spec["figure"]: exp for exp, spec in _SING["experiments"].items()} if SCALE in _SING["scales"] else {}
PAPER_FIGURES = list(STUDY.spec["figures"])
TABLES = list(STUDY.spec["tables"])
ALL_FIGURES = [f"{FIGURES}/{fig}.pdf" for fig in PAPER_FIGURES + list(SING_FIGURES)]
ALL_TABLES = [f"figures/{t}.tex" for t in TABLES]
# every run's completion marker: the training runs of the study, then the SiNG experiments
RUN_SUMMARIES = [f"{RESULTS}/{run_id}/summary.json" for run_id in STUDY.runs()]
SING_SUMMARIES = [f"{RESULTS}/sing/{exp}/summary.json" for exp in SING_FIGURES.values()]
MANIFEST = f"{RESULTS}/MANIFEST"

# The notebook (code/notebooks/) that draws each kind of figure; a SiNG figure has its own.
NOTEBOOKS = {"losses": "losses.py", "samples": "samples.py", "quality": "fig10_quality.py",
             "ssim": "fig21_ssim.py", "rate": "fig22_rate.py"}

# --config fid_extractor / inception_weights / tracking_mode / tracking_reference (metrics.smk)
FID_EXTRACTOR = config.get("fid_extractor", "auto")
INCEPTION_WEIGHTS = config.get("inception_weights", "")
TRACKING = {**STUDY.scale.get("tracking", {}),
            **{k: config[f"tracking_{k}"] for k in ("mode", "reference") if config.get(f"tracking_{k}")}}

# The report: the SiNG figures this DAG builds are inputs of the paper (a missing one fails the build).
PAPER_SING = [fig for fig in SING_FIGURES if fig in _report.SING_FIGURES]
PAPER_INPUTS = _report.paper_inputs(SCALE, workflow.basedir, study=STUDY, sing=PAPER_SING)
# --config only_drawable=true (`make figures-cached`, `make paper-cached`): a partly trained scale
# draws what its results allow; the report shows those figures and says it is partial.
ONLY_DRAWABLE = str(config.get("only_drawable", False)).lower() == "true"

wildcard_constraints:
    run_id="[^/]+",


# Twins (sinkgan.twins): a run that trains exactly what an earlier run of the study trains (on
# stand-in data, a Cats and a CelebA run with the same settings) is copied from that run, its
# original (rules copy_twin, copy_twin_quality), not trained again.
TWINS = STUDY.twins()  # {twin run id: original}


def twin_ids(run_ids):
    """``run_ids`` as a wildcard constraint (a pattern no run id matches where there are none)."""
    return "|".join(re.escape(r) for r in run_ids) or "(?!)"


def original_of(wildcards):
    """The folder of the run a twin copies."""
    return run_dir(TWINS[wildcards.run_id])


def copied_twins():
    """The twins that copy_twin copies, those whose original's weights are here or are about
    to be (the original has not finished here, so it is trained first).  A clone of a scale
    committed without weights has finished originals without them: such a twin is trained itself
    (rule train), as any run whose weights are asked for there."""
    return [t for t, o in TWINS.items() if weights_coming(Path(run_dir(o)))]


def weights_coming(folder):
    """Whether a run's weights are in ``folder`` or will be (the run has not finished there)."""
    return not (folder / "summary.json").exists() or all((folder / w).exists() for w in ("generator.pt", "discriminator.pt"))


def original_results(wildcards):
    """What a twin's copy reads (sinkgan.twins): its original's summary and marker, and its weights."""
    original = original_of(wildcards)
    return read_results([f"{original}/summary.json"]) + by_content([f"{original}/{w}" for w in ("generator.pt", "discriminator.pt")])


def run_dir(run_id):
    return f"{RESULTS}/{run_id}"


def run_files(fig, *names):
    """``names`` (summary.json, quality.json, ...) of every training run figure ``fig`` needs."""
    return [f"{run_dir(s.run_id)}/{name}" for s in STUDY.figure_runs(fig) for name in names]


# Runs scored at every kept generator (the quality figure, fig10, draws the curve over training);
# the others are scored on their final generator alone (sample figures and claims compare those).
QUALITY_CURVE_RUNS = {s.run_id for fig in STUDY.figures("quality") for s in STUDY.figure_runs(fig)}


# Twins whose measurement is their original's: both scored at the same generators (a curve for the
# quality figure's runs, the final generator for the others).
TWINS_SCORED_ALIKE = [t for t, o in TWINS.items() if (t in QUALITY_CURVE_RUNS) == (o in QUALITY_CURVE_RUNS)]


def quality_points(wildcards):
    """``--final-only`` for a run outside :data:`QUALITY_CURVE_RUNS`."""
    return "" if wildcards.run_id in QUALITY_CURVE_RUNS else "--final-only"


def plot_inputs(wildcards):
    """What the notebook of a figure reads: its runs' summary.json and the measurements of its kind,
    or the SiNG experiment's results."""
    if wildcards.fig in SING_FIGURES:
        folder = f"{RESULTS}/sing/{SING_FIGURES[wildcards.fig]}"
        return [f"{folder}/summary.json", f"{folder}/log.csv"]
    kind = STUDY.figure(wildcards.fig)["kind"]
    if kind == "samples" and ONLY_DRAWABLE:
        # a cached scale draws each grid (samples/final.png, committed with summary.json) even where
        # its FID/KID is not there: the generator it needs is not kept beyond the smoke scale, and the
        # panel says "not measured".  Otherwise the figure waits for quality.json, as the scorecard does.
        return run_files(wildcards.fig, "summary.json")
    return run_files(wildcards.fig, "summary.json", *_report.KIND_FILES.get(kind, ()))


def figure_inputs(fig):
    """:func:`plot_inputs` of figure ``fig`` outside a job (no wildcards object)."""
    from types import SimpleNamespace

    return plot_inputs(SimpleNamespace(fig=fig))


def figure_results():
    """Every result file the figures read: targets of `all` beside the figures, so that a measurement
    still missing is made even where its figure exists (Snakemake does not rerun a job for a missing
    input whose output is up to date, and a cached scale draws sample grids without their FID/KID)."""
    return sorted({f for fig in ALL_FIGURES for f in figure_inputs(Path(fig).stem)})


def missing_inputs(fig):
    """The files figure ``fig`` reads that are not there yet (a partly trained scale)."""
    return [f for f in figure_inputs(fig) if not Path(f).exists()]


def waiting_figures():
    """Figure -> the files it reads that are not there yet, for every figure of the scale that waits."""
    waiting = {Path(f).stem: missing_inputs(Path(f).stem) for f in ALL_FIGURES}
    return {fig: files for fig, files in waiting.items() if files}


# Under only_drawable: the figures still waiting, looked up once (for `all` and the report alike).
WAITING = waiting_figures() if ONLY_DRAWABLE else {}


def drawable_targets():
    """What `all` builds with ``--config only_drawable=true`` (``make figures-cached``): the figures
    whose results are all present, the tables, and the manifest once every run has finished; the
    figures left out are named on stderr with the first file each still waits for."""
    if WAITING:
        print(f"[sinkgan] only_drawable: {len(ALL_FIGURES) - len(WAITING)} of {len(ALL_FIGURES)} figures of scale "
              f"{SCALE} have their results; not drawn: "
              + "; ".join(f"{fig} (waits for {files[0]}{f' and {len(files) - 1} more' if len(files) > 1 else ''})"
                          for fig, files in WAITING.items()), file=sys.stderr)
    figures = [f for f in ALL_FIGURES if Path(f).stem not in WAITING]
    complete = all(Path(f).exists() for f in RUN_SUMMARIES + SING_SUMMARIES)
    return figures + ALL_TABLES + ([MANIFEST] if complete else [])


def notebook(wildcards):
    """The notebook that draws ``wildcards.fig`` (file name under code/notebooks/)."""
    if wildcards.fig in SING_FIGURES:
        return f"{wildcards.fig}.py"
    return NOTEBOOKS[STUDY.figure(wildcards.fig)["kind"]]


def real_data_ready(wildcards):
    """At scales on real data, a run waits for its data set to be fetched on the submitting host
    (a marker whose time does not count: fetching data again retrains nothing)."""
    if STUDY.scale["data"] != "real":
        return []
    return [ancient(f"{DATA_ROOT}/.ready/{STUDY.runs()[wildcards.run_id].config.dataset}")]


def sing_cfg(experiment):
    return load_sing_config(experiment, SCALE, SING_CONFIG)


def sing_encoder_run(experiment):
    """The run directory whose discriminator is the fixed encoder (7.2 only), as the study resolves it."""
    if experiment != "encoder":
        return None
    cfg = sing_cfg(experiment)
    runs = STUDY.figure_runs(cfg.encoder_figure)
    if cfg.encoder_index >= len(runs):
        raise ValueError(f"{SING_CONFIG}: encoder_index {cfg.encoder_index} out of range for {cfg.encoder_figure}")
    return run_dir(runs[cfg.encoder_index].run_id)


def sing_inputs(wildcards):
    """The config (its settings are the rule's params) and, for 7.2, the encoder run (see made())."""
    run = sing_encoder_run(wildcards.experiment)
    encoder = {"encoder": ancient(f"{run}/summary.json"), "encoder_made": made(run)} if run else {}
    return {"config": ancient(SING_CONFIG), **encoder}


def at_this_scale(alias, scaled):
    """Input of the copy `alias` (figures/<fig>.pdf, paper/main.pdf) of `scaled`, this invocation's
    file.  An `alias` holding anything else (another scale's figure, with no metadata left to tell
    Snakemake: a fresh clone, a deleted .snakemake/; compared byte for byte) is deleted here, so
    that the copy is made whatever the file times say.  The alias is a gitignored copy; the file
    it was copied from stays in figures/<scale>/ (paper/<scale>/)."""
    if Path(alias).exists() and not (Path(scaled).exists() and filecmp.cmp(alias, scaled, shallow=False)):
        Path(alias).unlink()
    return {"scaled": scaled}


# ---------------------------------------------------------------------------------------------
# Rebuilding from committed results recomputes nothing that is committed.  A fresh clone's file
# times follow git's checkout order, not the order the files were made in, so the inputs that
# committed outputs are made from count by content, not by time: they are ancient() inputs, and
# the rules whose inputs are hand-edited files (config/, code/) carry those files' SHA-256 in their
# params, so an edit reruns them (Snakemake's params trigger) and a newer time alone does not.
# What a rerun job rewrites reruns its readers through the folder's marker (made(), below).


def by_content(files):
    """``files`` as inputs whose modification time does not count (see above)."""
    return [ancient(f) for f in files]


# Snakemake passes no rerun on through ancient() inputs: a run retrained because its settings
# changed (the train rule's params) would leave its measurements and figures stale.  So each job
# that makes results also writes a marker (a touch() output: `.made` beside a run's or a SiNG
# experiment's summary.json, `.made-quality` beside quality.json, `tracking/.made`), and every
# reader takes the markers of what it reads as time-counted inputs: a rerun rewrites the marker,
# and what reads it reruns, in the same invocation or the next.  Results without their marker (a
# fresh clone; results brought back from a GPU sitting) get one here, dated 1970, so that committed
# results are as up to date as their commit says.  Markers are not committed (.gitignore).
def marker_of(path):
    """The marker of the job that wrote result file ``path`` (see above)."""
    path = Path(path)
    if path.name == "quality.json":
        return str(path.parent / ".made-quality")
    return str(path.parent / ".made")


def made(folder):
    """The marker of a run's or a SiNG experiment's own job (train, sing_experiment)."""
    return marker_of(f"{folder}/summary.json")


def read_results(files):
    """Result files as a reader's inputs: by content, plus the markers of the jobs that wrote them."""
    return by_content(files) + sorted({marker_of(f) for f in files})


def _mark_existing_results():
    runs = [run_dir(r) for r in STUDY.runs()]
    made_by_jobs = ([f"{run}/{name}" for run in runs for name in ("summary.json", "quality.json", "tracking/rate.json")]
                    + [f"{RESULTS}/sing/{e}/summary.json" for e in SING_FIGURES.values()])
    for result in made_by_jobs:
        marker = Path(marker_of(result))
        if Path(result).exists() and not marker.exists():
            marker.touch()
            os.utime(marker, (0, 0))


_mark_existing_results()


def content_digest(files):
    """SHA-256 over the bytes of ``files`` (hand-edited inputs that always exist)."""
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.encode())
        h.update(Path(f).read_bytes())
    return h.hexdigest()
