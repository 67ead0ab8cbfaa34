# hashfed developer entry points. Every target creates .venv and installs on first use, so a
# fresh clone needs nothing but Python 3.11+, make and a C++ compiler (pdqhash builds from source).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint protos protos-check bench bench-full clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

protos-check: $(STAMP)
	$(BIN)/python scripts/gen_protos.py --check

# Every benchmark at 1M (about 10 minutes on an idle 2-core machine); bench-full at 10M.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/match.py --rows 1000000 --dataset both
	$(BIN)/python bench/sync.py --entries 1000000
	$(BIN)/python bench/lookup.py --rows 1000000 --seconds 5
	$(BIN)/python bench/startup.py --rows 1000000
	$(BIN)/python bench/hash.py
	$(BIN)/python bench/proofs.py --entries 500000

bench-full: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/match.py --rows 10000000 --dataset both
	$(BIN)/python bench/lookup.py --rows 10000000 --home /var/tmp/hashfed-lookup10m
	$(BIN)/python bench/startup.py --rows 10000000

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
