# Two commands do all set-up on a machine with only python3, pip and make:
#   make demo   sync the sandbox's contracts into ./spotdraft.db through a real Prefect flow
#   make test   run the test suite
# uv is installed from PyPI into .tools/ (no system changes), then builds .venv from uv.lock.

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: demo test lint setup bench clean

setup: .venv/.synced

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --quiet
	@touch $@

demo: setup
	@$(UV) run --frozen --no-sync python -m tools.demo

test: setup
	$(UV) run --frozen --no-sync pytest $(PYTEST_ARGS)

lint: setup
	$(UV) run --frozen --no-sync ruff check .

bench: setup
	$(UV) run --frozen --no-sync python -m tools.bench

clean:
	rm -rf .venv .tools spotdraft.db
