# backend-db: `make site` provisions the default inventory, `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# podman reads the project's settings (runc, ulimits, cgroupfs), not /etc's.
export CONTAINERS_CONF := $(CURDIR)/molecule/containers.conf
STAMP := $(VENV)/.setup-done

.PHONY: setup site check test lint sanity pytest coverage pytest-other-release molecule image bench revision docs lock clean

## setup: Debian packages and .venv, only when requirements.lock or the setup script changed
setup: $(STAMP)

$(STAMP): requirements.lock scripts/setup.sh
	bash scripts/setup.sh
	touch $@

## site: provision the default inventory (this machine) with site.yml
site: setup
	@[ "$$(id -u)" -eq 0 ] || { echo "make site provisions this machine: run it as root (sudo make site)" >&2; exit 1; }
	ansible-playbook site.yml

## check: the fast tier, before every commit (at most 3 minutes): lint, beside the unit tests
## and the tests against a scratch PostgreSQL. No container, no site.yml run.
check: setup
	python -m devtools.lanes check

## test: everything, as CI runs it: lint and sanity, the three pytest tiers (unit, integration,
## site), the site.yml tests in the other Debian release, and every Molecule scenario, in
## lanes (devtools/lanes.py); ends with each part's wall and CPU time and the tests over 60 s.
test: setup
	python -m devtools.lanes test

## lint: ruff, yamllint, ansible-lint (production profile), the alert rules (promtool)
## and the migrations' linters
lint: setup
	ruff check .
	ruff format --check models plugins migrations devtools tests scripts molecule roles bench
	yamllint --strict .
	ansible-lint
	promtool check rules roles/monitoring/files/alerts.yml
	python scripts/check_migrations.py

## sanity: ansible-test sanity on the collection as Galaxy receives it (in make test)
sanity: setup
	bash scripts/sanity.sh

## pytest: one tier or file at a time, e.g. make pytest TESTS=tests/site/test_backup.py
TESTS ?= tests
pytest: setup
	pytest $(TESTS)

## coverage: line coverage of plugins/ and models/ by the unit and integration tiers (the
## code they import; what Ansible runs on a host is out of its reach)
coverage: setup
	coverage erase
	coverage run -m pytest -p no:cacheprovider -q tests/unit tests/integration
	coverage report

## pytest-other-release: in a container of the Debian release this machine is not (13 on a
## Debian 12 machine, 12 on a Debian 13 one), what depends on the release: tests/site's
## converges (site.yml with that release's PostgreSQL, packages and Python), the modules that
## run on the host (alembic_migrate against that release's PostgreSQL, host_snapshot reading
## its dpkg, apt and os-release), the migrated schema read from that major's catalog and the
## monitoring queries run against that major's statistics views.
## Left out, as they do not depend on the host's release: tests/unit (pure Python and the
## repository's files); the rest of tests/integration (the migration runner's logic, faults
## and revision tooling: Python talking to PostgreSQL through the same drivers and SQL on
## both majors); and the tests marked `controller`, which the controller decides alone
## (its secrets, the variables it refuses, the collection it builds, the packages it builds
## for a fleet, the cluster declarations it refuses).
OTHER_RELEASE_TESTS := -m 'not controller' tests/site tests/integration/test_module.py \
	tests/integration/test_host_snapshot.py tests/integration/test_schema.py \
	tests/integration/test_monitoring_queries.py
pytest-other-release: setup
	bash scripts/pytest-in-container.sh other $(OTHER_RELEASE_TESTS)

## image: the Debian 12 and 13 systemd images for Molecule, built with debootstrap when missing
image: setup
	bash scripts/build-image.sh

## molecule: every Molecule scenario, in their lanes; one: molecule test --scenario-name NAME
molecule: setup
	python -m devtools.lanes test --only 'image,molecule-*'

## bench: the measurements written down in docs/performance.md (about fifty minutes)
bench: setup image
	python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	python bench/noop_check.py --runs 21
	python bench/online_migration.py
	python bench/hot_queries.py
	python bench/pgbouncer.py
	python bench/backup.py
	bash bench/converge.sh
	python bench/ha.py
	bash bench/apt_install.sh

## revision: autogenerate a new migration, e.g. make revision MESSAGE="add users.locale"
revision: setup
	python scripts/new_revision.py "$(MESSAGE)"

## docs: each role README's table of variables, written from its argument_specs and defaults
docs: setup
	python -m devtools.role_docs

## lock: re-resolve requirements.in into requirements.lock
lock:
	rm -rf .lock-venv
	python3 -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -r requirements.in
	.lock-venv/bin/python -m pip freeze --exclude-editable > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .test-logs .coverage
