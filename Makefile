# hpm_mm: the two commands of the README.
#   make demo   set up the pre-training stack if needed, then run the CPU demo
#   make test   set up the full stack if needed, then run the test suite
# make setup / make setup-full only set up (tools/setup_env.sh [--full]).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup setup-full demo test
setup:
	@bash tools/setup_env.sh

setup-full:
	@bash tools/setup_env.sh --full

demo: setup
	$(PY) tools/demo.py

test: setup-full
	$(PY) -m pytest -q $(PYTEST_ARGS)
