# serving-kit: `make demo` runs the main job on the local provider; `make test` runs the tests.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
KIT := $(BIN)/kit

.PHONY: setup sysdeps demo test test-unit test-integration lint lock clean

$(BIN)/kit: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,models]'
	touch $(BIN)/kit

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

test-unit: setup
	$(BIN)/pytest -q tests/unit tests/cli

test-integration: setup
	$(BIN)/pytest -q tests/integration

lint: setup ## ruff, terraform fmt/validate, ansible syntax check and ansible-lint
	$(BIN)/ruff check kit tests scenarios benchmarks
	terraform fmt -check -recursive terraform
	d=$$(mktemp -d) && export TF_CLI_CONFIG_FILE=/dev/null TF_DATA_DIR=$$d && \
	  terraform -chdir=terraform/local init -backend=false -input=false -no-color >/dev/null && \
	  terraform -chdir=terraform/local validate -no-color; status=$$?; rm -rf $$d; exit $$status
	d=$$(mktemp -d) && $(BIN)/python -m kit.provision.tfcli $$d/cli.tfrc && \
	  export TF_CLI_CONFIG_FILE=$$d/cli.tfrc TF_DATA_DIR=$$d && \
	  terraform -chdir=terraform/aws init -backend=false -input=false -no-color >/dev/null && \
	  terraform -chdir=terraform/aws validate -no-color; status=$$?; rm -rf $$d; exit $$status
	cd ansible && PATH=$(CURDIR)/$(BIN):$$PATH ANSIBLE_CONFIG=ansible.cfg ansible-playbook --syntax-check -i localhost, site.yml deploy.yml
	cd ansible && PATH=$(CURDIR)/$(BIN):$$PATH ANSIBLE_CONFIG=ansible.cfg ansible-lint -q site.yml deploy.yml roles

lock: setup ## regenerate the roles' pinned wheel locks from their requirements.in
	for role in load_client torchserve mlserver mlflow bentoml; do \
	  $(BIN)/python -m kit.configure.wheelhouse lock $$role || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
