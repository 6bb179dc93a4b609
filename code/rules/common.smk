# Shared definitions: the scale, the study, and helpers every rule file uses.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "code"))
from sinkgan.study import SCALES, Study  # noqa: E402

SCALE = config.get("scale", "smoke")
if SCALE not in SCALES:
    raise ValueError(f"--config scale={SCALE!r}: allowed values are {', '.join(SCALES)}")
STUDY = Study.load(SCALE, root=workflow.basedir, data=config.get("data"), data_root=config.get("data_root", "data"))
RESULTS = f"results/{SCALE}"
SLURM = STUDY.scale.get("slurm", {})

# Figures drawn here (fig04-fig22) and by the SiNG rules; rule files append to these lists.
ALL_FIGURES = [f"figures/{fig}.pdf" for fig in STUDY.spec["figures"]]
ALL_TABLES = [f"figures/{t}.tex" for t in STUDY.spec["tables"]]


def run_dir(run_id):
    return f"{RESULTS}/{run_id}"


def run_summaries(fig):
    """The summary.json (completion marker) of every training run figure `fig` needs."""
    return [f"{run_dir(s.run_id)}/summary.json" for s in STUDY.figure_runs(fig)]


def figure_regex(kind):
    return "|".join(STUDY.figures(kind)) or "^$"


wildcard_constraints:
    run_id="[^/]+",
