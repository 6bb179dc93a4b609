# The reproduction report (`make paper`): the claims scorecard and the LaTeX build.
#
#   snakemake --cores 2 paper/main.pdf                      # at the default (cached) scale, smoke
#   snakemake paper/main.pdf --cores 2 --config scale=small
#
# `scorecard` reads results/<scale>/ (every figure run's summary.json, plus quality.json for the
# quality figure, tracking/ssim.csv and tracking/rate.json for the tracking figures), decides
# config/claims.yaml, and writes results/<scale>/claims.json and paper/generated/*.tex.
# `paper` runs latexmk on paper/main.tex and fails on any LaTeX error, undefined reference or
# missing figure (sinkgan.report.check_latex_log).  Needs the Debian packages latexmk and
# texlive-latex-recommended.
#
# SiNG figures: those this DAG builds (figures/sing*.pdf in ALL_FIGURES, appended by sing.smk)
# are inputs of the paper, so a missing one fails the build; the report shows the others only if
# a PDF happens to exist, marked as not rebuilt at this scale.
from sinkgan import report as _report

PAPER_SING = [Path(f).stem for f in ALL_FIGURES if Path(f).stem in _report.SING_FIGURES]
PAPER_INPUTS = _report.paper_inputs(SCALE, workflow.basedir, study=STUDY, sing=PAPER_SING)
_PAPER_DATA = f"--data {config['data']}" if config.get("data") else ""


rule scorecard:
    input:
        PAPER_INPUTS["results"],
        "config/claims.yaml",
        "config/deviations.yaml",
        "config/study.yaml",
        "paper/captions.yaml",
        "code/sinkgan/claims.py",
        "code/sinkgan/report.py",
    output:
        claims=f"{RESULTS}/claims.json",
        tex=[f"paper/generated/{name}.tex" for name in _report.GENERATED],
    params:
        scale=SCALE,
        sing=",".join(PAPER_SING),
        data=_PAPER_DATA,
        data_root=config.get("data_root", "data"),
    shell:
        "python -m sinkgan.report scorecard --scale {params.scale} --sing '{params.sing}' "
        "{params.data} --data-root {params.data_root}"


rule paper:
    input:
        rules.scorecard.output,
        PAPER_INPUTS["figures"],
        PAPER_INPUTS["tables"],
        "paper/main.tex",
        "paper/latexmkrc",
        sorted(f"paper/sections/{p.name}" for p in Path(workflow.basedir, "paper", "sections").glob("*.tex")),
    output:
        "paper/main.pdf",
    shell:
        "python -m sinkgan.report build --paper-dir paper --out {output}"
