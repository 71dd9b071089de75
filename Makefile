# simrig — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench captures clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/simrig demo --out out/demo

lint: $(STAMP)
	$(BIN)/ruff check simrig tests benchmarks tools
	$(BIN)/ruff format --check simrig tests benchmarks tools
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/pytest benchmarks --benchmark-enable --benchmark-columns=median,ops,rounds

captures: $(STAMP)
	$(BIN)/python tools/make_captures.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis out
