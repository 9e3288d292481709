# Two commands on a fresh machine: `make plan` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup plan test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,ray]"
	touch $(STAMP)

setup: $(STAMP)

plan: $(STAMP)
	$(VENV)/bin/countyroute plan yanshi --date 2026-12-01 --out out/yanshi-2026-12-01

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# tests, doctests and the benchmarks run once; coverage of the four packages, whose floor
# ([tool.coverage.report] fail_under in pyproject.toml) only ever rises
pytest: $(STAMP)
	$(PY) -m pytest --benchmark-disable --cov --cov-report=term:skip-covered

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark-only --benchmark-autosave --benchmark-columns=min,mean,max,rounds

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .benchmarks
