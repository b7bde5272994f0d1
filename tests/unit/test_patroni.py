"""The Patroni cluster's dynamic settings compared with the inventory's (dcs_patch)."""

from __future__ import annotations

from ansible_collections.backend_db.postgresql.plugins.module_utils.patroni import dcs_patch

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
