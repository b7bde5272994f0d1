"""The monitoring role's filters: the alert rules with the inventory's durations, and the
exporters Prometheus scrapes, from the inventory's hosts."""

from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.backend_db.postgresql.plugins.filter.monitoring import (
    alert_names,
    alert_rules,
    host_port,
    scrape_jobs,
)
from devtools.paths import ROOT

TEXT = (ROOT / "roles/monitoring/files/alerts.yml").read_text()
EXPORTER_DEFAULTS = yaml.safe_load((ROOT / "roles/exporters/defaults/main.yml").read_text())


def durations(text: str) -> dict[str, str]:
    rules = yaml.safe_load(text)["groups"]
    return {rule["alert"]: rule["for"] for group in rules for rule in group["rules"]}


def test_the_named_alerts_get_the_inventorys_durations_and_the_others_keep_theirs():
    shipped = durations(TEXT)
    given = alert_rules(TEXT, {"BackendDbPostgresDown": "15s", "BackendDbBackupFailed": "2m"})
    assert durations(given) == shipped | {
        "BackendDbPostgresDown": "15s",
        "BackendDbBackupFailed": "2m",
    }
    # Everything else is the rule file's: expressions, labels, annotations, groups.
    assert yaml.safe_load(alert_rules(TEXT, {})) == yaml.safe_load(TEXT)


def test_a_duration_for_an_alert_the_file_does_not_have_is_refused():
    with pytest.raises(AnsibleFilterError, match="no alert named BackendDbNoSuchAlert"):
        alert_rules(TEXT, {"BackendDbNoSuchAlert": "1m"})


def test_the_names_are_the_files_alerts_in_order():
    names = alert_names(TEXT)
    assert names[0] == "BackendDbExporterDown" and "BackendDbBackupFailed" in names
    assert len(names) == len(set(names)) == TEXT.count("- alert: ")


def test_each_server_with_exporters_is_scraped_at_its_address_and_ports():
    hostvars = {
        "db1": {"backend_exporters_enabled": True, "monitoring_address": "10.0.0.1"},
        "db2": {"backend_exporters_enabled": "true", "exporters_node_enabled": False,
                "exporters_postgres_port": 9200},
        "db3": {},
        "db4": {"backend_exporters_enabled": True, "monitoring_address": "fd00::4"},
    }  # fmt: skip
    defaults = EXPORTER_DEFAULTS | {"backend_exporters_enabled": False}
    jobs = scrape_jobs(["db1", "db2", "db3", "db4"], hostvars, defaults)
    assert jobs == [
        {"name": "backend_db_postgres", "targets": ["10.0.0.1:9187", "db2:9200", "[fd00::4]:9187"]},
        {"name": "backend_db_node", "targets": ["10.0.0.1:9100", "[fd00::4]:9100"]},
        # The PostgreSQL exporter's certificate is the server's (a copy), probed for its expiry.
        {"name": "backend_db_tls", "probe": "backend_db_tls",
         "targets": ["10.0.0.1:9187", "db2:9200", "[fd00::4]:9187"]},
    ]  # fmt: skip
    # The inventory's default for every host turns them on where a host says nothing.
    on = scrape_jobs(["db3"], hostvars, EXPORTER_DEFAULTS | {"backend_exporters_enabled": True})
    assert [job["targets"] for job in on] == [["db3:9187"], ["db3:9100"], ["db3:9187"]]
    assert scrape_jobs([], hostvars, defaults) == []


def test_patroni_is_scraped_on_the_members_of_a_declared_cluster_exporters_or_not():
    hostvars = {
        "db1": {"monitoring_address": "10.0.0.1"},
        "db2": {"patroni_restapi_port": 8443},
        "db3": {"backend_exporters_enabled": True},
    }
    defaults = EXPORTER_DEFAULTS | {
        "backend_exporters_enabled": False,
        "patroni_restapi_port": 8008,
    }
    defaults |= {"patroni_etcd_group": "etcd", "patroni_etcd_client_port": 2379}
    jobs = scrape_jobs(["db1", "db2", "db3"], hostvars, defaults, members=["db1", "db2"])
    assert jobs == [
        {"name": "backend_db_postgres", "targets": ["db3:9187"]},
        {"name": "backend_db_node", "targets": ["db3:9100"]},
        {"name": "backend_db_patroni", "targets": ["10.0.0.1:8008", "db2:8443"]},
        # etcd on the members themselves, with no etcd group in the inventory.
        {"name": "backend_db_etcd", "targets": ["10.0.0.1:2379", "db2:2379"]},
        # Patroni presents the server's certificate itself, etcd its copy: each is probed.
        {"name": "backend_db_tls", "probe": "backend_db_tls",
         "targets": ["10.0.0.1:8008", "10.0.0.1:2379", "db2:8443", "db2:2379", "db3:9187"]},
    ]  # fmt: skip


def test_etcd_is_scraped_on_the_hosts_of_the_clusters_etcd_group_once_each():
    hostvars = {"db1": {}, "db2": {}, "e1": {"monitoring_address": "fd00::7"}, "e2": {}}
    defaults = EXPORTER_DEFAULTS | {
        "backend_exporters_enabled": False, "patroni_restapi_port": 8008,
        "patroni_etcd_group": "etcd", "patroni_etcd_client_port": 2379,
    }  # fmt: skip
    groups = {"etcd": ["e1", "e2"], "payments": ["db1", "db2"]}
    jobs = {job["name"]: job["targets"] for job in
            scrape_jobs(["db1", "db2"], hostvars, defaults, ["db1", "db2"], groups)}  # fmt: skip
    assert jobs["backend_db_etcd"] == ["[fd00::7]:2379", "e2:2379"]
    assert jobs["backend_db_tls"] == ["db1:8008", "[fd00::7]:2379", "e2:2379", "db2:8008"]


def test_haproxy_is_scraped_in_plain_http_where_an_application_host_serves_its_statistics():
    hostvars = {
        "app1": {"haproxy_cluster": "payments", "monitoring_address": "10.0.0.8"},
        "app2": {"haproxy_cluster": "payments", "haproxy_metrics_address": "fd00::9",
                 "monitoring_address": "10.0.0.9", "haproxy_metrics_port": 9405},
        # No address for its statistics, or no cluster to serve: nothing to scrape.
        "app3": {"haproxy_cluster": "payments", "haproxy_metrics_address": ""},
        "app4": {"monitoring_address": "10.0.0.10"},
        "app5": {"haproxy_cluster": "payments"},
    }  # fmt: skip
    defaults = EXPORTER_DEFAULTS | {
        "backend_exporters_enabled": False,
        "haproxy_metrics_port": 8405,
    }
    jobs = scrape_jobs([], hostvars, defaults, proxies=["app1", "app2", "app3", "app4", "app5"])
    assert jobs == [
        {"name": "backend_db_haproxy", "targets": ["10.0.0.8:8405", "[fd00::9]:9405"],
         "scheme": "http"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    "address, port, expected",
    [("10.0.0.1", 9187, "10.0.0.1:9187"), ("fd00::4", "9100", "[fd00::4]:9100"),
     ("", 9187, ":9187"), (None, 9090, ":9090"), ("db1.example.org", 8008, "db1.example.org:8008")],
)  # fmt: skip
def test_an_address_and_a_port_are_joined_an_ipv6_address_in_brackets(address, port, expected):
    assert host_port(address, port) == expected


def test_a_repository_hosts_node_exporter_is_scraped_once_in_plain_http():
    """Where the backups run on a repository host, their metrics and units' state are
    served by its node exporter (the backup role's): once for every server it keeps."""
    on = {"backend_exporters_enabled": True, "backup_repo_host": "repo1"}
    hostvars = {
        "db1": on,
        "db2": on,
        "db3": on | {"backup_repo_host": "repo2", "backup_repo_exporter_address": "10.0.0.20"},
        # Backups off, metrics off, or no address for the repository host's exporter.
        "db4": on | {"backup_repo_host": "repo2", "backup_enabled": False},
        "db5": on | {"backup_repo_host": "repo2", "backup_metrics_dir": ""},
        "db6": on | {"backup_repo_host": "repo3"},
        "repo1": {"monitoring_address": "10.0.0.10"},
        "repo2": {"monitoring_address": "10.0.0.11"},
        "repo3": {},
    }
    defaults = EXPORTER_DEFAULTS | {"backup_enabled": True, "backup_repo_exporter_port": 9100}
    jobs = scrape_jobs([f"db{n}" for n in range(1, 7)], hostvars, defaults)
    assert jobs[-1] == {
        "name": "backend_db_repository",
        "targets": ["10.0.0.10:9100", "10.0.0.20:9100"],
        "scheme": "http",
    }
    # A repository host that is one of the scraped servers is scraped as one of them.
    both = scrape_jobs(["db1", "repo1"], hostvars, defaults)
    assert "backend_db_repository" not in [job["name"] for job in both]
