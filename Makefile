# Two commands on a fresh machine with Python 3.11+: `make plan` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STACK  ?= local

.PHONY: setup plan test typecheck bench bench-instructions clean

# pip's output goes to a log, shown only when the install fails.
$(BIN)/fleetform: pyproject.toml
	@$(PYTHON) -m venv $(VENV)
	@echo "installing fleetform and its dependencies into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install --upgrade pip > $(VENV)/install.log 2>&1 \
		&& $(BIN)/python -m pip install -e '.[test]' >> $(VENV)/install.log 2>&1 \
		|| { tail -n 40 $(VENV)/install.log; exit 1; }
	@touch $@

CHECKOV = .tools/checkov/bin/checkov

# checkov gets a venv of its own: it pins packaging<24, pulumi needs packaging>=26.
$(CHECKOV):
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/python -m pip install --quiet --disable-pip-version-check 'checkov==3.3.30'

setup: $(BIN)/fleetform

plan: setup
	$(BIN)/fleetform plan $(STACK)

test: setup $(CHECKOV)
	$(BIN)/python -m pytest -n 2 -q
	$(BIN)/pyright

typecheck: setup
	$(BIN)/pyright

bench: setup
	$(BIN)/python benchmarks/plan_bench.py

# Instruction counts of the same programs (needs valgrind; ~8 minutes on 2 cores).
bench-instructions: setup
	$(BIN)/python benchmarks/plan_bench.py --only instructions

clean:
	rm -rf $(VENV) .tools .pytest_cache .hypothesis plan-out
