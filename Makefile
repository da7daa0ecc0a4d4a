# Qualibot: `make run` starts it, `make test` checks everything. Both create .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLOW ?= bant
LOCALE ?= ru

.PHONY: install web-tools lint typecheck test bench bench-web run chat migrate clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# Test-only npm tools for the widget's browser tests (axe-core), pinned in tests/web/package-lock.json.
web-tools:
	@if [ ! -f tests/web/node_modules/axe-core/axe.min.js ]; then \
		if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/web --no-audit --no-fund --loglevel=error; \
		else echo "npm is not installed: the widget's accessibility test will be skipped"; fi; \
	fi

test: lint typecheck web-tools
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.service
	$(BIN)/python -m bench.flowfiles
	$(BIN)/python -m bench.bot

# The web server over real HTTP, driven by wrk (installed from apt when missing).
bench-web: install
	@command -v wrk >/dev/null 2>&1 || apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
	$(BIN)/python -m bench.web

migrate: install
	$(BIN)/qualibot migrate

# The server: the chat API, the widget and its demo page (the URL is printed).
run: migrate
	$(BIN)/qualibot serve

chat: migrate
	$(BIN)/qualibot chat --flow $(FLOW) --locale $(LOCALE)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis tests/web/node_modules build
