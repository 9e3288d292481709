# Two commands on a fresh machine: `make plan` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The console's browser tests drive Debian's Chromium (never a downloaded browser).
CHROMIUM := /usr/bin/chromium

.PHONY: setup plan test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,ray]"
	touch $(STAMP)

setup: $(STAMP) $(CHROMIUM)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then APT=apt-get; else APT="sudo apt-get"; fi; \
	$$APT install -y --no-install-recommends chromium fonts-noto-cjk \
	  || { $$APT update && $$APT install -y --no-install-recommends chromium fonts-noto-cjk; }

plan: $(STAMP)
	$(VENV)/bin/countyroute plan yanshi --date 2026-12-01 --out out/yanshi-2026-12-01

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# tests, doctests, browser tests and the benchmarks run once (but the heavy ones, which
# `make bench` runs); coverage of the four packages,
# whose floor ([tool.coverage.report] fail_under in pyproject.toml) only ever rises
pytest: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest -n auto --maxprocesses 4 --dist loadfile --benchmark-disable -m "not heavy" --durations=25 --cov --cov-report=term:skip-covered

test: lint typecheck pytest

bench: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest benchmarks --benchmark-only --benchmark-autosave --benchmark-columns=min,mean,max,rounds

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .benchmarks
