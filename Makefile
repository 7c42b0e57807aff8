# Two commands do all set-up on a machine with only python3, pip and make:
#   make demo   sync the sandbox's contracts into ~/.local/share/spotdraft/spotdraft-demo.db through a real Prefect flow
#   make test   the test suite but tests/e2e/ (about 7 minutes on 2 cores); make test-all: all of it
#   make bench  the benchmarks (the rate section's quota-shape matrix: about 40 minutes); make bench-quick: its small case
# uv is installed from PyPI into .tools/ (no system changes), then builds .venv from uv.lock.

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: demo test test-all test-lowest lint setup generate migrate bench bench-quick bench-setup clean

setup: .venv/.synced

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --quiet
	@touch $@

demo: setup
	@$(UV) run --frozen --no-sync python -m tools.demo

# The tests run in TEST_WORKERS processes (pytest-xdist; 4 measured best on 2 cores), each module whole on one
# worker (--dist loadfile: a module's servers start once). TEST_WORKERS=0 runs them in this process.
# `make test` leaves out tests/e2e/ (marker e2e, see tests/conftest.py); `make test-all` runs everything.
# PYTEST_ARGS come last: PYTEST_ARGS="-k client" narrows; PYTEST_ARGS="-m e2e tests/e2e/test_ui_browser.py"
# runs an e2e module with `make test` (a later -m wins).
TEST_WORKERS ?= 4
XDIST = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadfile)

test: setup
	$(UV) run --frozen --no-sync pytest $(XDIST) -m "not e2e" $(PYTEST_ARGS)

# test-all runs the e2e modules after the rest, in E2E_WORKERS processes: each starts real servers (a prefect
# server, a worker, flow-run processes), and four at once on 2 cores pushed one past its 300 s timeout.
# Modules are handed out in collection order (--no-loadscope-reorder; tests/conftest.py puts the longest first),
# not by their number of tests. A phase that PYTEST_ARGS leaves without tests (pytest's exit 5) is not a failure.
E2E_WORKERS ?= 2
XDIST_E2E = $(if $(filter 0,$(E2E_WORKERS) $(TEST_WORKERS)),-p no:xdist,-n $(E2E_WORKERS) --dist loadfile --no-loadscope-reorder)
PYTEST_PHASE = $(UV) run --frozen --no-sync pytest

test-all: setup
	$(PYTEST_PHASE) $(XDIST) -m "not e2e" $(PYTEST_ARGS) || [ $$? = 5 ]
	$(PYTEST_PHASE) $(XDIST_E2E) -m e2e $(PYTEST_ARGS) || [ $$? = 5 ]

# The fast suite (pytest -m "not slow": no e2e, no PostgreSQL) against the lowest Prefect pyproject.toml allows,
# in .tools/venv-lowest (uv.lock's versions of everything else wherever that Prefect accepts them), with xdist
# as above; CI runs part of it after `make test-all`.
test-lowest: $(UV)
	UV=$(UV) PYTHON=$(PYTHON) tools/ci_test_lowest.sh $(XDIST) $(PYTEST_ARGS)

lint: setup
	$(UV) run --frozen --no-sync ruff check .

# Regenerate the catalog, models, task modules and docs from the spec (SPEC=path; default ../shared/).
generate: setup
	$(UV) run --frozen --no-sync python -m tools.generate_catalog $(if $(SPEC),--spec $(SPEC))

# Upgrade a sync database's schema by hand (DATABASE_URL=...; default the flows' own: $SPOTDRAFT_DATABASE_URL,
# else ~/.local/share/spotdraft/spotdraft.db).
# The URL reaches the command through the environment, never the command line: no shell splits or
# expands it, and make does not echo it (nor does `ps` show it).
migrate: setup
	@$(UV) run --frozen --no-sync python -m flows.migrate

# The benchmark also needs dlt (the `bench` dependency group, pinned in uv.lock); test and demo do not.
bench-setup: setup
	$(UV) sync --frozen --quiet --group bench

bench: bench-setup
	$(UV) run --frozen --no-sync python -m tools.bench $(BENCH_ARGS)

bench-quick: bench-setup
	$(UV) run --frozen --no-sync python -m tools.bench --quick --only rate $(BENCH_ARGS)

clean:
	rm -rf .venv .tools spotdraft.db
