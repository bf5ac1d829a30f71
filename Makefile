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

$(VENV)/.bench: bench/requirements.txt | $(VENV)/.dev
	$(BIN)/pip install --quiet -r bench/requirements.txt \
		|| echo "bench extras did not all install: the rows that need them will say so"
	@touch $@

## bench: every benchmark in bench/ (about 10 minutes), a table, and bench/RESULTS.md updated;
##        the issues' sizes: make bench BENCH_ARGS=--full; some: BENCH_ARGS="--only polling"
bench: $(VENV)/.dev $(VENV)/.bench
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
