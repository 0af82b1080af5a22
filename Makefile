# llmops-nb — the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo_workspace
DEMO_ROWS ?= 100000

.PHONY: setup browser demo test check-notebooks nbtest pytest bench clean

$(BIN)/llmops-nb: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@

setup: $(BIN)/llmops-nb  ## a fresh virtual environment with everything the tests need

browser:  ## Debian's Chromium for the browser tests (installed with apt-get when run as root)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium fonts-noto-cjk" >&2; exit 1; fi; }

demo: setup  ## build the demo workspace, ingest it and render the reports
	$(BIN)/llmops-nb demo --out $(DEMO_DIR) --rows $(DEMO_ROWS)

check-notebooks: setup  ## notebooks clean, llmops_nb/ equal to what nbs/ exports
	$(BIN)/nbdev-clean
	@git diff --quiet -- nbs || { echo "notebooks are not clean: run nbdev-clean and commit" >&2; git diff --stat -- nbs; exit 1; }
	$(BIN)/nbdev-export
	@test -z "$$(git status --porcelain -- llmops_nb)" || { echo "llmops_nb/ differs from what nbdev-export produces:" >&2; git status --porcelain -- llmops_nb; exit 1; }

nbtest: setup
	$(BIN)/nbdev-test --n-workers 2

pytest: setup browser
	$(BIN)/python -m pytest -q --timeout 900

test: check-notebooks nbtest pytest  ## every test: notebooks clean and exported, notebook tests, pytest

bench: setup browser  ## benchmarks (slow, not part of `make test`)
	$(BIN)/python -m pytest -q -m bench -s --timeout 3600

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
