"""The rendered lookup: ansible.builtin.template's output, without a deep copy of the variables.

The roles compare the digest of what it renders with the digest of the file on the host,
which the template module wrote: one character of difference and every re-run would
rewrite the file. So its output is held equal to the template lookup's own, on a
template that uses what the roles' templates use (trimmed blocks, loops, nested
values, a trailing newline).
"""

from __future__ import annotations

import copy
import re

import pytest

from devtools.paths import ROOT

TEMPLATE = """# {{ ansible_managed | default('managed') }}
{% for name, value in settings.items() %}
{{ name }} = '{{ value }}'
{% endfor %}
{% if hosts %}
hosts = {{ hosts | join(',') }}
{% endif %}
nested = {{ deep.a.b[1] }}
"""


class NoDeepCopy:
    """A value a deep copy cannot take: any deep copy of the variables fails on it."""

    def __deepcopy__(self, memo):
        raise AssertionError("deep-copied")


def variables(search_path: str) -> dict:
    return {
        "ansible_search_path": [search_path],
        "settings": {"port": 5432, "listen_addresses": "localhost"},
        "hosts": ["db1", "db2"],
        "deep": {"a": {"b": ["x", "y"]}},
    }


@pytest.fixture
def role(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.conf.j2").write_text(TEMPLATE, encoding="utf-8")
    return tmp_path


def test_it_renders_what_the_template_lookup_renders(lookup, role):
    given = variables(str(role))
    ours = lookup("rendered", given).run(["t.conf.j2"], given)
    theirs = lookup("ansible.builtin.template", given).run(["t.conf.j2"], given)
    assert ours == theirs
    assert ours[0].endswith("nested = y\n") and "port = '5432'\n" in ours[0]


def test_it_leaves_the_variables_as_they_were_and_deep_copies_none(lookup, role):
    given = variables(str(role)) | {"unrelated": NoDeepCopy()}
    before = copy.copy(given)
    nested = copy.deepcopy({k: v for k, v in given.items() if k != "unrelated"})
    with pytest.raises(Exception, match="deep-copied"):
        lookup("ansible.builtin.template", given).run(["t.conf.j2"], given)
    assert lookup("rendered", given).run(["t.conf.j2"], given)[0].startswith("# ")
    assert given == before
    assert {k: v for k, v in given.items() if k != "unrelated"} == nested


def test_template_vars_reach_the_template(lookup, role):
    (role / "templates" / "side.j2").write_text("side={{ side }}\n", encoding="utf-8")
    given = variables(str(role))
    found = lookup("rendered", given).run(["side.j2"], given, template_vars={"side": "repository"})
    assert found == ["side=repository\n"]


def test_every_template_the_roles_compare_is_one_of_theirs():
    """Each name the roles render to compare (with the rendered lookup, or as a file's
    template for the differing lookup) names a template of the role it is in."""
    for path in sorted((ROOT / "roles").glob("*/*/*.yml")):
        role_dir = path.parent.parent
        text = path.read_text(encoding="utf-8")
        names = re.findall(r"rendered', '([^']+)'|'template': '([^']+)'", text)
        for name in filter(None, sum(names, ())):
            assert (role_dir / "templates" / name).is_file(), f"{path}: {name}"
