# The targets CI and the CodePipeline synth step run. `make synth` and `make test` set up
# everything they need (a .venv from PyPI, the pinned CDK CLI from npm) on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
CDK := npx --no-install cdk
CDK_OUT := cdk.out

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
# Synth never talks to AWS: no instance-metadata probing for credentials or region.
export AWS_EC2_METADATA_DISABLED := true

.PHONY: help synth synth-example synth-sandbox checkov image-venvs test lint typecheck unit test-unit test-template test-slow bench bench-build-step bench-tests clean resolve-release pipeline-definitions local-pipeline

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Another layout: SETTINGS=cdk.sandbox.json synthesizes the one-account sandbox, whose settings file
# replaces cdk.json's sections of the same name (docs/deploy.md).
SETTINGS ?=
SETTINGS_ARG := $(if $(SETTINGS),-c mlops-settings=$(SETTINGS))

synth: $(VENV)/.installed node_modules/.installed  ## Synthesize every stage offline, gate on cdk-nag, Control Tower rules, cfn-lint
	rm -rf $(CDK_OUT)
	@echo "cdk synth: starting the CDK's runtime (the first run unpacks it into a cache: ~15 s more)"
	$(CDK) synth --quiet --output $(CDK_OUT) $(SETTINGS_ARG) $(SYNTH_ARGS)
	@echo "cfn-lint: checking every template against CloudFormation's resource schemas"
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- $$(find $(CDK_OUT) -name '*.template.json' | sort)
	$(PY) scripts/list_templates.py $(CDK_OUT)

# The version ARN the tests use: a release from the shipped cdk.json's registry (dev account, eu-west-1).
EXAMPLE_RELEASE := arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-delivery/3
synth-example:  ## Like synth, with an example release for dev, staging and prod, so the serving stacks appear
	$(MAKE) synth SYNTH_ARGS="$(foreach env,dev staging prod,-c release.$(env)=$(EXAMPLE_RELEASE))"

# The sandbox's registry is in its one account (cdk.sandbox.json), so its example release is too.
SANDBOX_RELEASE := arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-delivery/1
synth-sandbox:  ## The one-account sandbox (cdk.sandbox.json), with an example release so its endpoint appears
	$(MAKE) synth SETTINGS=cdk.sandbox.json SYNTH_ARGS="-c release.dev=$(SANDBOX_RELEASE)"

# checkov lives in its own venv: ~100 packages that neither the app nor its tests need.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

checkov: $(CHECKOV_VENV)/.installed  ## checkov on the templates of the last `make synth` (offline; skips are in the templates)
	test -d $(CDK_OUT) || $(MAKE) synth
	$(CHECKOV_VENV)/bin/checkov --directory $(CDK_OUT) --framework cloudformation --quiet --compact --skip-download

# ruff and mypy run beside pytest (a cold mypy cache alone takes longer than the tests); each
# one's output is printed in one piece when it ends, and any failure fails `make test`.
# The slow tier is `make test-slow`: CI (.ci/run) and the pipeline's build step run both.
test:  ## ruff, mypy and the unit and template tests, all at once (under a minute on 2 idle cores)
	$(MAKE) --no-print-directory --jobs=3 --output-sync=target lint typecheck unit

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The Lambda's modules import each other as top-level modules, as on Lambda: a run of their own
# with their folder on the search path (and the root for contracts.py, bundled beside them); so
# do the files of each model's source directory.
typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy
	MYPYPATH=lambda/start_retraining:. $(VENV)/bin/mypy lambda/start_retraining
	for model in models/*/src; do MYPYPATH=$$model $(VENV)/bin/mypy $$model || exit 1; done

# One xdist worker per core. The app synthesized for the template tests is made once per run and
# shared by the workers (tests/conftest.py).
PYTEST_WORKERS ?= auto
PYTEST := $(VENV)/bin/pytest -p no:cacheprovider -n $(PYTEST_WORKERS)

unit: $(VENV)/.installed node_modules/.installed
	$(PYTEST) -m "not slow"

test-unit: $(VENV)/.installed  ## Tests that synthesize nothing (seconds)
	$(PYTEST) -m "not template and not slow"

test-template: $(VENV)/.installed node_modules/.installed  ## Tests on synthesized CloudFormation templates
	$(PYTEST) -m template

test-slow: $(VENV)/.installed node_modules/.installed image-venvs  ## SDK regeneration of the definitions, app.py as a subprocess, the steps in their images' venvs
	$(PYTEST) -m slow

# One venv per container image (.venv-images/<framework>-<version>): pyenv's Python of the image's
# version and its pinned packages (pipeline_steps/images.py), for the slow tier's runs of the step
# scripts and models. Each is rebuilt only when the pins change (a stamp inside); without pyenv's
# Python for an image it is not built and its tests skip, saying why.
image-venvs: $(VENV)/.installed  ## Build the images' venvs for `make test-slow` (pyenv's Python, the images' pins)
	$(PY) -m pipeline_steps.image_venvs

bench: $(VENV)/.installed node_modules/.installed  ## Time a full synth against a one-bucket app
	bash bench/synth.sh

bench-tests: $(VENV)/.installed node_modules/.installed  ## Wall and CPU time of `make test` and of each pytest tier
	bash bench/tests.sh

bench-build-step:  ## Time the pipeline's build step: cold and warm installs, then its commands
	bash bench/build_step.sh

ENV ?= dev
resolve-release: $(VENV)/.installed  ## Write releases/ENV.json (default dev): the latest Approved version (needs AWS credentials)
	$(PY) -m mlopsctl resolve-release --env $(ENV)

pipeline-definitions: $(VENV)/.installed  ## Regenerate the checked-in SageMaker pipeline definitions (SDK, offline)
	$(PY) -m pipeline_steps.model_build_pipeline

# MODEL=wine (a folder of models/) trains that model instead of cdk.json's; FROM=xgboost trains the
# first run's model (the champion) with another, as after a framework change; DATA=my.csv runs on a
# CSV of your own instead of the bundled sample (written as the model's data contract says).
MODEL ?=
FROM ?=
DATA ?=
LOCAL_ARGS = $(if $(MODEL),--model models/$(MODEL)) $(if $(DATA),--data $(DATA))
local-pipeline: $(VENV)/.installed  ## Run the model-building steps locally, twice (no AWS, no Docker); MODEL=, FROM=, DATA=
	$(PY) -m pipeline_steps.local_run --output-dir .local-run $(LOCAL_ARGS) $(if $(FROM),--first-model models/$(FROM))

clean:  ## Remove generated output (keeps .venv and node_modules)
	rm -rf $(CDK_OUT) .pytest_cache .mypy_cache .ruff_cache

.PHONY: drift-check-definition local-drift-check

drift-check-definition: $(VENV)/.installed  ## Regenerate the checked-in drift-check pipeline definition (SDK, offline)
	$(PY) -m pipeline_steps.drift_check_pipeline

local-drift-check: $(VENV)/.installed  ## Drift check on a model's data: an undrifted and a drifted batch (no AWS); MODEL=, DATA=
	$(PY) -m pipeline_steps.local_drift_check --output-dir .local-run/drift-check $(LOCAL_ARGS)

# Extra prerequisites (no recipe): the drift check joins the other local run and generated definitions.
local-pipeline: local-drift-check
pipeline-definitions: drift-check-definition
