# Two commands on a fresh machine: `make run` (the main job) and `make test`. Each builds the venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The gym extra (pure Python, seconds to install) lets the gymnasium adapter's tests run instead of skipping;
# box2d (BipedalWalker) stays optional: its one test skips without it. ray: the Ray pool's tests run on a local
# Ray instance (an 80 MB wheel, about 15 s to install).
# torch==2.13.0 is pinned in the install so pip takes the CPU build instead of a multi-GB CUDA one.
TORCH ?= torch==2.13.0

$(BIN)/nograd: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(TORCH)" -e ".[dev,gym,ray]"
	touch $@

.PHONY: install run test lint bench
install: $(BIN)/nograd

run: install
	$(BIN)/nograd train

test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest

bench: install
	$(BIN)/python benchmarks/run_all.py
