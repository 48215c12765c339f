# One entry point for people and CI. `make test` is the README's test command.
.PHONY: install test cluster-up cluster-down

PYTHON ?= python3
VENV ?= .venv

install:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'

cluster-up:
	bash tests/e2e/cluster/cluster.sh up

cluster-down:
	bash tests/e2e/cluster/cluster.sh down
