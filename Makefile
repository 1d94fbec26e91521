# The two commands a newcomer runs: `make demo` and `make test`. Both build the virtualenv first.
# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (as on these machines) every
# process would otherwise recompile what it imports (pandas alone: 3.3 s instead of 1.0 s).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: setup demo test lint bench clean system-demo system-test wheel-check

setup: $(VENV)/.installed

# Debian packages (fonts, Java, PDF and test tools): installed when missing and run as root, otherwise
# the exact apt-get line is printed and make stops here, before any long work.
system-demo:
	@scripts/system-deps.sh demo
system-test:
	@scripts/system-deps.sh test

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q -j 0 feijian simulator features records training explain serving
	@touch $@

demo: system-demo setup          ## simulate → ingest → features (→ train → plan → report → serve, as built)
	$(BIN)/feijian demo

test: system-test setup          ## lint, then the whole test suite
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . || true

lock:                ## re-resolve exact pins after editing pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra spark --python-version 3.11 -o requirements.lock

clean:
	rm -rf workspace province .pytest_cache

wheel-check: setup   ## build the wheel, install it outside the source tree, run the pipeline from it (CI)
	scripts/wheel-check.sh
