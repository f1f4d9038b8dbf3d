# The targets here are the commands the README gives. Each one installs what it needs on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SAMVENV := .venv-sam
STAMP  := $(VENV)/.installed-stamp
SAMSTAMP := $(SAMVENV)/.installed-stamp
PYTEST_ARGS ?= -n 2
DEMO_ARGS ?=
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: install demo test check lint typecheck validate unit bench clean

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

install: $(STAMP)

## The main job: the local twin's end-to-end demo.
demo: $(STAMP)
	$(BIN)/amtflow demo $(DEMO_ARGS)

## The tests: static checks, then the whole suite.
test: check
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: lint typecheck validate

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

validate: $(SAMSTAMP)
	$(SAMVENV)/bin/sam validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(SAMVENV) .pytest_cache .mypy_cache .ruff_cache
