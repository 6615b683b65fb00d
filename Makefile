# mgcare developer entry points. `make run` and `make test` set everything up from scratch.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LINTED := src tests scripts bench

.PHONY: install run test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,diet,service,screen,spark,store,web,report]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/mgcare db import src/mgcare/demo/demo_patient.json   # the demo patient in the web app (idempotent)
	$(BIN)/mgcare serve --host 127.0.0.1 --port 8000 --dev

lint: install
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
