"""Bad input of every role is refused in one sentence per problem, before any change.

The cases are checked in batches: each run carries as many bad variables as its
validation reports at once, and asserts every message it must say."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest

from devtools.site import VERSION
from tests.helpers import refused

NETS, HBAS, EXTS = "postgresql_client_networks", "postgresql_hba_entries", "app_database_extensions"
# Shaped like a certificate; the checks it meets stop the run before anything reads it.
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
# A valid pg_hba entry, which each bad entry below spoils in one way.
HBA = {
    "type": "hostssl", "database": "backend", "user": "backend_app",
    "address": "10.9.0.0/16", "method": "scram-sha-256",
}  # fmt: skip

# Each batch is one run of a playbook with several bad variables, which one validation
# task reports at once; every message the batch lists must be in that run's output. A
# variable bad in two ways, or checked by another task (each role's argument specs come
# first, then its own checks), gets a batch of its own.
BATCHES = {
    "the postgresql role's argument specs": ("server", {
        "postgresql_port": "five", "postgresql_log_statement": "everything",
    }, [
        "postgresql_port", "five", "postgresql_log_statement", "everything",
    ]),
    "the postgresql role's ports, networks, roles, pg_hba entries and certificates": ("server", {
        "postgresql_port": 70000,
        NETS: ["10.0.0.0/33", "999.1.1.1/8", ":/64", "10.0.0.1/8"],
        "postgresql_client_roles": ["postgres"],
        HBAS: [
            HBA | {"method": "trust"}, HBA | {"method": "md5"}, HBA | {"type": "host"},
            HBA | {"address": "10.0.0.0/40"}, HBA | {"user": "postgres"},
            HBA | {"user": "a b"}, HBA | {"port": 1},
        ],
        "postgresql_ca_certificate": PEM,
        "postgresql_ssl_renew_before_days": 400,
    }, [
        "postgresql_port must be a port number from 1 to 65535, not 70000",
        # Shaped like a network, but no address (a pattern check let these through).
        "has 10.0.0.0/33, which is not a CIDR network",
        "has 999.1.1.1/8, which is not a CIDR network", "has :/64, which is not a CIDR network",
        "has 10.0.0.1/8, which is not a CIDR network",
        "postgresql_client_roles",
        "has method trust, which the role never", "has method md5, which the role never",
        "has type host, which must be local or", "has address 10.0.0.0/40, which",
        "admits the postgres superuser over TCP", "has database or user a b, which must",
        "has port, which an entry does not take",
        "comes without postgresql_ca_private_key", "must be less than postgresql_ssl",
    ]),
    "a CA key without its certificate, networks that are not a list": ("server", {
        "postgresql_ca_private_key": PEM, NETS: "10.0.0.0/8",
    }, [
        "postgresql_ca_private_key needs", "postgresql_client_networks",
    ]),
    "the backup role's argument specs": ("server", {
        "backup_compress_type": "rar",
    }, ["backup_compress_type", "rar"]),
    # Checked by the server play itself, before any role: a string would read as false.
    "the backup switch": ("server", {
        "backup_enabled": "maybe",
    }, ["backup_enabled must be true or false, not maybe"]),
    "the backup role's repository, passphrase and retention": ("server", {
        "backup_repo_path": "backups", "backup_repo_cipher_pass": "short",
        "backup_retention_full": 0,
        # Not in the inventory.
        "backup_repo_host": "backup1",
    }, [
        "backup_repo_path must be an absolute path", "backup_repo_cipher_pass must have 20",
        "backup_retention_full must be a whole number",
        "backup_repo_host must be the inventory name of another host",
    ]),
    # Refused before the postgresql role writes the new network into pg_hba.conf (the
    # pgbouncer role, which runs after it, once checked them only itself).
    "the pgbouncer role's pool sizes and client limit": ("server", {
        "pgbouncer_pool_size": -1, "pgbouncer_max_client_conn": 0, NETS: ["10.9.0.0/16"],
    }, [
        "pgbouncer_max_client_conn must be a whole number of 1 or more, not 0",
        "pgbouncer_pool_size must be a whole number of 0 or more, not -1",
    ]),
    "a repository host that is the database server itself": ("server", {
        "backup_repo_host": "localhost",
    }, ["backup_repo_host must be the inventory name of another host"]),
    "a preload library this host does not have": ("server", {
        "postgresql_shared_preload_libraries": ["pg_stat_statements", "no_such_lib"],
    }, ["postgresql_shared_preload_libraries has no_such_lib, which PostgreSQL"]),
    # Checked by the update's first play, before it refreshes a package list.
    "the update's restart switch": ("update", {
        "update_restart": "maybe",
    }, ["update_restart must be true or false, not maybe"]),
    "a Patroni group the inventory does not have": ("server", {
        "patroni_cluster_groups": ["nonexistent"],
    }, ["it names nonexistent, which the inventory does not have"]),
    "the app_database role's names and passwords": ("database", {
        "app_database_monitor_password": "short", "app_database_app_password": "short",
        "app_database_name": "Bad-Name", EXTS: ["a b"],
    }, [
        "monitor_password must have 16", "app_database_app_password",
        "app_database_name", "has a b, which is not an extension name",
    ]),
    "a password that is not a string": ("database", {
        "app_database_app_password": 1234567890123456789,
    }, ["app_database_app_password must be a string"]),
    "an extension PostgreSQL on this host does not have": ("site", {
        EXTS: ["no_such_thing"],
    }, ["has no_such_thing, which PostgreSQL on this host"]),
    # Refused by the server play, before pg_hba.conf names it (it was refused only later).
    "a database name pg_hba.conf would carry": ("site", {
        "app_database_name": "Bad-Name",
    }, ["postgresql_client_databases has Bad-Name, which is not a database name"]),
    "the migrations role's argument specs": ("migrate", {
        "migrations_allow_downgrade": "maybe",
    }, ["migrations_allow_downgrade", "maybe"]),
    "the migrations role's port and CA": ("migrate", {
        "migrations_login_port": 0, "migrations_ca_certificate": "garbage",
    }, [
        "migrations_login_port must be a port number",
        "migrations_ca_certificate is not a certificate in PEM form",
    ]),
    "a migration host not in the play, before the rest": ("migrate", {
        "migrations_run_on": "nohost", "migrations_login_port": 0,
        "migrations_ca_certificate": "garbage",
    }, ["migrations_run_on must be a host of this play"]),
    "a CA certificate holding a private key": ("migrate", {
        "migrations_ca_certificate": PEM + "-----BEGIN EC PRIVATE KEY-----\n",
    }, ["migrations_ca_certificate holds a private key"]),
}  # fmt: skip


# The batches whose checks read the host (what its PostgreSQL has): the other release runs
# these; the rest the controller decides alike whatever the host's release.
READ_FROM_THE_HOST = {
    "an extension PostgreSQL on this host does not have",
    "a preload library this host does not have",
}


@pytest.mark.parametrize(
    "batch",
    [
        pytest.param(name, marks=() if name in READ_FROM_THE_HOST else pytest.mark.controller)
        for name in BATCHES
    ],
)
def test_every_bad_variable_of_a_batch_is_named_in_one_run_before_any_change(site, tmp_path, batch):
    playbook, variables, messages = BATCHES[batch]
    ca = site.ca_cert.read_bytes()
    hba = Path(f"/etc/postgresql/{VERSION}/{site.cluster}/pg_hba.conf").read_bytes()
    refused(site.play_with(tmp_path, playbook, variables), *messages)
    assert site.ca_cert.read_bytes() == ca
    assert Path(f"/etc/postgresql/{VERSION}/{site.cluster}/pg_hba.conf").read_bytes() == hba


KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
INJECTED = "backend_app  0.0.0.0/0  scram-sha-256\nhost all all 0.0.0.0/0 trust\n#"
# Each reaches a file of the server's; every one is reported by one run.
HOSTILE = {
    "postgresql_client_roles": [INJECTED],
    "postgresql_admin_os_users": ["/.*"],
    "postgresql_client_databases": ["backend\nhost all all 0.0.0.0/0 trust"],
    "backend_replication_user": "replicator\nhost all all 0.0.0.0/0 trust",
    "postgresql_ca_cert_path": "/etc/backend-db/ca.crt'\nssl = 'off",
    "postgresql_settings": {"hba_file": "/etc/hba", "ssl": "off", "password_encryption": "md5",
                            "work_mem\nssl": "off"},
    "postgresql_listen_addresses": "localhost",
    "postgresql_ssl_certificate": PEM + KEY,
    "postgresql_ssl_private_key": KEY,
}  # fmt: skip


@pytest.mark.controller
def test_every_hostile_input_of_the_server_is_refused_in_one_run_before_any_change(site, tmp_path):
    hba = Path(f"/etc/postgresql/{VERSION}/{site.cluster}/pg_hba.conf").read_bytes()
    text = refused(
        site.play_with(tmp_path, "server", HOSTILE),
        "postgresql_client_roles[0] holds a line break",
        "postgresql_admin_os_users has /.*, which is not an operating-system user name",
        "postgresql_admin_os_users must include root",
        "postgresql_client_databases[0] holds a line break",
        "backend_replication_user holds a line break",
        "postgresql_ca_cert_path holds a line break",
        "postgresql_settings may not set hba_file", "postgresql_settings may not set ssl",
        "postgresql_settings may not set password_encryption",
        "postgresql_settings has a name with a line break",
        "postgresql_listen_addresses must be a list of addresses",
        "postgresql_ssl_certificate holds a private key",
    )  # fmt: skip
    assert "MIIE" not in text  # the key is never shown
    assert Path(f"/etc/postgresql/{VERSION}/{site.cluster}/pg_hba.conf").read_bytes() == hba
    with pytest.raises(psycopg2.OperationalError):
        site.connect(password="", sslmode="disable")
