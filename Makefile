PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test bench migrate seed-demo clean system-deps

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/python -m webapp.cli dev

system-deps:
	@bash .ci/system-deps

test: $(STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.http $(BENCH_ARGS)
	$(BIN)/python -m bench.missions $(BENCH_ARGS)
	$(BIN)/python -m bench.db_path
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.sse

migrate: $(STAMP)
	$(BIN)/python -m webapp.cli migrate

seed-demo: $(STAMP)
	$(BIN)/python -m webapp.cli seed-demo

clean:
	rm -rf $(VENV) var test-output
