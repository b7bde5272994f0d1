"""Each role's variables are stated once by hand, and its README's table follows.

defaults/main.yml gives the value a run uses; meta/argument_specs.yml what Ansible checks
and `ansible-doc -t role` shows (type, meaning, and the default again, which Ansible
documents but does not apply); the README's table is written from those two by `make docs`
(devtools/role_docs.py). These tests hold the declarations to the defaults and the README
to what `make docs` writes.
"""

from __future__ import annotations

import pytest
import yaml

from devtools import role_docs
from devtools.paths import ROOT

ROLES = role_docs.roles()


def defaults(role: str) -> dict:
    return yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text()) or {}


def plain(value: object) -> bool:
    return "{{" not in str(value)


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_a_declared_option(role):
    declared = set(role_docs.role_options(role))
    assert set(defaults(role)) <= declared, set(defaults(role)) - declared


@pytest.mark.parametrize("role", ROLES)
def test_a_plain_default_is_declared_with_the_same_value(role):
    declared = role_docs.role_options(role)
    compared = 0
    for name, value in defaults(role).items():
        if not plain(value):
            continue
        compared += 1
        assert declared[name].get("default") == value, f"{name}: argument_specs says otherwise"
    assert compared > 0


@pytest.mark.parametrize("role", ROLES)
def test_every_option_means_something_and_a_computed_one_says_how(role):
    for name, spec in role_docs.role_options(role).items():
        assert role_docs.meaning(spec), f"{name} has no description"
        cell = role_docs.default_cell(spec, defaults(role), name)
        if cell.startswith("computed"):
            assert any(word in role_docs.meaning(spec).lower() for word in ("unset", "default")), (
                f"{name}: its description must say what it is when unset"
            )


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_table_is_written_from_the_declarations(role):
    now, wanted = role_docs.written(role)
    assert now == wanted, f"roles/{role}/README.md: run `make docs`"


def test_a_table_edited_by_hand_is_found_and_written_back(tmp_path, monkeypatch):
    role = tmp_path / "roles" / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "meta/argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n"
        "      demo_port: {type: int, default: 5432, description: The port.}\n"
        "      demo_name: {type: str, description: 'Unset, the host | its name.'}\n"
        "      demo_secret: {type: str, required: true, description: A secret.}\n"
    )
    (role / "defaults/main.yml").write_text(
        "demo_port: 5432\ndemo_name: '{{ inventory_hostname }}'\n"
    )
    readme = role / "README.md"
    readme.write_text("# demo\n\n## Variables\n\n| Variable | Default | Meaning |\n|---|---|---|\n"
                      "| `demo_port` | `5433` | Edited by hand. |\n\nMore text.\n")  # fmt: skip
    monkeypatch.setattr(role_docs, "ROOT", tmp_path)
    assert role_docs.main(["--check"]) == 1
    assert "Edited by hand" in readme.read_text()
    assert role_docs.main([]) == 0
    assert role_docs.main(["--check"]) == 0
    text = readme.read_text()
    assert "| `demo_port` | `5432` | The port. |" in text
    assert "| `demo_name` | computed (see its meaning) | Unset, the host \\| its name. |" in text
    assert "| `demo_secret` | required | A secret. |" in text
    assert text.endswith(f"{role_docs.END}\n\nMore text.\n")
