# ThinkingThoughts: `make run` starts the gateway (and the simulator when no LLM_BASE_URL
# is set); `make test` runs the test suite with coverage. Both create .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[ui]'
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,ui]'
	touch $@ $(RUN_STAMP)

# The extras the settings (environment and .env) need, e.g. postgres for a PostgreSQL
# DATABASE_URL or redis for REDIS_URL, are installed before the start when missing.
run: $(RUN_STAMP)
	@extras="$$($(BIN)/thinkingthoughts extras --missing)" || exit 2; \
	if [ -n "$$extras" ]; then \
		echo "installing what the settings need: thinkingthoughts[$$extras]"; \
		$(BIN)/python -m pip install --quiet -e ".[$$extras]"; \
	fi
	$(BIN)/thinkingthoughts up

# One test worker per core; a file's tests stay on one worker (they share its servers).
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile --cov --cov-report=term

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
