# CRM Advisor. `make run` and `make test` set everything up from nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: venv index run test lint format eval clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch lies on disk; installing it first keeps pip from pulling CUDA.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

index: venv
	$(BIN)/advisor ingest

run: index
	$(BIN)/advisor chat

lint: venv
	$(BIN)/ruff check advisor bot evals tests
	$(BIN)/ruff format --check advisor bot evals tests
	$(BIN)/mypy advisor

format: venv
	$(BIN)/ruff format advisor bot evals tests
	$(BIN)/ruff check --fix advisor bot evals tests

test: lint
	$(BIN)/python -m pytest -q
	$(BIN)/advisor eval --gate --out reports/eval

eval: venv
	$(BIN)/advisor eval --out reports/eval

clean:
	rm -rf .advisor .pytest_cache .mypy_cache .ruff_cache
