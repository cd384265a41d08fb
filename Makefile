# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint typecheck unit demo conformance bench clean test-mlflow-min test-faults

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[emulator,conformance,test,dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n auto $(PYTEST_ARGS)
	$(BIN)/python -m conformance -n auto -q -p no:cacheprovider

# The whole suite: lint, types, our tests and the conformance suite against the emulator.
test: lint typecheck unit

demo: $(STAMP)
	$(BIN)/python -m demo

# Every transfer combination under the fault mix with 20 fault sequences each (make test
# runs one sequence per combination); about six minutes on two cores (docs/reliability.md).
test-faults: $(STAMP)
	$(BIN)/pytest tests/reliability/test_fault_sweep.py -m 'fault_sweep or not fault_sweep' -n 2 $(PYTEST_ARGS)

# Conformance against whatever target the environment names (ARTIFACTORY_CONFORMANCE_URL, ...);
# with no URL it starts the bundled emulator.
conformance: $(STAMP)
	$(BIN)/python -m conformance $(PYTEST_ARGS)

# Plugin tests + conformance plugin checks on the lowest MLflow pyproject.toml declares
# (own venv in .venv-mlflow-min/; override the pin with MLFLOW_MIN_VERSION=X.Y.Z).
test-mlflow-min:
	PYTHON=$(PYTHON) .ci/mlflow-min

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
