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

.PHONY: setup system-deps figures figures-cached test test-fast paper dry-run clean-smoke

## setup: virtual environment with the pinned dependencies (requirements.txt) and the package
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml tools/torchvision_cpu_shim.py tools/install_shim.sh
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip $(QUIET_PIP)
	$(BIN)/pip install --quiet -r requirements.txt $(QUIET_PIP)
	$(BIN)/pip install --quiet --no-deps -e . $(QUIET_PIP)
	tools/install_shim.sh $(VENV)
	touch $@

## system-deps: Debian packages (TeX, Fashion-MNIST, SLURM for its test); skipped if not root
system-deps:
	tools/system-deps.sh

## figures: every figure and table at SCALE (default smoke: CPU, offline stand-in data)
figures: setup
	$(BIN)/snakemake all --cores $(CORES) --config scale=$(SCALE)

## figures-cached: redraw every figure and table from results/SCALE without training (< 1 min, no GPU)
DRAWING_RULES := plot_losses plot_samples plot_fig10 plot_fig21 plot_fig22 plot_sing71 plot_sing72 plot_sing73 table
figures-cached: setup
	$(BIN)/snakemake all --cores $(CORES) --allowed-rules all $(DRAWING_RULES) --forcerun $(DRAWING_RULES) --config scale=$(SCALE)

## test: the whole test suite (what CI runs)
test: setup system-deps
	$(BIN)/python -m pytest

## test-fast: unit tests only (no DAG, no SLURM, no LaTeX)
test-fast: setup
	$(BIN)/python -m pytest -m "not dag and not slurm and not latex"

## paper: the reproduction report paper/main.pdf at SCALE
paper: setup
	$(BIN)/snakemake paper/main.pdf --cores $(CORES) --config scale=$(SCALE)

## dry-run: show what `make figures` would do
dry-run: setup
	$(BIN)/snakemake all -n --cores $(CORES) --config scale=$(SCALE)
