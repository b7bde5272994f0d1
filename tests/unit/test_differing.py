"""The differing lookup: the one guard of the tasks that write the files the roles manage.

A file is sent only when the host's copy differs; a wrong guard either rewrites a file on
every re-run (and restarts what reads it) or never repairs one changed by hand. So each
case is compared with what found_files makes of a real file's snapshot entry, and the
rendered content with what the template lookup renders.
"""

from __future__ import annotations

import hashlib

import pytest
from ansible.errors import AnsibleError

TEMPLATE = "port = {{ port }}\nside = {{ side | default('database') }}\n"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()  # noqa: S324 - as the snapshot


@pytest.fixture
def given(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "a.conf.j2").write_text(TEMPLATE, encoding="utf-8")
    return {"ansible_search_path": [str(tmp_path)], "port": 5432}


def differing(lookup, given, files, found):
    return lookup("differing", given).run([files], given, found=found)


def test_a_rendered_file_in_place_is_left_and_one_changed_or_missing_is_returned(lookup, given):
    files = [
        {"template": "a.conf.j2", "path": "/etc/a.conf", "mode": "0640"},
        {"template": "a.conf.j2", "path": "/etc/b.conf", "mode": "0640"},
        {"template": "a.conf.j2", "path": "/etc/c.conf", "mode": "0640"},
    ]
    written = sha1("port = 5432\nside = database\n")
    found = {"/etc/a.conf": f"0640 {written}", "/etc/b.conf": f"0640 {sha1('port = 5433')}"}
    assert differing(lookup, given, files, found) == files[1:]


def test_a_mode_or_owner_that_differs_is_a_difference_even_with_the_same_content(lookup, given):
    text = "listen = *\n"
    files = [
        {"content": text, "path": "/etc/x", "mode": "0640", "owner": "root:postgres"},
        {"content": text, "path": "/etc/y", "mode": "0640", "owner": "root:postgres"},
        {"content": text, "path": "/etc/z", "mode": "0644", "owner": "root:root"},
    ]
    found = {
        "/etc/x": f"0640 root:postgres {sha1(text)}",
        "/etc/y": f"0640 root:root {sha1(text)}",
        "/etc/z": f"0600 root:root {sha1(text)}",
    }
    assert differing(lookup, given, files, found) == files[1:]


def test_without_content_only_mode_and_owner_count(lookup, given):
    files = [
        {"path": "/var/lib/data", "mode": "0700", "state": "directory"},
        {"path": "/etc/key", "mode": "0600"},
        {"path": "/etc/cert", "mode": "0644"},
    ]
    # Directories have no checksum: found_files ends their entry with a space.
    found = {"/var/lib/data": "0700 ", "/etc/key": f"0600 {sha1('key')}", "/etc/cert": "0640 0a"}
    assert differing(lookup, given, files, found) == [files[2]]


def test_template_vars_are_rendered_with_the_file(lookup, given):
    files = [{"template": "a.conf.j2", "path": "/etc/r.conf", "mode": "0600",
              "template_vars": {"side": "repository"}}]  # fmt: skip
    found = {"/etc/r.conf": f"0600 {sha1('port = 5432' + chr(10) + 'side = repository' + chr(10))}"}
    assert differing(lookup, given, files, found) == []
    assert differing(lookup, given, files, {}) == files


def test_a_template_sees_its_file_as_item_as_the_loop_renders_it(lookup, given, tmp_path):
    (tmp_path / "templates" / "timer.j2").write_text("kind={{ item.kind }}\n", encoding="utf-8")
    files = [
        {"template": "timer.j2", "path": "/etc/full.timer", "mode": "0644", "kind": "full"},
        {"template": "timer.j2", "path": "/etc/diff.timer", "mode": "0644", "kind": "diff"},
    ]
    found = {"/etc/full.timer": f"0644 {sha1('kind=full' + chr(10))}", "/etc/diff.timer": "0644 0"}
    assert differing(lookup, given, files, found) == [files[1]]


def test_the_digest_is_that_of_what_the_template_lookup_renders(lookup, given):
    file = {"template": "a.conf.j2", "path": "/etc/a.conf", "mode": "0640"}
    text = lookup("ansible.builtin.template", given).run(["a.conf.j2"], given)[0]
    assert differing(lookup, given, [file], {"/etc/a.conf": f"0640 {sha1(text)}"}) == []
    assert differing(lookup, given, [file], {"/etc/a.conf": f"0640 {sha1(text + ' ')}"}) == [file]


def test_a_file_without_a_path_or_mode_is_refused_with_one_sentence_without_its_content(
    lookup, given
):
    key = "-----BEGIN PRIVATE KEY-----secret"
    with pytest.raises(AnsibleError, match="mappings with a path and a mode") as refused:
        differing(lookup, given, [{"path": "/etc/a", "content": key}], {})
    assert "secret" not in str(refused.value)
    assert "['content', 'path']" in str(refused.value)


def test_rendered_gives_each_differing_file_as_managed_files_takes_it(lookup, given):
    files = [
        {"template": "a.conf.j2", "path": "/etc/a.conf", "mode": "0640", "kind": "full"},
        {"content": "x\n", "path": "/etc/b.conf", "mode": "0600", "owner": "root:postgres"},
        {"path": "/var/lib/spool", "mode": "0750", "state": "directory"},
        {"path": "/etc/in-place", "mode": "0640"},
    ]
    found = {"/etc/in-place": "0640 "}
    written = lookup("differing", given).run(
        [files], given, found=found, rendered=True, owner="postgres:postgres"
    )
    assert written == [
        {
            "path": "/etc/a.conf",
            "mode": "0640",
            "owner": "postgres",
            "group": "postgres",
            "content": "port = 5432\nside = database\n",
        },
        {
            "path": "/etc/b.conf",
            "mode": "0600",
            "owner": "root",
            "group": "postgres",
            "content": "x\n",
        },
        {
            "path": "/var/lib/spool",
            "mode": "0750",
            "owner": "postgres",
            "group": "postgres",
            "state": "directory",
        },
    ]
