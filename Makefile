# The two commands: `make run` opens the lab on the demo models, `make test` runs lint and the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Portable llama.cpp build: the default -march=native wheel can die with SIGILL on another CPU.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: run test lint install clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps: reinstall only when pyproject.toml changes (the llama.cpp wheel is then cached by pip).
$(VENV)/.installed-demo: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --progress-bar off -e '.[demo]'
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --progress-bar off -e '.[demo,dev]'
	touch $@ $(VENV)/.installed-demo

install: $(VENV)/.installed-demo

run: $(VENV)/.installed-demo
	$(BIN)/psmlab

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy psmlab
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info

# `make bench MODEL=path/to/bigger.gguf` also times streaming and parallel samples on that model.
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py $(if $(MODEL),--model "$(MODEL)")
