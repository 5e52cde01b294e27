# The two commands of the README: `make run` and `make test`. Each makes its own .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# make run HOST=... PORT=... passes flags; unset, the emulator reads BDA_EMULATOR_HOST/PORT
# from the environment and falls back to its defaults (127.0.0.1:9527).
RUN_FLAGS = $(strip $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT)))

.PHONY: run test lint unit bench soak fuzz docs clean node-sdk

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.run-installed

## make run: start the emulator on 127.0.0.1:9527 with the bundled defaults
run: $(VENV)/.run-installed
	$(BIN)/bda-emulator serve $(RUN_FLAGS)

# The official Node SDK for the contract tests, when Node is on the machine (else they skip).
NODE := $(shell command -v node 2>/dev/null)
tests/node/node_modules/.installed: tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --loglevel=error
	@touch $@

node-sdk: $(if $(NODE),tests/node/node_modules/.installed)

## make test: lint, type-check and the whole test suite
test: $(VENV)/.test-installed lint node-sdk
	$(BIN)/python -m pytest

lint: $(VENV)/.test-installed
	$(BIN)/ruff check emulator tests scripts benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

## make docs: regenerate docs/regions.png, docs/video-strip.png, the sample images and videos and
## the dashboard's screenshots docs/dashboard-*.png (these need Debian's chromium)
docs: $(VENV)/.test-installed
	$(BIN)/python scripts/make_samples.py
	$(BIN)/python scripts/make_docs.py
	$(BIN)/python scripts/make_sample_video.py
	$(BIN)/python scripts/make_video_docs.py
	$(BIN)/python scripts/make_dashboard_shots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis dist build

## make bench: load and compute benchmark (about 2.5 min on 2 cores), with the shared-state cells
## (memory, Redis, 2 processes on Redis: a redis-server it starts itself; skipped without one);
## writes benchmarks/results.md;
## then the hostile-client benchmark (about 1 min; benchmarks/hostile-results.md) and the per-action
## cost (about 15 s; benchmarks/actions-results.md) and the video pipeline (about 1 min;
## benchmarks/video-results.md) and where shared result files live (Redis or a folder, about
## 10 s; benchmarks/resultfiles-results.md)
bench: $(VENV)/.test-installed
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.hostile $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.actions $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.video $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.resultfiles $(BENCH_ARGS)

## make soak: 10,000 signed requests (successes, natural errors, injected faults) at concurrency 64
## against bda-emulator serve, every reply classified, RSS and journal checked; writes
## benchmarks/soak-results.md and fails on any UNEXPECTED reply (about 20 s on 2 cores)
soak: $(VENV)/.test-installed
	$(BIN)/python -m benchmarks.soak $(SOAK_ARGS)

## make fuzz: the property tests of tests/test_fuzz.py with 5000 examples each
fuzz: $(VENV)/.test-installed
	BDA_FUZZ_EXAMPLES=5000 $(BIN)/python -m pytest tests/test_fuzz.py -p no:cacheprovider
