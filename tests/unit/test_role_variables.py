"""Every role's every variable, tried with a line break, a quote and an out-of-range value.

The variables come from each role's argument specs, as the roles' validation reads them
(the role_variables lookup), so a variable added to a role is tried here without being
listed: the class of mistake is refused, not the instances someone thought of. Each bad
value must be refused in one sentence that names the variable.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleError
from ansible.template import trust_as_template

from ansible_collections.backend_db.postgresql.plugins.filter.monitoring import alert_names
from ansible_collections.backend_db.postgresql.plugins.filter.validation import variable_errors
from ansible_collections.backend_db.postgresql.plugins.lookup.role_variables import (
    dependencies,
    option_names,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.validation import shown
from devtools.paths import ROOT
from devtools.role_docs import resolved_defaults, role_options

PASSWORD = "Pw0rd-that-is-long-enough-1234"
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def real_certificate() -> str:
    """A self-signed certificate, for the variables whose checks parse it."""
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-subj", "/CN=backend-db test CA", "-days", "1",
             "-keyout", f"{directory}/ca.key", "-out", f"{directory}/ca.crt"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return Path(directory, "ca.crt").read_text()


# What a run gives the variables whose defaults are templates (or that have none).
RUN_VALUES = {
    "postgresql": {
        "postgresql_client_databases": ["backend"],
        "postgresql_client_roles": ["backend_owner", "backend_app"],
        "postgresql_ca_dir": "/srv/inventory/.secrets/ca",
        # As playbooks/server.yml passes them: the server's major as {version}.
        "postgresql_snapshot_extra_paths": ["/etc/postgresql/{version}/main/conf.d/60-backup.conf"],
        "postgresql_snapshot_extra_reads": ["/etc/pgbouncer/pgbouncer.ini"],
    },
    "app_database": {
        "app_database_owner_password": PASSWORD,
        "app_database_app_password": PASSWORD + "x",
        "app_database_login_port": 5432,
    },
    "backup": {
        "backup_stanza": "main",
        "backup_repo_host_address": "",
        "backup_pg_host_address": "db1",
        "backup_repo_cipher_pass": PASSWORD,
        "backup_metrics_dir": "",
        "backup_repo_exporter_address": "",
    },
    "migrations": {
        "migrations_project_dir": "/srv/backend-db",
        "migrations_source_dir": "/srv/backend-db",
        "migrations_ca_cert_path": "/etc/backend-db/ca.crt",
        "migrations_ca_certificate": "",
        "migrations_login_port": 5432,
        "migrations_login_db": "backend",
        "migrations_login_user": "backend_owner",
        "migrations_login_password": PASSWORD,
        "migrations_run_on": "db1",
    },
    "haproxy": {
        "haproxy_cluster": "pg",
        "haproxy_ca_certificate": "",
        "haproxy_member_port": 6432,
        "haproxy_metrics_address": "",
    },
    "pgbouncer": {
        "pgbouncer_port": 6432,
        "pgbouncer_listen_addresses": ["localhost"],
        "pgbouncer_databases": ["backend"],
        "pgbouncer_client_networks": ["10.0.0.0/24"],
        "pgbouncer_client_roles": ["backend_owner", "backend_app"],
        "pgbouncer_max_user_connections": 50,
        "pgbouncer_metrics_dir": "/var/lib/prometheus/node-exporter",
    },
    "exporters": {},
    "monitoring": {"monitoring_ca_certificate": real_certificate()},
    "patroni": {
        "patroni_address": "10.0.0.5",
        "patroni_secrets_dir": "/srv/inventory/.secrets/patroni",
        **{
            f"patroni_{name}_password": PASSWORD
            for name in ("replication", "rewind", "restapi", "etcd_root", "etcd")
        },
    },
}
# The shared role's value whose default is a template, as a run gives it.
SHARED_RUN_VALUES = {"backend_secrets_dir": "/srv/inventory/.secrets"}
CONTEXTS = {
    "postgresql": {},
    "app_database": {"offered_extensions": ["pg_stat_statements", "pgcrypto"]},
    "backup": {
        "host": "db1",
        "inventory": ["db1", "db2", "backup1"],
        "play_hosts": ["db1"],
        "cluster": "",
        "members": ["db1"],
        "hostvars": {},
    },
    "migrations": {"play_hosts": ["db1"]},
    "haproxy": {"clusters": ["pg"], "groups": {"pg": ["db1", "db2", "db3"]}},
    "pgbouncer": {"postgresql_port": 5432},
    "exporters": {"taken_ports": {"backend_postgresql_port": 5432, "backend_pgbouncer_port": 6432}},
    "monitoring": {
        "alerts": alert_names((ROOT / "roles/monitoring/files/alerts.yml").read_text()),
        "groups": {"all": ["db1", "mon1"], "dbservers": ["db1"], "monitoring": ["mon1"]},
        "hostvars": {"db1": {"monitoring_address": "10.0.0.5"}, "mon1": {}},
    },
    "patroni": {},
}
# Variables in which a quote is allowed, and why: nothing writes them where it could
# end a quoted value or a name.
SECRETS = {
    "app_database_owner_password", "app_database_app_password", "app_database_monitor_password",
    "backup_repo_cipher_pass", "migrations_login_password",
    "patroni_replication_password", "patroni_rewind_password", "patroni_restapi_password",
    "patroni_etcd_root_password", "patroni_etcd_password", "patroni_etcd_root_password_previous",
    "postgresql_ssl_private_key", "postgresql_ca_private_key",
}  # fmt: skip
QUOTE_ALLOWED = SECRETS - {"postgresql_ssl_private_key", "postgresql_ca_private_key"} | {
    # Secrets: SCRAM verifiers, INI values and YAML strings carry any printable character.
    # Directories on the controller, which no file on a host holds.
    "postgresql_ca_dir", "migrations_project_dir", "migrations_source_dir",
    "migrations_sql_review_dir", "patroni_secrets_dir", "backend_secrets_dir",
}  # fmt: skip


def spec_of(role: str, name: str) -> dict:
    """A variable's spec, in the role's own argument specs or the shared role's."""
    return (role_options("shared") | role_options(role))[name]


def names(role: str) -> list:
    """The role's variables as the role_variables lookup reads them: its own and those of
    the roles it depends on (the shared role's)."""
    path = str(ROOT / "roles" / role)
    return option_names(path) + [name for dep in dependencies(path) for name in option_names(dep)]


def valid(role: str) -> dict:
    defaults = resolved_defaults(role)
    values = {name: defaults.get(name) for name in names(role)}
    return values | SHARED_RUN_VALUES | RUN_VALUES[role]


def errors(role: str, **changed) -> list[str]:
    return variable_errors(valid(role) | changed, role, CONTEXTS[role])


def options(*types: str, skip=frozenset()) -> list:
    """Every (role, variable) of these types, choices left to the argument specs; the
    shared role's values with the postgresql role's, which reads them."""
    owners = [(role, role) for role in RUN_VALUES] + [("postgresql", "shared")]
    return [
        pytest.param(role, name, id=name)
        for role, owner in owners
        for name, spec in role_options(owner).items()
        if spec.get("type", "str") in types and "choices" not in spec and name not in skip
    ]


def refused(role: str, name: str, value: object) -> list[str]:
    found = errors(role, **{name: value})
    assert any(name in error for error in found), (value, found)
    assert all("\n" not in error for error in found), found
    return found


@pytest.mark.parametrize("role", RUN_VALUES)
def test_the_defaults_pass_and_every_option_is_read(role):
    assert errors(role) == []
    assert set(valid(role)) == set(role_options(role)) | set(role_options("shared"))


@pytest.mark.parametrize("role, name", options("str", "path", "list", "dict"))
def test_a_line_break_in_any_variable_is_refused_naming_it(role, name):
    spec = spec_of(role, name)
    kind = spec.get("type", "str")
    value = {"list": ["a\nb"], "dict": {"a": "b\nc"}}.get(kind, "a\nhost all all 0.0.0.0/0 trust")
    if kind == "list" and spec.get("elements") == "dict":
        value = [{"type": "local", "database": "all", "user": "all", "method": "peer\ntrust"}]
    found = refused(role, name, value)
    if name in SECRETS:
        assert not any("trust" in error for error in found), "a secret is never shown"


@pytest.mark.parametrize("role, name", options("str", "path", "list", skip=QUOTE_ALLOWED))
def test_a_quote_in_any_variable_that_reaches_a_file_is_refused_naming_it(role, name):
    spec = spec_of(role, name)
    if spec.get("type") == "list" and spec.get("elements", "str") != "str":
        pytest.skip("a list of numbers or mappings: its elements' checks are tried elsewhere")
    quoted = "o'brien"
    refused(role, name, [quoted] if spec.get("type") == "list" else quoted)


@pytest.mark.parametrize("role, name", options("int", "float"))
def test_an_out_of_range_number_is_refused_naming_it(role, name):
    refused(role, name, -7)


def test_a_certificate_variable_holding_a_key_or_garbage_is_refused():
    key = "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n"
    for role, name in (("migrations", "migrations_ca_certificate"),
                       ("haproxy", "haproxy_ca_certificate")):  # fmt: skip
        assert any("holds a private key" in error for error in refused(role, name, CERT + key))
        assert not any("MHc" in error for error in refused(role, name, CERT + key))
        assert any("not a certificate in PEM form" in e for e in refused(role, name, "garbage"))


def test_the_migrations_role_keeps_to_a_directory_of_its_own_and_a_host_of_the_play():
    for shared in ("/tmp", "/opt/", "/"):  # noqa: S108
        assert any("a directory of its own" in e for e in refused("migrations",
                   "migrations_install_dir", shared))  # fmt: skip
    found = errors("migrations", migrations_run_on="nohost", migrations_login_port=0)
    assert found == ["migrations_run_on must be a host of this play (one of db1), not nohost"]


def test_patroni_timings_that_would_lose_the_leader_key_are_refused():
    found = errors("patroni", patroni_ttl=10, patroni_loop_wait=5, patroni_retry_timeout=5)
    assert found == [
        "patroni_ttl (10) must be at least patroni_loop_wait + 2 x patroni_retry_timeout (15),"
        " or a leader loses its key while it still runs"
    ]


def test_an_etcd_election_timeout_etcd_would_not_start_with_is_refused():
    assert errors("patroni", patroni_etcd_heartbeat_interval=300) == [
        "patroni_etcd_election_timeout (1000) must be at least 5 x"
        " patroni_etcd_heartbeat_interval (1500) and at most 50000, or etcd refuses to start"
    ]
    assert errors("patroni", patroni_etcd_election_timeout=60000) != []
    assert errors("patroni", patroni_etcd_heartbeat_interval=200) == []


def test_a_rotation_names_password_variables_and_etcd_root_comes_with_the_one_in_use():
    assert errors("patroni", patroni_rotate_passwords=["patroni_replication_password"]) == []
    assert errors("patroni", patroni_rotate_passwords=["replication"]) == [
        "patroni_rotate_passwords has replication, which is not one of"
        " patroni_replication_password, patroni_rewind_password, patroni_restapi_password,"
        " patroni_etcd_password, patroni_etcd_root_password"
    ]
    root = {"patroni_rotate_passwords": ["patroni_etcd_root_password"]}
    assert errors("patroni", **root) == [
        "patroni_rotate_passwords names patroni_etcd_root_password: give the root password"
        " etcd has now as patroni_etcd_root_password_previous for this run"
    ]
    assert errors("patroni", **root, patroni_etcd_root_password_previous=PASSWORD) == [
        "patroni_etcd_root_password_previous is the new root password: give the one etcd"
        " has now, from your backup of the secrets"
    ]
    assert errors("patroni", **root, patroni_etcd_root_password_previous=PASSWORD + "0") == []


def test_an_app_database_password_is_never_shown_and_a_number_is_named_as_such():
    found = errors("app_database", app_database_app_password="short pass")
    assert found == [
        "app_database_app_password must have 16 or more printable ASCII characters and no space"
    ]
    found = errors("app_database", app_database_owner_password=1234567890123456789)
    assert found == ["app_database_owner_password must be a string (quote it in the inventory)"]


class TestTheBackupStanzaIsOneServersOrOneClusters:
    def context(self, **changed):
        return CONTEXTS["backup"] | changed

    def test_two_servers_sharing_a_stanza_on_one_repository_host_are_refused(self):
        hostvars = {"db2": {"backup_repo_host": "backup1", "backup_stanza": "main"}}
        context = self.context(play_hosts=["db1", "db2"], hostvars=hostvars)
        variables = valid("backup") | {
            "backup_repo_host": "backup1",
            "backup_repo_host_address": "10.0.0.9",
        }
        assert variable_errors(variables, "backup", context) == [
            "backup_stanza main is also the stanza of db2 on repository host backup1: give each"
            " server its own backup_stanza"
        ]
        hostvars["db2"]["backup_stanza"] = "other"
        assert variable_errors(variables, "backup", context) == []

    def test_a_clusters_members_share_one_repository_host_outside_the_cluster(self):
        context = self.context(cluster="pg", members=["db1", "db2"], hostvars={"db2": {}})
        variables = valid("backup") | {"backup_stanza": "pg"}
        assert "backup_repo_host must name a host outside the Patroni cluster pg" in "".join(
            variable_errors(variables, "backup", context)
        )
        inside = variable_errors(variables | {"backup_repo_host": "db2"}, "backup", context)
        assert any("is a member of the Patroni cluster pg" in error for error in inside)
        elsewhere = {"backup_repo_host": "backup1", "backup_repo_host_address": "backup1"}
        differing = variable_errors(variables | elsewhere, "backup", context)
        assert differing == [
            "backup_repo_host is backup1 here but not on db2: the members of the Patroni cluster"
            " pg share one stanza, so give them one value"
        ]


def test_the_lookup_gives_every_variable_of_a_role_with_this_runs_value(lookup):
    """Through Ansible's plugin loader, as the roles' validation calls it: one mapping of
    every option of the role's argument specs to its value, templated; undefined ones ''."""
    # An inventory's value is a trusted template (Ansible renders no other).
    variables = {"backup_stanza": trust_as_template("{{ name }}"), "name": "payments"}
    [found] = lookup("role_variables", variables).run([str(ROOT / "roles" / "backup")], variables)
    assert list(found) == names("backup")
    assert found["backup_stanza"] == "payments"
    assert found["backup_repo_cipher_pass"] == ""
    # The shared role's values come with every role that depends on it.
    assert found["backend_replication_user"] == ""


def test_a_role_whose_argument_specs_cannot_be_read_is_named(tmp_path):
    with pytest.raises(AnsibleError, match=r"argument specs .* cannot be read"):
        option_names(str(tmp_path))


def test_pgbouncer_on_the_servers_port_or_with_settings_that_name_no_pid_file_is_refused():
    assert errors("pgbouncer", pgbouncer_port=5432) == [
        "pgbouncer_port is 5432, the server's own port: give PgBouncer another (6432 by default)"
    ]
    assert errors("pgbouncer", pgbouncer_config_path="/etc/pgbouncer/main.conf") == [
        "pgbouncer_config_path must end .ini, not /etc/pgbouncer/main.conf: its name names"
        " PgBouncer's pid and log files"
    ]
    assert errors("pgbouncer", pgbouncer_listen_addresses=[]) == [
        "pgbouncer_listen_addresses must name at least one address"
    ]
    found = errors("postgresql", backend_pgbouncer_port=5432)
    assert "backend_pgbouncer_port must differ from backend_postgresql_port" in found[0], found


def test_pgbouncers_metrics_go_to_an_absolute_directory_at_a_positive_interval_or_nowhere():
    # The directory and the interval are written into the metrics service's command line.
    assert errors("pgbouncer", pgbouncer_metrics_dir="/srv/textfile; rm") == [
        "pgbouncer_metrics_dir must be an absolute path of letters, digits and ._-/@+,"
        " not /srv/textfile; rm"
    ]
    assert errors("pgbouncer", pgbouncer_metrics_interval=0) == [
        "pgbouncer_metrics_interval must be a whole number of 1 or more, not 0"
    ]
    assert errors("pgbouncer", pgbouncer_metrics_dir="") == []


@pytest.mark.parametrize(("limit", "expected"), [(50, 50), (20, 20), (-1, 50)])
def test_pgbouncers_connection_cap_follows_the_runtime_roles_limit_or_half_the_server(
    template, limit, expected
):
    """The default of pgbouncer_max_user_connections as a run renders it: the runtime role's
    connection limit, or, for a role without one (-1, which app_database allows), half of
    max_connections; either way a value the role's own check accepts."""
    defaults = yaml.safe_load((ROOT / "roles/pgbouncer/defaults/main.yml").read_text())
    variables = {"app_database_app_connection_limit": limit, "postgresql_max_connections": 100}
    rendered = int(template(defaults["pgbouncer_max_user_connections"], variables))
    assert rendered == expected
    assert errors("pgbouncer", pgbouncer_max_user_connections=rendered) == []


def test_the_exporters_ports_differ_from_each_other_and_the_servers_and_the_address_is_one():
    assert errors("exporters", exporters_node_port=9187) == [
        "exporters_postgres_port and exporters_node_port must differ"
    ]
    assert errors("exporters", exporters_postgres_port=6432) == [
        "exporters_postgres_port is 6432, which backend_pgbouncer_port names: give the exporter"
        " another"
    ]
    assert errors("exporters", exporters_listen_address="10.0.0.1 ; x") == [
        "exporters_listen_address must be an IP address or a host name, not 10.0.0.1 ; x"
    ]
    assert errors("exporters", exporters_listen_address="10.0.0.7") == []


def test_haproxys_statistics_are_served_on_one_address_of_the_host_on_a_port_of_their_own():
    assert errors("haproxy", haproxy_metrics_address="10.0.0.9") == []
    for address in ("*", "10.0.0.9\nbind *:80", "app 1"):
        assert (
            "haproxy_metrics_address must be the IP address or host name the monitoring"
            f" network reaches this host at, or empty, not {shown(address)}"
        ) in errors("haproxy", haproxy_metrics_address=address)
    assert errors("haproxy", haproxy_metrics_port=5433) == [
        "haproxy_primary_port, haproxy_replica_port and haproxy_metrics_port must differ"
    ]
    assert errors("monitoring", monitoring_proxies_group="app servers") == [
        "monitoring_proxies_group must be an inventory group name, not app servers"
    ]


def test_a_repository_hosts_node_exporter_listens_on_one_address_of_that_host():
    assert errors("backup", backup_repo_exporter_address="10.0.0.9") == []
    for address in ("*", "backup 1"):
        assert errors("backup", backup_repo_exporter_address=address) == [
            "backup_repo_exporter_address must be the IP address or host name the monitoring"
            f" network reaches the repository host at, or empty, not {address}"
        ]


def test_the_monitoring_durations_name_the_collections_alerts_and_the_ports_differ():
    assert errors("monitoring", monitoring_alert_durations={"BackendDbPostgresDown": "15s"}) == []
    found = errors("monitoring", monitoring_alert_durations={"BackendDbPostgresDwn": "15s"})
    assert len(found) == 1 and found[0].startswith(
        "monitoring_alert_durations names BackendDbPostgresDwn, which is none of the"
        " collection's alerts (BackendDbExporterDown, "
    ), found
    assert errors("monitoring", monitoring_alert_durations={"BackendDbPostgresDown": "15"}) == [
        "monitoring_alert_durations gives BackendDbPostgresDown 15, which is not a Prometheus"
        " duration such as 30s or 5m"
    ]
    assert errors("monitoring", monitoring_scrape_interval="1h30m") == []
    assert errors("monitoring", monitoring_evaluation_interval="soon") == [
        "monitoring_evaluation_interval must be a Prometheus duration such as 30s, 5m or 15d,"
        " not soon"
    ]
    for port in ({"monitoring_alertmanager_port": 9090}, {"monitoring_blackbox_port": 9093}):
        assert errors("monitoring", **port) == [
            "monitoring_prometheus_port, monitoring_alertmanager_port and monitoring_blackbox_port"
            " must differ"
        ]
    assert errors("monitoring", monitoring_targets_group="db") == [
        "monitoring_targets_group is db, which is no group of the inventory: name the group of"
        " the database servers to scrape"
    ]
    # A target's address, a host variable, with a line break or a space in it; a line break
    # at the end too (a YAML block scalar's), which the patterns' $ once let through.
    for address in ("10.0.0.5\nmetrics_path: /", "10.0.0.5\n", "db1\n", "db 1", "*"):
        context = CONTEXTS["monitoring"] | {"hostvars": {"db1": {"monitoring_address": address}}}
        assert variable_errors(valid("monitoring"), "monitoring", context) == [
            f"monitoring_address of db1 is {shown(address)}, not an IP address or a host name:"
            " give the address Prometheus reaches it at, which its certificate names"
        ]
    assert errors("monitoring", monitoring_ca_certificate="") == [
        "monitoring_ca_certificate is empty: give the project CA's certificate (PEM), which"
        " verifies the exporters"
    ]


@pytest.mark.parametrize("early", [True, "True", "yes", "on"])
def test_before_the_postgresql_role_ran_pgbouncer_leaves_what_follows_it_to_that_role(early):
    """playbooks/server.yml's early check: a bad client network (which follows
    postgresql_client_networks) and a bad shared port are the postgresql role's to name,
    by their own names; the pool size is the pgbouncer role's alone."""
    bad = {
        "pgbouncer_client_networks": ["10.9.0.0/33"],
        "backend_postgresql_port": 0,
        "pgbouncer_pool_size": -1,
    }
    late = variable_errors(valid("pgbouncer") | bad, "pgbouncer", CONTEXTS["pgbouncer"])
    assert [error.split()[0] for error in late] == [
        "pgbouncer_client_networks", "pgbouncer_pool_size", "backend_postgresql_port",
    ], late  # fmt: skip
    context = CONTEXTS["pgbouncer"] | {"early": early}
    early_errors = variable_errors(valid("pgbouncer") | bad, "pgbouncer", context)
    assert early_errors == [late[1]]
