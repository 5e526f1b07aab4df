# Every target that needs Python sets up .venv first, so a fresh clone needs
# only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ALG ?= RS256

.DEFAULT_GOAL := help
.PHONY: help setup test lint typecheck pytest run lab bench clean constraints

help:
	@echo "make run      set up, then run every step notebook headless (ALG=$(ALG))"
	@echo "make test     set up, then lint, type-check and run the test suite"
	@echo "make lab      set up, then open JupyterLab on 127.0.0.1 at notebook 01"
	@echo "make bench    set up, then measure signing and token exchange"
	@echo "make clean    stop the kit's local tenants and remove build/"

setup: $(STAMP)

# Reinstalls only when the package metadata or the pins change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--constraint constraints.txt --editable ".[test]"
	@touch $@

test: setup lint typecheck pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy qlik_tutorial

pytest: setup
	$(BIN)/pytest

bench: setup
	$(BIN)/python benchmarks/bench.py --output build/bench.json

constraints: setup
	@{ echo "# Versions the kit was tested with. make setup installs with these pins;"; \
	   echo "# make constraints rewrites this file from the current .venv."; \
	   $(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check; } > constraints.txt

# ALG reaches the notebooks only when given (make run ALG=ES384, or ALG in
# the environment), so a key supplied through QLIK_PRIVATE_KEY keeps its alg.
RUN_ALG = $(if $(filter command line environment,$(origin ALG)),--alg $(ALG))

run: setup
	$(BIN)/python -m qlik_tutorial.run_notebooks $(RUN_ALG) \
		--notebooks "$(CURDIR)/notebooks" \
		--workspace "$(CURDIR)/build/run-workspace" \
		--output "$(CURDIR)/build/executed"

# Jupyter refuses to run as root unless told; containers often run as root.
LAB_ROOT = $(if $(filter 0,$(shell id -u)),--allow-root)

lab: setup
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/notebooks/01_generate_keys.ipynb $(LAB_ROOT)

# Stops the local tenants of workspace/, of the scratch workspace of make run
# and of $QLIK_TUTORIAL_WORKSPACE, then removes build/. workspace/ and every
# key stay. Without .venv, a tenant gets SIGTERM at the pid in its
# local-tenant/server.json, and only when /proc shows that pid serving the
# local tenant of that folder.
TENANT_MODULE := qlik_tutorial.local_tenant

clean:
	@serves() { \
		tr '\0' '\n' < "/proc/$$1/cmdline" 2>/dev/null | grep -qxF $(TENANT_MODULE) && \
		tr '\0' '\n' < "/proc/$$1/cmdline" 2>/dev/null | grep -qxF "$$2"; \
	}; \
	for folder in "$(CURDIR)/workspace" "$(CURDIR)/build/run-workspace" \
			$${QLIK_TUTORIAL_WORKSPACE:+"$$QLIK_TUTORIAL_WORKSPACE"}; do \
		[ -d "$$folder/local-tenant" ] || continue; \
		if [ -x $(BIN)/qlik-tutorial ]; then \
			$(BIN)/qlik-tutorial local-tenant stop --workspace "$$folder" || exit 1; \
			continue; \
		fi; \
		record="$$folder/local-tenant/server.json"; \
		grep -q '"running": *true' "$$record" 2>/dev/null || continue; \
		pid=$$(sed -n 's/^ *"pid": *\([0-9][0-9]*\).*/\1/p' "$$record"); \
		[ -n "$$pid" ] && [ -d "/proc/$$pid" ] || continue; \
		real=$$(cd "$$folder" && pwd -P); \
		if ! serves "$$pid" "$$real"; then \
			echo "Left pid $$pid alone: it is not the local tenant of $$folder"; \
			continue; \
		fi; \
		echo "Stopping the local tenant of $$folder (pid $$pid)"; \
		kill -TERM "$$pid"; \
		tries=0; \
		while serves "$$pid" "$$real" && [ $$tries -lt 100 ]; do \
			sleep 0.1; tries=$$((tries + 1)); \
		done; \
	done
	rm -rf build
