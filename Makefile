# ClosedLoop. `make` alone lists the targets. Installs come from requirements.lock (exact versions, hashes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock

.DEFAULT_GOAL := help
.PHONY: help dev stop reset test lint format lock revision bench migrate seed-demo staff clean system-deps

help: ## list the targets
	@echo "ClosedLoop — make <target>"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[1m%-11s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Variables: PYTEST_ARGS (make test), BENCH_ARGS (make bench), MESSAGE (make revision), EMAIL/ACTION (make staff)"

$(STAMP): $(LOCK) pyproject.toml clients/python/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e . -e clients/python
	touch $(STAMP)

dev: $(STAMP) ## run everything on embedded Postgres and Redis (Ctrl-C stops it all)
	@$(BIN)/python -m webapp.cli dev

stop: $(STAMP) ## stop a running `make dev`, or what a killed one left behind
	@$(BIN)/python -m webapp.cli stop

reset: $(STAMP) ## stop, then delete the embedded data in var/ (the virtualenv stays)
	@$(BIN)/python -m webapp.cli reset

system-deps:
	@bash .ci/system-deps

test: $(STAMP) system-deps ## the whole suite (PYTEST_ARGS="-k missions" to narrow it); output in test-output/
	$(BIN)/python -m pytest $(PYTEST_ARGS)

CODE := webapp workers tests bench migrations clients

lint: $(STAMP) ## ruff: the project's lint rules and formatting (pyproject.toml); CI runs it
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

format: $(STAMP) ## ruff: format the code and fix what the rules can fix
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

lock: $(STAMP) ## re-resolve requirements.lock from pyproject.toml (newest versions allowed), with hashes
	$(BIN)/pip-compile --quiet --upgrade --extra dev --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file $(LOCK) pyproject.toml

revision: $(STAMP) ## a new migration from the models: make revision MESSAGE="what changed"
	@test -n "$(MESSAGE)" || (echo 'say what changed: make revision MESSAGE="add comments"'; exit 2)
	$(BIN)/python -m webapp.cli revision "$(MESSAGE)"

bench: $(STAMP) ## benchmarks against their raw-asyncpg twins (ratios; see docs/scaling.md)
	$(BIN)/python -m bench.http $(BENCH_ARGS)
	$(BIN)/python -m bench.missions $(BENCH_ARGS)
	$(BIN)/python -m bench.search $(BENCH_ARGS)
	$(BIN)/python -m bench.webhooks $(BENCH_ARGS)
	$(BIN)/python -m bench.usage
	$(BIN)/python -m bench.audit
	$(BIN)/python -m bench.db_path
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.sse

migrate: $(STAMP) ## apply migrations (embedded database unless DATABASE_URL is set)
	$(BIN)/python -m webapp.cli migrate

seed-demo: $(STAMP) ## load the demo organization and users (idempotent)
	$(BIN)/python -m webapp.cli seed-demo

staff: $(STAMP) ## platform staff, audited: make staff ACTION=grant EMAIL=ada@example.org
	$(BIN)/python -m webapp.cli staff $(or $(ACTION),grant) "$(EMAIL)"

clean: ## remove the virtualenv, var/ and test-output/
	rm -rf $(VENV) var test-output
