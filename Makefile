# Two commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint bench install clean readme-tables

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/auroractl config validate
	$(BIN)/auroractl config trace

test: install
	NO_COLOR=1 $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check aurora runner auroractl tests bench

bench: install
	$(BIN)/python -m bench

readme-tables: install
	$(BIN)/python -m aurora.docgen README.md

clean:
	rm -rf $(VENV) .aurora
