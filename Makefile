# The targets here are the commands the README gives. Each one installs what it needs on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SAMVENV := .venv-sam
STAMP  := $(VENV)/.installed-stamp
SAMSTAMP := $(SAMVENV)/.installed-stamp
SECVENV := .venv-sec
SECSTAMP := $(SECVENV)/.installed-stamp
PYTEST_ARGS ?= -n 2
DEMO_ARGS ?=
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: install demo test check lint typecheck validate security unit bench clean lock layer build import-check

# CPython 3.12, the Lambda runtime's version, for `sam build` and the import check: python3.12 on PATH when it
# is 3.12, else the newest 3.12 pyenv has (empty when neither: the targets that need it say how to get it).
PYTHON312 ?= $(shell python3.12 -c 'import sys; assert sys.version_info[:2] == (3, 12); print(sys.executable)' \
	2>/dev/null || { v=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$$' | sort -V | tail -n 1); \
	test -n "$$v" && echo "$$(pyenv prefix $$v)/bin/python3.12"; })
NEED312 = @test -n "$(PYTHON312)" || { echo "make build and make import-check need CPython 3.12 (what Lambda's \
	python3.12 runs), found neither as python3.12 nor in pyenv: install it (pyenv install 3.12, or your system's \
	python3.12 package) or pass PYTHON312=/path/to/python3.12" >&2; exit 2; }
BUILD_DIR := .aws-sam/build
BUILD_STAMP := $(BUILD_DIR)/.amtflow-build-stamp
# What the built artifacts are made of: a change to any of these rebuilds, nothing else does.
BUILD_INPUTS := template.yaml samconfig.toml src/Makefile src/requirements.lock \
	$(shell find functions src/amtflow -path src/amtflow/local -prune -o -name __pycache__ -prune -o -type f -print)
# The Lambda python3.12 runtime without our layer: the stdlib plus its own boto3/botocore (and their
# dependencies). Pinned near the SDK the runtime bundles; move it when AWS moves the runtime's SDK.
RUNTIMEVENV := .venv-lambda
RUNTIME_SDK_VERSION := 1.40.4
RUNTIMESTAMP := $(RUNTIMEVENV)/.installed-$(RUNTIME_SDK_VERSION)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# The SAM CLI pins its own boto3/botocore, so it lives in a virtual environment of its own.
$(SAMSTAMP):
	$(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/python -m pip install -q --upgrade pip
	$(SAMVENV)/bin/python -m pip install -q 'aws-sam-cli>=1.170,<2'
	touch $(SAMSTAMP)

# checkov (the IaC security scanner) pins many dependencies of its own, so it gets its own environment too.
$(SECSTAMP):
	$(PYTHON) -m venv $(SECVENV)
	$(SECVENV)/bin/python -m pip install -q --upgrade pip
	$(SECVENV)/bin/python -m pip install -q 'checkov>=3.2,<4'
	touch $(SECSTAMP)

$(RUNTIMESTAMP):
	$(NEED312)
	$(PYTHON312) -m venv --clear $(RUNTIMEVENV)
	$(RUNTIMEVENV)/bin/python -m pip install -q --no-compile \
		boto3==$(RUNTIME_SDK_VERSION) botocore==$(RUNTIME_SDK_VERSION)
	touch $(RUNTIMESTAMP)

install: $(STAMP)

## The main job: the local twin's end-to-end demo.
demo: $(STAMP)
	$(BIN)/amtflow demo $(DEMO_ARGS)

## The tests: static checks, the handlers as packaged, then the whole suite.
test: check import-check
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: lint typecheck validate security

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

validate: $(SAMSTAMP)
	$(SAMVENV)/bin/sam validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)

## IaC security scan of the template as written and as SAM transforms it; exceptions in .checkov.yaml.
security: $(STAMP) $(SECSTAMP)
	$(BIN)/python tests/security/render_template.py out/security/cloudformation.json
	BC_SKIP_MAPPING=TRUE $(SECVENV)/bin/checkov --config-file .checkov.yaml \
		-f template.yaml -f out/security/cloudformation.json

## The Lambda layer's dependencies, pinned with hashes for CPython 3.12 on Linux x86_64 (the Lambda target):
## pyproject's [project.dependencies] without what the runtime brings (src/runtime-provided.txt).
lock: $(STAMP)
	$(BIN)/python -m pip install -q 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml --quiet --python-version 3.12 --python-platform x86_64-manylinux_2_28 \
		--generate-hashes --excludes src/runtime-provided.txt --custom-compile-command 'make lock' \
		--output-file src/requirements.lock

## The CoreLayer as `sam build` makes it (src/Makefile), without Docker, into out/layer/.
layer: $(STAMP)
	rm -rf out/layer
	$(MAKE) -C src build-CoreLayer ARTIFACTS_DIR=$(CURDIR)/out/layer PYTHON=$(CURDIR)/$(BIN)/python
	@find out/layer -type f -printf '%s\n' | awk '{n += $$1} END {printf "out/layer: %.1f MB unzipped\n", n / 1e6}'

## The application as `sam build` packages it, into .aws-sam/build (no Docker: CPython 3.12 from this
## machine); rebuilt only when one of BUILD_INPUTS changed.
build: $(BUILD_STAMP)

$(BUILD_STAMP): $(SAMSTAMP) $(BUILD_INPUTS)
	$(NEED312)
	PATH="$(dir $(PYTHON312)):$$PATH" $(SAMVENV)/bin/sam build --template template.yaml \
		--build-dir $(BUILD_DIR) --region $(AWS_DEFAULT_REGION)
	touch $(BUILD_STAMP)

## Every function of template.yaml imported from .aws-sam/build as Lambda would: CPython 3.12 with only
## the runtime's boto3/botocore and the function's built layers; names the function and the missing module.
import-check: $(STAMP) $(BUILD_STAMP) $(RUNTIMESTAMP)
	$(BIN)/amtflow local check-build --runtime-python $(RUNTIMEVENV)/bin/python

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(SAMVENV) $(SECVENV) $(RUNTIMEVENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
