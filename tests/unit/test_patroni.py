"""The Patroni cluster's dynamic settings compared with the inventory's (dcs_patch), and
the replica a leader hands its role to (switchover_candidate)."""

from __future__ import annotations

from ansible_collections.backend_db.postgresql.plugins.module_utils.patroni import (
    dcs_patch,
    switchover_candidate,
)

DESIRED = {
    "ttl": 20,
    "synchronous_mode": True,
    "postgresql": {
        "use_pg_rewind": True,
        "parameters": {"max_connections": 100, "hot_standby": "on"},
    },
}


def test_settings_the_cluster_holds_alike_are_left_out_whatever_their_json_type():
    current = {
        "ttl": "20",
        "synchronous_mode": True,
        "postgresql": {
            "use_pg_rewind": True,
            "parameters": {"max_connections": 100, "hot_standby": "ON"},
        },
        "check_timeline": True,
    }
    assert dcs_patch(current, DESIRED) == {}


def test_only_what_differs_or_is_missing_is_sent_nested_as_the_inventory_gives_it():
    current = {
        "ttl": 30,
        "synchronous_mode": False,
        "postgresql": {"parameters": {"max_connections": 100}},
    }
    assert dcs_patch(current, DESIRED) == {
        "ttl": 20,
        "synchronous_mode": True,
        "postgresql": {"use_pg_rewind": True, "parameters": {"hot_standby": "on"}},
    }


def test_a_cluster_that_answered_nothing_gets_every_setting():
    assert dcs_patch(None, DESIRED) == DESIRED
    assert (
        dcs_patch({"postgresql": "not a mapping"}, DESIRED)["postgresql"] == DESIRED["postgresql"]
    )


def listed(*rows: tuple[str, str, str]) -> list[dict]:
    """Members as `patronictl list --format json` gives them: (member, role, state)."""
    return [{"Member": name, "Role": role, "State": state, "TL": 5} for name, role, state in rows]


def test_the_leader_hands_over_to_its_synchronous_standby_before_any_other_replica():
    members = listed(
        ("db1", "Leader", "running"),
        ("db2", "Replica", "streaming"),
        ("db3", "Sync Standby", "streaming"),
    )
    assert switchover_candidate(members, "db1", True) == "db3"
    assert switchover_candidate(members, "db1", False) == "db3"


def test_in_synchronous_mode_a_plain_replica_is_never_the_candidate_while_the_standby_is_away():
    # The synchronous standby has just restarted: Patroni lists it not at all, or not yet
    # as synchronous, for a few cycles, and refuses a switchover to the other replica
    # (412, "candidate name does not match with sync_standby"): the leader waits.
    away = listed(("db1", "Leader", "running"), ("db3", "Replica", "streaming"))
    assert switchover_candidate(away, "db1", True) == ""
    back = listed(
        ("db1", "Leader", "running"), ("db2", "Replica", "running"), ("db3", "Replica", "streaming")
    )
    assert switchover_candidate(back, "db1", True) == ""
    starting = listed(("db1", "Leader", "running"), ("db2", "Sync Standby", "starting"))
    assert switchover_candidate(starting, "db1", True) == ""


def test_without_synchronous_mode_any_running_replica_takes_over():
    members = listed(
        ("db1", "Leader", "running"), ("db2", "Replica", "stopped"), ("db3", "Replica", "streaming")
    )
    assert switchover_candidate(members, "db1", False) == "db3"
    assert switchover_candidate(listed(("db1", "Leader", "running")), "db1", False) == ""


def test_a_listing_patroni_could_not_give_names_no_candidate():
    assert switchover_candidate(None, "db1", True) == ""
    assert switchover_candidate([{"Role": "Sync Standby"}, "db2"], "db1", True) == ""
