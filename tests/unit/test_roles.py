"""Static guarantees of the roles, read from their YAML."""

from __future__ import annotations

import re

import yaml
from ansible.playbook.task import Task

from devtools.paths import ROOT

DESTRUCTIVE_WITH_STATE = {
    "community.postgresql.postgresql_db",
    "community.postgresql.postgresql_user",
    "community.postgresql.postgresql_table",
    "community.postgresql.postgresql_schema",
    "community.postgresql.postgresql_owner",
}
MIGRATE = "backend_db.postgresql.alembic_migrate"
RUNS_SQL = {
    "community.postgresql.postgresql_query",
    "community.postgresql.postgresql_script",
    "ansible.builtin.command",
    "ansible.builtin.shell",
}


def tasks(node):
    """Every task in a task file, blocks included."""
    for task in node or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks(task.get(key))


def role_tasks():
    for path in sorted((ROOT / "roles").glob("*/*/*.yml")):
        if path.parent.name in ("tasks", "handlers"):
            for task in tasks(yaml.safe_load(path.read_text())):
                yield path.relative_to(ROOT), task


def test_no_role_task_can_drop_a_database_role_or_table():
    checked = 0
    for path, task in role_tasks():
        for module in DESTRUCTIVE_WITH_STATE & task.keys():
            checked += 1
            assert task[module].get("state", "present") == "present", (path, task["name"])
        for module in RUNS_SQL & task.keys():
            text = str(task[module]).upper()
            assert "DROP " not in text and "DROPDB" not in text, (path, task["name"])
            assert "PG_DROPCLUSTER" not in text, (path, task["name"])
    assert checked >= 3


def migrate_calls(node, defaults=None):
    """Each alembic_migrate task's options, the enclosing block's module_defaults first."""
    for task in node or []:
        block_defaults = task.get("module_defaults", {}).get(MIGRATE, {})
        inherited = {**(defaults or {}), **block_defaults}
        if MIGRATE in task:
            yield {**inherited, **(task[MIGRATE] or {})}
        for key in ("block", "rescue", "always"):
            yield from migrate_calls(task.get(key), inherited)


def test_downgrades_happen_only_when_a_variable_asks_for_them():
    defaults = yaml.safe_load((ROOT / "roles/migrations/defaults/main.yml").read_text())
    assert defaults["migrations_allow_downgrade"] is False
    calls = [
        options
        for path in sorted((ROOT / "roles").glob("*/tasks/*.yml"))
        for options in migrate_calls(yaml.safe_load(path.read_text()))
    ]
    # The real run, and the check that comes before a backup (migrations_backup_before).
    assert len(calls) == 2
    for options in calls:
        assert options["allow_downgrade"] == "{{ migrations_allow_downgrade }}"


def test_every_module_is_called_by_its_full_collection_name():
    # The project's own modules too: backend_db.postgresql.alembic_migrate, as a user's
    # play calls them.
    # Every task keyword Ansible knows (and those of a block): what is left is the module.
    keywords = set(Task.fattributes) | {"block", "rescue", "always", "listen"}
    for path, task in role_tasks():
        modules = set(task) - keywords
        if "block" in task:
            continue
        assert len(modules) == 1, (path, task.get("name"), modules)
        (module,) = modules
        assert module.count(".") >= 2, (path, module)


# The modules a role delegates to another host: none of them returns facts of that host.
SETS_FACTS = {"ansible.builtin.set_fact", "ansible.builtin.setup", "ansible.builtin.include_vars"}


def test_a_module_run_on_another_host_records_the_python_found_there_for_that_host():
    # Without delegate_facts, Ansible keeps the Python it finds on the host a task is
    # delegated to for nothing: each such task, and the host's own first one, looked for it
    # again, at one command on the host each (docs/performance.md, section 22).
    keywords = set(Task.fattributes) | {"block", "rescue", "always", "listen"}
    delegated = 0
    for path, task in role_tasks():
        if "block" in task or task.get("delegate_to", "localhost") == "localhost":
            continue
        (module,) = set(task) - keywords
        delegated += 1
        assert module not in SETS_FACTS, (path, task["name"])
        assert task.get("delegate_facts") is True, (path, task["name"])
    assert delegated >= 10


# A role's own variables: `__<role>_...`, its private names (vars/main.yml, set_fact).
ROLES = sorted(path.name for path in (ROOT / "roles").iterdir() if path.is_dir())
PRIVATE = re.compile(r"\b__(" + "|".join(sorted(ROLES, key=len, reverse=True)) + r")_\w+")


def test_no_role_or_playbook_reads_another_roles_private_variables():
    """The roles' contract: what one role needs of another it reads from what that role
    publishes (postgresql_server, backup_snapshot, patroni_snapshot: each README's "What
    the role publishes"), never from its `__` variables, which it may rename at will."""
    shipped = [*ROOT.glob("roles/**/*"), *ROOT.glob("playbooks/**/*"), ROOT / "site.yml"]
    found = []
    for path in sorted(path for path in shipped if path.is_file()):
        relative = path.relative_to(ROOT)
        owner = relative.parts[1] if relative.parts[0] == "roles" else None
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found += [
                f"{relative}:{number}: {match.group(0)}"
                for match in PRIVATE.finditer(line)
                if match.group(1) != owner
            ]
    assert not found, "\n".join(found)


def entry_points_called() -> set[tuple[str, str]]:
    """(role, entry point) of every include_role or import_role with tasks_from in the roles
    and playbooks."""
    called = set()
    for path in [*ROOT.glob("roles/*/tasks/*.yml"), *ROOT.glob("playbooks/*.yml")]:
        for play_or_task in yaml.safe_load(path.read_text()) or []:
            for node in tasks(play_or_task.get("pre_tasks", []) + play_or_task.get("tasks", [])
                              + play_or_task.get("post_tasks", []) + [play_or_task]):  # fmt: skip
                for key in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
                    action = node.get(key)
                    if isinstance(action, dict) and "tasks_from" in action:
                        called.add((action["name"].split(".")[-1], action["tasks_from"]))
    return called


def test_every_entry_point_called_with_tasks_from_has_an_argument_spec():
    """`ansible-doc -t role` lists each, and Ansible checks the variables it documents when
    it is included."""
    called = entry_points_called()
    assert ("backup", "backup_now") in called and ("patroni", "leader") in called
    missing = []
    for role, entry_point in sorted(called):
        specs = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())
        if entry_point not in specs["argument_specs"]:
            missing.append(f"{role}: {entry_point}")
    assert not missing, missing


def gated_tasks(role: str, name: str):
    """The tasks of a role's task file, with those of the files it imports (not those of
    the files it includes: each include is a task with a condition of its own)."""
    for task in tasks(yaml.safe_load((ROOT / "roles" / role / "tasks" / name).read_text())):
        imported = task.get("ansible.builtin.import_tasks")
        if imported:
            yield from gated_tasks(role, imported)
        else:
            yield task


# A role's work that a re-run skips as one task (an include whose condition is
# __<role>_converge_needed) must run each of its tasks on a condition that condition
# holds: a task left out of it would never run on a host that needs only it. So each
# task's condition (its `when`, or the list it loops over) is a variable of the role that
# __<role>_converge_needed names, except in the tasks that act only on what an earlier
# task of the file did: those name that task's result.
GATES = {
    "postgresql": ("converge.yml", {"postgresql_config_written", "postgresql_cluster_status"}),
    "backup": ("converge.yml", set()),
}


def test_a_role_skips_its_work_as_one_task_only_when_no_task_of_it_would_run():
    for role, (name, internal) in GATES.items():
        needs = re.compile(rf"\b__{role}_\w+")
        main = yaml.safe_load((ROOT / "roles" / role / "tasks" / "main.yml").read_text())
        gate = next(task for task in main if task.get("ansible.builtin.include_tasks") == name)
        assert gate["when"] == f"__{role}_converge_needed", gate
        role_vars = yaml.safe_load((ROOT / "roles" / role / "vars" / "main.yml").read_text())
        in_gate = set(needs.findall(role_vars[f"__{role}_converge_needed"]))
        named = set()
        for task in gated_tasks(role, name):
            conditions = str(task.get("when", "")) + str(task.get("loop", ""))
            if any(register in conditions for register in internal):
                continue
            found = set(needs.findall(conditions))
            assert found, task["name"]
            named |= found
        assert named == in_gate, (named - in_gate, in_gate - named)
        # Every name is a variable of the role.
        assert in_gate <= role_vars.keys(), in_gate - role_vars.keys()
