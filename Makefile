# backend-db: `make site` provisions the default inventory, `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# podman reads the project's settings (runc, ulimits, cgroupfs), not /etc's.
export CONTAINERS_CONF := $(CURDIR)/molecule/containers.conf
MOLECULE_SCENARIOS := default cluster upgrade release-upgrade backup
# The longest scenario runs beside the others (scripts/molecule-lanes.sh); empty: none.
MOLECULE_BESIDE := ha
STAMP := $(VENV)/.setup-done

.PHONY: setup site test lint pytest pytest-other-release molecule image bench revision lock clean

## setup: Debian packages and .venv, only when requirements.lock or the setup script changed
setup: $(STAMP)

$(STAMP): requirements.lock scripts/setup.sh
	bash scripts/setup.sh
	touch $@

## site: provision the default inventory (this machine) with site.yml
site: setup
	@[ "$$(id -u)" -eq 0 ] || { echo "make site provisions this machine: run it as root (sudo make site)" >&2; exit 1; }
	ansible-playbook site.yml

## test: lint, the pytest suite (here, and in the other Debian release's userland), then every Molecule scenario
test: setup lint pytest pytest-other-release molecule

lint: setup
	ruff check .
	ruff format --check models plugins migrations devtools tests scripts molecule roles
	yamllint --strict .
	ansible-lint
	python scripts/check_migrations.py
	bash scripts/sanity.sh

pytest: setup
	pytest

## pytest-other-release: the suite in a container of the Debian release this machine is not
## (13 on a Debian 12 machine, 12 on a Debian 13 one), so each run covers both; less the
## files that read only the repository (the roles' YAML and documentation; the revision linter
## and `make revision`, developer tooling that runs on the developer's machine), and those of
## the secrets and the variables' checks, which the controller decides the same way whatever
## the host's release (tests/test_site_secrets.py converges with them; test_site.py's cases of
## bad input still run there)
pytest-other-release: setup
	bash scripts/pytest-in-container.sh other --ignore=tests/test_roles.py \
		--ignore=tests/test_role_docs.py --ignore=tests/test_check_migrations.py \
		--ignore=tests/test_site_secrets.py --ignore=tests/test_secrets.py \
		--ignore=tests/test_validation.py

## image: the Debian 12 and 13 systemd images for Molecule, built with debootstrap when missing
image: setup
	bash scripts/build-image.sh

molecule: setup image
	MOLECULE_BESIDE=$(MOLECULE_BESIDE) bash scripts/molecule-lanes.sh $(MOLECULE_SCENARIOS)

## bench: the measurements written down in docs/performance.md (about fifty minutes)
bench: setup image
	python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	python bench/noop_check.py --runs 21
	python bench/online_migration.py
	python bench/hot_queries.py
	python bench/backup.py
	bash bench/converge.sh
	python bench/ha.py
	bash bench/apt_install.sh

## revision: autogenerate a new migration, e.g. make revision MESSAGE="add users.locale"
revision: setup
	python scripts/new_revision.py "$(MESSAGE)"

## lock: re-resolve requirements.in into requirements.lock
lock:
	rm -rf .lock-venv
	python3 -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -r requirements.in
	.lock-venv/bin/python -m pip freeze --exclude-editable > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
