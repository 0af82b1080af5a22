# llmops-nb — the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo_workspace
DEMO_ROWS ?= 100000
.DEFAULT_GOAL := demo

.PHONY: setup system browser demo lab test lint check-notebooks nbtest pytest bench clean

$(BIN)/llmops-nb: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench,spark,lab]'
	touch $@

setup: $(BIN)/llmops-nb  ## a fresh virtual environment with everything the tests need

system:  ## Debian's Chromium (browser tests), Noto CJK fonts (Japanese in charts) and a Java runtime (Spark tests), via apt-get as root
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing="$$missing fonts-noto-cjk"; \
	  command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	    else echo "missing system packages:$$missing (sudo apt-get install$$missing)" >&2; exit 1; fi; fi

browser: system  ## (old name of `system`)

demo: setup system  ## build the demo workspace, ingest it and render the reports
	$(BIN)/llmops-nb demo --out $(DEMO_DIR) --rows $(DEMO_ROWS)

LAB_ARGS ?=
lab: setup  ## JupyterLab in this folder (JupyterLab refuses root without --allow-root: added when run as root)
	$(BIN)/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

check-notebooks: setup  ## notebooks clean, llmops_nb/ equal to what nbs/ exports
	$(BIN)/nbdev-clean
	@git diff --quiet -- nbs || { echo "notebooks are not clean: run nbdev-clean and commit" >&2; git diff --stat -- nbs; exit 1; }
	$(BIN)/nbdev-export
	@test -z "$$(git status --porcelain -- llmops_nb)" || { echo "llmops_nb/ differs from what nbdev-export produces:" >&2; git status --porcelain -- llmops_nb; exit 1; }

nbtest: setup
	$(BIN)/nbdev-test --n-workers 2

pytest: setup system
	$(BIN)/python -m pytest -q --timeout 900

lint: setup  ## ruff: lint and import order of llmops_nb/ and tests/ (config in pyproject.toml)
	$(BIN)/ruff check llmops_nb tests

test: check-notebooks lint nbtest pytest  ## every test: notebooks clean and exported, lint, notebook tests, pytest

bench: setup system  ## benchmarks (slow, not part of `make test`)
	$(BIN)/python -m pytest -q -m bench -s --timeout 3600

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
