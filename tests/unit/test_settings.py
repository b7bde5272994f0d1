"""Which settings a new drop-in changes (the filter changed_settings), as a check run asks
before it says which servers a real run would restart."""

from __future__ import annotations

IN_FORCE = """# Settings of backend-db's postgresql role.
listen_addresses = 'localhost'
port = 5432
max_connections = 100
shared_buffers = 256MB
log_line_prefix = '%m [%p] %q%u@%d '
application_name = 'o''brien'   # a comment
"""


def changed(template, in_force: str, wanted: str) -> list:
    return template(
        "{{ in_force | backend_db.postgresql.changed_settings(wanted) }}",
        {"in_force": in_force, "wanted": wanted},
    )


def test_the_same_file_changes_nothing(template):
    assert changed(template, IN_FORCE, IN_FORCE) == []


def test_a_value_changed_added_or_taken_out_is_named_once(template):
    wanted = (
        IN_FORCE.replace("max_connections = 100", "max_connections = 200")
        .replace("shared_buffers = 256MB\n", "")
        .replace("application_name = 'o''brien'", "APPLICATION_NAME = 'o''brien'")
        + "max_locks_per_transaction = 128\n"
    )
    assert changed(template, IN_FORCE, wanted) == [
        "max_connections", "max_locks_per_transaction", "shared_buffers"
    ]  # fmt: skip


def test_a_comment_or_its_spacing_changes_nothing_but_a_quoted_value_does(template):
    wanted = IN_FORCE.replace("# a comment", "# another").replace("port = 5432", "port=5432")
    assert changed(template, IN_FORCE, wanted) == []
    quoted = IN_FORCE.replace("'%m [%p] %q%u@%d '", "'%m [%p] '")
    assert changed(template, IN_FORCE, quoted) == ["log_line_prefix"]


def test_no_file_in_force_changes_every_setting(template):
    assert len(changed(template, "", IN_FORCE)) == 6
