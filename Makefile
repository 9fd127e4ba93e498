# Two commands on a fresh machine: `make run` (demo capture into output/) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BROWSER := $(VENV)/.browser
REPLAY := $(VENV)/.replay

.PHONY: install run test lint bench clean

install: $(INSTALLED) $(BROWSER) $(REPLAY)

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

$(BROWSER): $(INSTALLED)
	$(BIN)/python -m archiver.capture.install
	touch $@

# ReplayWeb.page for the web page's "Spela upp" (archiver/web/replay_assets.py); without it replay says how to add it.
$(REPLAY): $(INSTALLED)
	ARCHIVER_REPLAY_OPTIONAL=1 $(BIN)/python -m archiver.web.replay_assets
	touch $@

run: install
	$(BIN)/archiver demo --out output

# The tests in one process per CPU, each test file whole in one of them (its module fixtures made once):
# 497 s against 792 s in one process on this 2-CPU machine.
test: install
	$(BIN)/python -m pytest -n auto --dist loadfile

# The benchmark's extra tools (shot-scraper, psutil), once, like $(INSTALLED); bench/run.py says what it measures.
BENCH_INSTALLED := $(VENV)/.bench-installed

$(BENCH_INSTALLED): $(INSTALLED)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $@

bench: install $(BENCH_INSTALLED)
	$(BIN)/python -m bench.run

lint: install
	$(BIN)/ruff check archiver tests bench

clean:
	rm -rf $(VENV) .pytest_cache
