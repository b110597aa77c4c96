# Set-up for a fresh machine: `make demo` and `make test` each create the virtual environment
# when it is missing and install kiln into it.
PYTHON ?= python3
VENV ?= .venv
# The torch requirement; CI pins the wheel on its disk (TORCH_SPEC="torch==2.13.0").
TORCH_SPEC ?= torch
BIN := $(VENV)/bin
# The dataset cache: ../shared/datasets beside a checkout when present, else ~/.kiln/datasets.
KILN_DATASETS ?= $(if $(wildcard ../shared/datasets),$(abspath ../shared/datasets),$(HOME)/.kiln/datasets)
export KILN_DATASETS

.PHONY: demo test bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test,demo]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python examples/demo.py

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/bench_regression_mlp.py

clean:
	rm -rf $(VENV)
