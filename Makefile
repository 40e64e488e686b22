# hpm_mm: the two commands of the README.
#   make demo   set up the stack if needed, then run the CPU demo
#   make test   set up the stack if needed, then run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test
setup:
	@bash tools/setup_env.sh

demo: setup
	$(PY) tools/demo.py

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)
