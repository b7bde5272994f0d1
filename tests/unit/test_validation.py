"""The postgresql role's variables, checked in plain Python (plugins/module_utils/validation.py).

Each input a hostile or rushed inventory gives is refused with one sentence naming the
variable: a line break, a quote or a space where a name goes, a setting the roles own, a
certificate holding a key. The role's defaults pass as they are.
"""

from __future__ import annotations

import pytest

from ansible_collections.backend_db.postgresql.plugins.filter.validation import variable_errors
from ansible_collections.backend_db.postgresql.plugins.module_utils.validation import (
    monitoring_address_errors,
    shown,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.validation_postgresql import (
    missing_libraries,
)
from devtools.role_docs import resolved_defaults

DEFAULTS = resolved_defaults("postgresql") | {"backend_secrets_dir": "/srv/inventory/.secrets"}
# The defaults as a run sees them: the two templated ones as they come out.
VALID = DEFAULTS | {
    "postgresql_client_databases": ["backend"],
    "postgresql_client_roles": ["backend_owner", "backend_app"],
}


def refused(variables: dict) -> list[str]:
    """As the role's first task checks them: its own and the shared values (backend_*)."""
    return variable_errors(variables, "postgresql")


CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
INJECTED_HBA = "backend_app  0.0.0.0/0  scram-sha-256\nhost all all 0.0.0.0/0 trust\n#"


def test_the_defaults_pass():
    assert refused(VALID) == []


@pytest.mark.parametrize(
    "name, value, expected",
    [
        (
            "postgresql_client_roles",
            [INJECTED_HBA],
            "postgresql_client_roles[0] holds a line break",
        ),
        ("postgresql_client_roles", ["backend app"], "which is not a role name"),
        ("postgresql_client_roles", ["o'brien"], "which is not a role name"),
        ("postgresql_client_roles", ["postgres"], "may not name postgres"),
        ("postgresql_client_roles", "backend_app", "must be a list of role names"),
        ("postgresql_client_databases", ["backend\nhost all all 0.0.0.0/0 trust"], "line break"),
        ("postgresql_client_databases", ["all,replication"], "which is not a database name"),
        ("postgresql_admin_os_users", ["/.*"], "which is not an operating-system user name"),
        ("postgresql_admin_os_users", ["postgres"], "must include root"),
        ("postgresql_admin_os_users", ["root", "a b"], "which is not an operating-system user"),
        ("backend_replication_user", "replicator\nhost all all 0.0.0.0/0 trust", "line break"),
        ("backend_replication_user", "repl'icator", "must be a role name other than postgres"),
        ("backend_rewind_user", "postgres", "must be a role name other than postgres"),
        ("postgresql_ca_cert_path", "/etc/ca.crt'\nssl = 'off", "holds a line break"),
        ("postgresql_ca_cert_path", "ca.crt", "must be an absolute path"),
        ("postgresql_ca_cert_path", "/etc/../ca.crt", "must be an absolute path"),
        ("postgresql_listen_addresses", "localhost", "must be a list of addresses"),
        ("postgresql_listen_addresses", ["localhost'; ssl='off"], "which is not *, localhost"),
        ("postgresql_settings", {"hba_file": "/etc/hba"}, "may not set hba_file"),
        ("postgresql_settings", {"ssl": "off"}, "may not set ssl"),
        ("postgresql_settings", {"ssl_ciphers": "NULL"}, "may not set ssl_ciphers"),
        ("postgresql_settings", {"password_encryption": "md5"}, "may not set password_encryption"),
        ("postgresql_settings", {"archive_command": "/bin/true"}, "may not set archive_command"),
        ("postgresql_settings", {"statement_timeout\nssl": "off"}, "line break"),
        ("postgresql_settings", {"Work-Mem": "4MB"}, "which is not a setting name"),
        ("postgresql_settings", {"statement_timeout": "4s\nssl = off"}, "line break"),
        ("postgresql_settings", {"statement_timeout": ["4s"]}, "a number or a boolean"),
        ("postgresql_settings", ["work_mem"], "must be a mapping"),
        ("postgresql_shared_preload_libraries", ["a b"], "which is not a library name"),
        ("postgresql_ssl_certificate", CERT + KEY, "holds a private key"),
        ("postgresql_ca_certificate", CERT + KEY, "holds a private key"),
        ("postgresql_ssl_private_key", "not a key", "must be a private key in PEM form"),
        ("postgresql_ssl_names", ["db1\nhost"], "postgresql_ssl_names[0] holds a line break"),
        ("postgresql_ca_trusted_extra", [CERT + KEY], "[0] holds a private key"),
        ("postgresql_ca_trusted_extra", ["garbage"], "[0] is not a certificate in PEM form"),
        ("postgresql_ca_trusted_extra", CERT, "must be a list of CA certificates"),
    ],
)
def test_each_bad_input_is_refused_in_a_sentence_naming_the_variable(name, value, expected):
    errors = refused(VALID | {name: value})
    assert any(expected in error and name in error for error in errors), errors
    assert all("\n" not in error for error in errors)


def test_every_problem_of_a_run_is_reported_at_once():
    errors = refused(
        VALID | {"postgresql_client_roles": ["a b"], "postgresql_settings": {"ssl": "off"},
                 "postgresql_admin_os_users": ["postgres"]}
    )  # fmt: skip
    assert len(errors) == 3, errors


def test_quotes_in_a_setting_value_are_allowed_since_the_template_escapes_them():
    assert refused(VALID | {"postgresql_settings": {"application_name": "o'brien"}}) == []


def test_libraries_are_found_by_the_hosts_lib_directory():
    installed = [
        "/usr/lib/postgresql/15/lib/pg_stat_statements.so",
        "/usr/lib/postgresql/15/lib/auto_explain.so",
    ]
    assert missing_libraries(["pg_stat_statements", "no_such_lib"], installed) == ["no_such_lib"]
    assert missing_libraries(["auto_explain"], installed) == []


@pytest.mark.parametrize(
    ("name", "reached"),
    [
        ("haproxy_metrics_address", "this host"),
        ("backup_repo_exporter_address", "the repository host"),
    ],
)
@pytest.mark.parametrize("value", ["*", "10.0.0.1 ", "not an address"])
def test_a_metrics_address_is_one_the_monitoring_network_reaches_never_every_address(
    name, reached, value
):
    assert monitoring_address_errors(name, value, reached) == [
        f"{name} must be the IP address or host name the monitoring network reaches"
        f" {reached} at, or empty, not {shown(value)}"
    ]
    for good in ("", None, "10.0.0.1", "fd00::1", "db1.example.com"):
        assert monitoring_address_errors(name, good, reached) == []
