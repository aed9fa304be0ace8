# CRM Advisor. `make run` and `make test` set everything up from nothing.
PYTHON ?= python3
HOST   ?= 127.0.0.1
PORT   ?= 8000
CHROMIUM := /usr/bin/chromium
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: venv index run chat browser test lint format eval bench clean

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
	$(BIN)/advisor serve --host $(HOST) --port $(PORT)

chat: index
	$(BIN)/advisor chat

# The browser tests drive Debian's Chromium; Playwright never downloads a browser here.
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "Chromium is missing: sudo apt-get install chromium" >&2; exit 1; \
	  fi; }

lint: venv
	$(BIN)/ruff check advisor bot evals tests
	$(BIN)/ruff format --check advisor bot evals tests
	$(BIN)/mypy advisor

format: venv
	$(BIN)/ruff format advisor bot evals tests
	$(BIN)/ruff check --fix advisor bot evals tests

test: lint browser
	$(BIN)/python -m pytest -q
	$(BIN)/advisor eval --gate --out reports/eval

eval: venv
	$(BIN)/advisor eval --out reports/eval

bench: index
	$(BIN)/python -m evals.bench

clean:
	rm -rf .advisor .pytest_cache .mypy_cache .ruff_cache
