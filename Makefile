# Two commands on a fresh machine with Python 3.11+: `make plan` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STACK  ?= local

.PHONY: setup plan test bench clean

$(BIN)/fleetform: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

setup: $(BIN)/fleetform

plan: setup
	$(BIN)/fleetform plan $(STACK)

test: setup
	$(BIN)/python -m pytest -n 2 -q

bench: setup
	$(BIN)/python benchmarks/plan_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis plan-out
