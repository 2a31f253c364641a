# Two commands on a fresh machine: `make demo` and `make test`.
# `make package` builds the AWS Lambda zip (dist/pixelpipe-lambda.zip).
# Every target bootstraps .venv itself and re-installs when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test system-deps lint format typecheck pytest bench bench-faces encoders e2e load samples package clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pixelpipe.faces install --quiet
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pixelpipe demo --out out

test: lint typecheck pytest

# Debian's chromium for the web page's tests: apt-get as root, else one line with the command.
system-deps:
	sh tools/system-deps

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint deploy/template.yaml
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps
	$(BIN)/pytest -n auto --dist loadgroup

bench: $(STAMP)
	$(BIN)/python bench/bench_engine.py

# The face detector: cold start, per image at 2 and 12 MP, recall, false positives, padding.
bench-faces: $(STAMP)
	$(BIN)/python bench/bench_faces.py --accuracy

# 1000 small uploads through the local stack, 2 workers: throughput, latency, 0 lost/duplicated.
encoders: $(STAMP)
	$(BIN)/python bench/encoders.py

e2e: $(STAMP)
	$(BIN)/python bench/e2e.py

load: $(STAMP)
	$(BIN)/python bench/load.py --uploads 1000 --workers 2 --size small

package: $(STAMP)
	$(BIN)/pixelpipe package --arch arm64 -o dist/pixelpipe-lambda.zip

samples: $(STAMP)
	$(BIN)/python examples/make_samples.py --out examples/images

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
