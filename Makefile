# One entry point for people and CI. `make test` is the README's test command.
.PHONY: install test unit lint bench cluster-up cluster-down

PYTHON ?= python3
VENV ?= .venv

install:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'

# Everything: unit, snapshot and e2e tests. Brings a local cluster up (and down again,
# whatever the tests do) unless KUBECONFIG already points at one.
test: install
	bash tests/run.sh

# Unit and snapshot tests only (no cluster).
unit: install
	$(VENV)/bin/pytest -m "not e2e"

lint:
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	$(VENV)/bin/ruff check k8sq_render tests benchmarks
	$(VENV)/bin/mypy

bench: install
	bash benchmarks/run.sh

cluster-up:
	bash tests/e2e/cluster/cluster.sh up

cluster-down:
	bash tests/e2e/cluster/cluster.sh down
