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

.PHONY: install demo test check lint typecheck validate security unit bench clean lock layer

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

install: $(STAMP)

## The main job: the local twin's end-to-end demo.
demo: $(STAMP)
	$(BIN)/amtflow demo $(DEMO_ARGS)

## The tests: static checks, then the whole suite.
test: check
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

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(SAMVENV) $(SECVENV) .pytest_cache .mypy_cache .ruff_cache
