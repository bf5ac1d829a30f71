# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck pytest check replay bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.runtime

## run: install and start the bot on rules/ and state/ (SQLite)
run: $(VENV)/.runtime
	$(BIN)/bot run

## test: install with dev tools, then ruff, mypy --strict and pytest
test: lint typecheck pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check bot tests $(wildcard bench)

typecheck: $(VENV)/.dev
	$(BIN)/mypy --strict bot

pytest: $(VENV)/.dev
	$(BIN)/pytest -q

## check: validate rules/ without network or database
check: $(VENV)/.runtime
	$(BIN)/bot check

## replay: run the seed corpus through the default rules
replay: $(VENV)/.runtime
	$(BIN)/bot replay ../shared/corpus/seeds.jsonl --alerts-out alerts.jsonl

## bench: run the benchmarks in bench/ and update bench/RESULTS.md
bench: $(VENV)/.dev
	$(BIN)/python bench/bench_rules.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
