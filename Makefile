# hpm_mm: the two commands of the README.
#   make demo   set up the pre-training stack if needed, then run the CPU demo
#   make test   set up the full stack if needed, then run the test suite
#   make demo-video  set up the full stack if needed, then run the CPU demo
#               of hard tubes on generated clips (VideoHPM, needs mmaction2)
# make setup / make setup-full only set up (tools/setup_env.sh [--full]).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup setup-full demo demo-video test
setup:
	@bash tools/setup_env.sh

setup-full:
	@bash tools/setup_env.sh --full

demo: setup
	$(PY) tools/demo.py

demo-video: setup-full
	$(PY) tools/demo_video.py

test: setup-full
	$(PY) -m pytest -q $(PYTEST_ARGS)
