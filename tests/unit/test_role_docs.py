"""Each role's variables are stated alike in its defaults, its argument_specs and its README.

defaults/main.yml gives the value a run uses, meta/argument_specs.yml what Ansible checks
and `ansible-doc -t role` shows, and the README's table what a reader sees first. The
value is written in each, so this test holds them equal: the same variables everywhere,
and the same default wherever it is a plain value (a templated default is described in
words instead, which no test can compare).
"""

from __future__ import annotations

import re

import pytest
import yaml

from devtools.paths import ROOT

ROLES = sorted(path.parent.parent.name for path in ROOT.glob("roles/*/meta/argument_specs.yml"))
# A row of a README's table of variables: the names in the first cell, the default in the
# second. A row may name several variables ("`a` / `b`" or "`a`, `b`") with a default each.
ROW = re.compile(r"^\| (`[a-z0-9_]+`(?:(?: / |, )`[a-z0-9_]+`)*) \| (.*?) \| .* \|$", re.M)


def defaults(role: str) -> dict:
    return yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text()) or {}


def options(role: str) -> dict:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())
    return specs["argument_specs"]["main"]["options"]


def readme_rows(role: str) -> dict[str, str | None]:
    """Each variable the README's table names, with its default as written (None: in words)."""
    rows: dict[str, str | None] = {}
    for names, default in ROW.findall((ROOT / "roles" / role / "README.md").read_text()):
        names = re.findall(r"`([^`]*)`", names)
        plain = re.fullmatch(r"`[^`]*`(?:(?: / |, )`[^`]*`)*", default) is not None
        values = re.findall(r"`([^`]*)`", default) if plain else []
        if len(values) == 1:
            values = values * len(names)
        for index, name in enumerate(names):
            assert name not in rows, f"roles/{role}/README.md names {name} twice"
            rows[name] = values[index] if len(values) == len(names) else None
    return rows


def plain(value: object) -> bool:
    return "{{" not in str(value)


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_a_declared_option(role):
    assert set(defaults(role)) <= set(options(role)), set(defaults(role)) - set(options(role))


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_lists_every_option_and_nothing_else(role):
    documented = readme_rows(role)
    assert set(options(role)) - set(documented) == set(), "missing from the README's table"
    assert set(documented) - set(options(role)) == set(), "not an option of the role"


@pytest.mark.parametrize("role", ROLES)
def test_a_plain_default_is_the_same_in_all_three(role):
    declared, documented = options(role), readme_rows(role)
    compared = 0
    for name, value in defaults(role).items():
        if not plain(value):
            continue
        compared += 1
        assert declared[name].get("default") == value, f"{name}: argument_specs says otherwise"
        assert documented[name] is not None, f"{name}: the README gives {value!r} in words"
        written = yaml.safe_load(documented[name] or '""')
        assert written == value, f"{name}: the README says {written!r}"
    assert compared > 0


@pytest.mark.parametrize("role", ROLES)
def test_an_option_without_a_default_is_required_or_described(role):
    for name, spec in options(role).items():
        if name not in defaults(role):
            assert spec.get("required") or spec.get("description"), name
