# The reproduction report (`make paper`): the claims scorecard and the LaTeX build.
#
#   snakemake --cores 2 paper/main.pdf                      # at the default (cached) scale, smoke
#   snakemake paper/main.pdf --cores 2 --config scale=small
#
# `scorecard` reads results/<scale>/ (every figure run's summary.json, plus quality.json for the
# quality figure, tracking/ssim.csv and tracking/rate.json for the tracking figures) through the
# study this invocation resolved, decides config/claims.yaml, and writes results/<scale>/claims.json
# and paper/generated/<scale>/*.tex.  `paper` runs latexmk on paper/main.tex (job name = the scale,
# so it reads paper/generated/<scale>/ and figures/<scale>/) into paper/<scale>/main.pdf, and fails
# on any LaTeX error, undefined reference or missing figure (sinkgan.report.check_latex_log).  Needs
# the Debian packages latexmk and texlive-latex-recommended (not part of the conda environment).
#
# SiNG figures: those this DAG builds are inputs of the paper, so a missing one fails the build;
# the report shows the others only if a PDF happens to exist, marked as not rebuilt at this scale.


# With --config only_drawable=true the report is built from what is there: the figures still waiting
# for results are left out of its inputs (so nothing is trained) and named to the scorecard, which
# writes a partial report (sinkgan.report: not_drawn).
NOT_DRAWN = list(WAITING)
# the SiNG results the scorecard reads (its claims about the SiNG figures of the report)
SCORECARD_SING = [f"{RESULTS}/sing/{SING_FIGURES[fig]}/{name}" for fig in PAPER_SING for name in ("summary.json", "log.csv")]
if NOT_DRAWN:
    PAPER_INPUTS = {**PAPER_INPUTS,
                    "results": [f for f in PAPER_INPUTS["results"] if Path(f).exists()],
                    "figures": [f for f in PAPER_INPUTS["figures"] if Path(f).stem not in NOT_DRAWN]}
    SCORECARD_SING = [f for f in SCORECARD_SING if Path(f).exists()]


SCORECARD_SOURCES = ["config/claims.yaml", "config/deviations.yaml", "config/study.yaml", "paper/captions.yaml",
                     "paper/figure_notes.yaml", "paper/observations.yaml",
                     "code/sinkgan/claims.py", "code/sinkgan/report.py"]


rule scorecard:
    input:
        read_results(PAPER_INPUTS["results"] + SCORECARD_SING),
        by_content(SCORECARD_SOURCES),
    output:
        claims=f"{RESULTS}/claims.json",
        tex=[f"paper/generated/{SCALE}/{name}.tex" for name in _report.GENERATED],
    params:
        scale=SCALE,
        sing=",".join(PAPER_SING),
        not_drawn=",".join(NOT_DRAWN),
        study=STUDY_FILE,
        sources=content_digest(SCORECARD_SOURCES),  # an edit of a claim or of the code reruns it
    log:
        f"{RESULTS}/logs/scorecard.log",
    conda:
        ENV
    shell:
        "python -m sinkgan report scorecard --scale {params.scale} --sing '{params.sing}'"
        " --not-drawn '{params.not_drawn}' --study {params.study} > {log} 2>&1"


rule paper:
    input:
        rules.scorecard.output,
        PAPER_INPUTS["figures"],
        PAPER_INPUTS["tables"],
        "paper/main.tex",
        "paper/latexmkrc",
        sorted(f"paper/sections/{p.name}" for p in Path(workflow.basedir, "paper", "sections").glob("*.tex")),
    output:
        f"paper/{SCALE}/main.pdf",
    params:
        scale=SCALE,
    log:
        f"{RESULTS}/logs/paper.log",
    conda:
        ENV
    shell:
        "python -m sinkgan report build --paper-dir paper --scale {params.scale} --out {output} > {log} 2>&1"


rule paper_at_scale:
    """paper/main.pdf, what `make paper` asks for: a copy of paper/<scale>/main.pdf at this invocation's scale."""
    input:
        unpack(lambda w: at_this_scale("paper/main.pdf", f"paper/{SCALE}/main.pdf")),
    output:
        "paper/main.pdf",
    params:
        scale=SCALE,
    log:
        f"{RESULTS}/logs/paper_at_scale.log",
    conda:
        ENV
    shell:
        "cp {input.scaled} {output} 2> {log}"
