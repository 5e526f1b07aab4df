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

# Stops the local tenants of the kit's workspaces, then removes build/ (the
# scratch workspace of make run included). workspace/ and its keys stay.
clean:
	@for folder in "$(CURDIR)/workspace" "$(CURDIR)/build/run-workspace"; do \
		if [ -d "$$folder/local-tenant" ] && [ -x $(BIN)/qlik-tutorial ]; then \
			$(BIN)/qlik-tutorial local-tenant stop --workspace "$$folder" || exit 1; \
		fi; \
	done
	rm -rf build
