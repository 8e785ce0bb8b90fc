# Each target creates .venv if missing and installs what it needs into it.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-dev
BENCH   := $(VENV)/.installed-bench

.PHONY: demo test bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# setup.py builds the C training kernel (src/elman/_ckernel.c) at install: a change to
# it or to its generated tables reinstalls.
$(STAMP): $(BIN)/python pyproject.toml setup.py src/elman/_ckernel.c src/elman/_ckernel_tables.h
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/elman demo

test: $(STAMP)
	$(BIN)/python -m pytest src tests

# The benchmarks add the bench extra (statsmodels, for benchmarks/forecast.py's ETS).
$(BENCH): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $(BENCH)

bench: $(BENCH)
	$(BIN)/python benchmarks/predict.py
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/forecast.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info src/elman/*.so
