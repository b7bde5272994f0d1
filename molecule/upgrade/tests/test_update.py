"""playbooks/update.yml on a single server: checked, then run, restarting the server once
and leaving nothing for the next converge (the cluster's rolling update is the `ha`
scenario's drill)."""

from __future__ import annotations

import testinfra

from devtools.container import molecule_playbook, psql_query
from devtools.waits import changed_tasks, printed

NAME = "backend-db-upgrade-13"
RESTART = "PostgreSQL restarts on the new binaries (or as asked)"


def test_an_update_of_a_single_server_restarts_it_once_and_the_next_converge_changes_nothing(
    converge, new_revision
):
    query = psql_query(testinfra.get_host(f"podman://{NAME}"))
    started = query("SELECT pg_postmaster_start_time()")

    checked = molecule_playbook(
        "playbooks/update.yml", "--limit", NAME, "--check", "-e", "update_restart=true"
    )
    assert checked.returncode == 0, printed(checked)
    assert any(RESTART in task for task in changed_tasks(checked.stdout)), printed(checked)
    assert query("SELECT pg_postmaster_start_time()") == started

    updated = molecule_playbook(
        "playbooks/update.yml", "--limit", NAME, "-e", "update_restart=true"
    )
    assert updated.returncode == 0, printed(updated)
    restarts = [task for task in changed_tasks(updated.stdout) if RESTART in task]
    assert len(restarts) == 1, printed(updated)
    assert query("SELECT pg_postmaster_start_time()") != started
    assert query("SELECT version_num FROM alembic_version") == [(new_revision,)]

    # Nothing newer on offer now: without update_restart the server is left running.
    again = molecule_playbook("playbooks/update.yml", "--limit", NAME)
    assert again.returncode == 0, printed(again)
    assert changed_tasks(again.stdout) == [], printed(again)

    converged = converge(NAME)
    assert converged.returncode == 0, printed(converged)
    assert changed_tasks(converged.stdout) == [], printed(converged)
