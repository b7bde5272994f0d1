"""Fixtures of the unit tier."""

from __future__ import annotations

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, lookup_loader
from ansible.template import Templar, trust_as_template

from devtools.paths import ROOT

# Ansible's collection loader, set up before any test module imports the collection: the
# plugins are then loaded as a run loads them (lookup_loader finds them, with their options).
init_plugin_loader([str(ROOT / "collections")])


@pytest.fixture(scope="session")
def lookup():
    """A lookup plugin of the collection by its short name (any other by its full name),
    loaded as Ansible loads it, for a run's variables:
    lookup('secret', variables).run(terms, variables, **options)."""
    loader = DataLoader()

    def load(name: str, variables: dict):
        templar = Templar(loader=loader, variables=variables)
        full = name if "." in name else f"backend_db.postgresql.{name}"
        return lookup_loader.get(full, loader=loader, templar=templar)

    return load


@pytest.fixture(scope="session")
def template():
    """An expression templated as a role's task templates it, filters and tests of the
    collection included: template("{{ x | backend_db.postgresql.found_files }}", {"x": ...})."""
    loader = DataLoader()

    def render(expression: str, variables: dict):
        return Templar(loader=loader, variables=variables).template(trust_as_template(expression))

    return render
