# Two commands on a fresh machine: `make run` (demo capture into output/) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BROWSER := $(VENV)/.browser

.PHONY: install run test lint bench clean

install: $(INSTALLED) $(BROWSER)

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

$(BROWSER): $(INSTALLED)
	$(BIN)/python -m archiver.capture.install
	touch $@

run: install
	$(BIN)/archiver demo --out output

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check archiver tests

clean:
	rm -rf $(VENV) .pytest_cache
