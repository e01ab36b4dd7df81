# serving-kit: `make demo` runs the main job on the local provider; `make test` runs the tests.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
KIT := $(BIN)/kit

.PHONY: help setup sysdeps demo test test-unit test-integration lint lock clean

$(BIN)/kit: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,models]'
	touch $(BIN)/kit

help: ## list the targets with what each does (from their ## comments)
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-z-]*:[^#]*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(BIN)/kit ## create the venv and install the kit with its dev tools

# First of demo's and test's prerequisites (a serial make builds them left to right): the venv needs
# python3-venv, the rest needs LXD.
sysdeps: ## install the system packages demo and test need (as root on Debian), else print the command
	@bash .ci/sysdeps

demo: sysdeps setup ## fresh machine -> local hosts -> configure -> deploy -> bench -> report -> down
	$(KIT) doctor
	@# The scenarios' models build (kit build, cached by content) while `kit up` makes the hosts and
	@# converges them: the controller's work overlaps the hosts' installs instead of following them.
	mkdir -p .kit/logs; $(KIT) build >.kit/logs/demo-build.log 2>&1 & build=$$!; \
	  $(KIT) up; status=$$?; \
	  if ! wait $$build; then echo "kit build failed: see .kit/logs/demo-build.log" >&2; status=1; fi; \
	  cat .kit/logs/demo-build.log; \
	  if [ $$status -eq 0 ]; then $(KIT) bench all --profile smoke; status=$$?; fi; \
	  if [ $$status -eq 0 ]; then $(KIT) report; status=$$?; fi; \
	  $(KIT) down; exit $$status

test: sysdeps setup lint ## the whole suite: unit, CLI and integration tests on real local hosts
	$(BIN)/pytest -q tests

test-unit: setup ## the unit and CLI tests only (no hosts, no network; about a minute)
	$(BIN)/pytest -q tests/unit tests/cli

test-integration: setup ## the integration tests only: real local hosts (LXD), Terraform, Ansible, moto
	$(BIN)/pytest -q tests/integration

lint: setup ## ruff, mypy, terraform fmt/validate/test (offline), ansible syntax check and ansible-lint
	$(BIN)/ruff check kit tests scenarios benchmarks
	$(BIN)/ruff format --check kit tests scenarios benchmarks
	$(BIN)/mypy
	terraform fmt -check -recursive terraform
	d=$$(mktemp -d) && export TF_CLI_CONFIG_FILE=/dev/null TF_DATA_DIR=$$d && \
	  terraform -chdir=terraform/local init -backend=false -input=false -no-color >/dev/null && \
	  terraform -chdir=terraform/local validate -no-color; status=$$?; rm -rf $$d; exit $$status
	@# terraform test runs each module's tests/*.tftest.hcl with a mock provider: offline, no credentials.
	@# (tests/emulator/ asks moto what only AWS answers: tests/integration/test_aws_emulator.py.)
	d=$$(mktemp -d) && $(BIN)/python -m kit.provision.tfcli $$d/cli.tfrc && \
	  export TF_CLI_CONFIG_FILE=$$d/cli.tfrc && status=0 && \
	  for m in aws modules/network modules/host; do \
	    export TF_DATA_DIR=$$d/$$m && \
	    terraform -chdir=terraform/$$m init -backend=false -input=false -no-color >/dev/null && \
	    terraform -chdir=terraform/$$m validate -no-color && \
	    terraform -chdir=terraform/$$m test -no-color || { status=1; break; }; \
	  done; rm -rf $$d; exit $$status
	cd ansible && PATH=$(CURDIR)/$(BIN):$$PATH ANSIBLE_CONFIG=ansible.cfg ansible-playbook --syntax-check -i localhost, site.yml deploy.yml
	cd ansible && PATH=$(CURDIR)/$(BIN):$$PATH ANSIBLE_CONFIG=ansible.cfg ansible-lint -q site.yml deploy.yml roles

lock: setup ## regenerate the roles' pinned wheel locks from their requirements.in
	for role in load_client torchserve mlserver mlflow bentoml; do \
	  $(BIN)/python -m kit.configure.wheelhouse lock $$role || exit 1; done

clean: ## remove the venv and the tools' caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
