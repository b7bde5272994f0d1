"""What the variables of the roles app_database, backup, migrations, haproxy, patroni,
pgbouncer and exporters may say.

Each function takes a role's variables by name (all its argument_specs options, as the
inventory set them) and what the checks need to know of the play (its hosts, the
inventory's groups, the other hosts' variables), and returns one sentence per problem.
The shared checks live in validation.py.
"""

from __future__ import annotations

import re

from ansible_collections.backend_db.postgresql.plugins.module_utils.validation import (
    NAME,
    address_errors,
    certificate_errors,
    control_errors,
    counts_errors,
    each_errors,
    early,
    is_address,
    monitoring_address_errors,
    name_errors,
    network_errors,
    path_errors,
    port_errors,
    positive,
    shown,
    whole,
)

# The app_database role's names: lower case, so that they are never quoted.
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# An extension's name as its control file spells it.
EXTENSION = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,62}$")
# A password the application's connection strings carry: printable ASCII, no space.
PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
# A pgBackRest stanza, which names files and directories of the repository.
STANZA = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
# A host name, an IP address or a user name, as pgBackRest's configuration takes them.
HOST_OR_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$")
# A systemd calendar event (OnCalendar=), such as "Mon..Sat *-*-* 01:30:00".
CALENDAR = re.compile(r"^[A-Za-z0-9*,.:/~ -]+$")
# An Alembic revision: head, base, an id, or one relative to them (head-1, +2).
REVISION = re.compile(r"^[A-Za-z0-9_.+@-]+$")
# An inventory group's name, as Ansible takes it.
GROUP = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A Python distribution's name as pip takes it (no version pins or options).
PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Directories the migrations role would share with others: it needs one of its own.
SHARED_DIRECTORIES = ("/", "/opt", "/tmp", "/etc", "/usr", "/var", "/root", "/home")  # noqa: S108


def app_database_errors(variables: dict, context: dict) -> list[str]:
    """context: offered_extensions, the extensions the server offers (empty: not known)."""
    v = variables
    errors = control_errors(v, "app_database_")
    for name in ("app_database_name", "app_database_owner", "app_database_app_user"):
        if not isinstance(v.get(name), str) or not IDENTIFIER.fullmatch(v[name]):
            errors.append(
                f"{name} must be a lower-case SQL identifier such as backend,"
                f" not {shown(v.get(name))}"
            )
    if v.get("app_database_owner") == v.get("app_database_app_user"):
        errors.append("app_database_owner and app_database_app_user must be different roles")
    passwords = ("app_database_owner_password", "app_database_app_password")
    monitor = v.get("app_database_monitor_password")
    for name in (*passwords, "app_database_monitor_password"):
        if not isinstance(v.get(name), str):
            errors.append(f"{name} must be a string (quote it in the inventory)")
        elif name in passwords and (len(v[name]) < 16 or not PRINTABLE.fullmatch(v[name])):
            errors.append(f"{name} must have 16 or more printable ASCII characters and no space")
    if v.get(passwords[0]) == v.get(passwords[1]):
        errors.append("app_database_owner_password and app_database_app_password must differ")
    user = v.get("app_database_monitor_user")
    if (
        not isinstance(user, str)
        or not IDENTIFIER.fullmatch(user)
        or user
        in (
            v.get("app_database_owner"),
            v.get("app_database_app_user"),
        )
    ):
        errors.append(
            "app_database_monitor_user must be a lower-case SQL identifier other than the owner"
            f" and runtime roles, not {shown(user)}"
        )
    if isinstance(monitor, str) and monitor and len(monitor) < 16:
        errors.append("app_database_monitor_password must have 16 or more characters")
    limit = v.get("app_database_app_connection_limit")
    if limit != -1 and whole(limit) is None:
        errors.append(
            "app_database_app_connection_limit must be a whole number, or -1 for no limit, not"
            f" {shown(v.get('app_database_app_connection_limit'))}"
        )
    errors += name_errors(
        "app_database_rotate_passwords", v.get("app_database_rotate_passwords"), NAME, "role name"
    )
    errors += port_errors("app_database_login_port", v.get("app_database_login_port"))
    errors += path_errors("app_database_login_unix_socket", v.get("app_database_login_unix_socket"))
    extensions = v.get("app_database_extensions")
    if not isinstance(extensions, list):
        return [*errors, "app_database_extensions must be a list of extension names"]
    errors += [
        f"app_database_extensions has {shown(name)}, which is not an extension name such as"
        " pg_stat_statements"
        for name in extensions
        if not isinstance(name, str) or not EXTENSION.fullmatch(name)
    ]
    offered = context.get("offered_extensions") or []
    unknown = [name for name in extensions if isinstance(name, str) and name not in offered]
    if offered and unknown:
        errors.append(
            f"app_database_extensions has {', '.join(map(shown, unknown))}, which PostgreSQL on"
            " this host does"
            " not offer: install the package that provides it (postgresql_extra_packages) or"
            " remove it from the list"
        )
    return errors


def _peer(hostvars: object, host: str, name: str, default: object) -> object:
    """Another host's variable as the inventory sets it (role defaults are not there)."""
    try:
        return hostvars[host].get(name, default)  # type: ignore[index]
    except (KeyError, AttributeError):
        return default


def backup_errors(variables: dict, context: dict) -> list[str]:
    """context: host, inventory (every host), play_hosts, cluster and members (its Patroni
    cluster, if any, and that cluster's hosts), hostvars."""
    v, host, hostvars = variables, context["host"], context["hostvars"]
    cluster, members = context.get("cluster") or "", context.get("members") or [host]
    errors = control_errors(v, "backup_")
    errors += path_errors("backup_repo_path", v.get("backup_repo_path"))
    if v.get("backup_metrics_dir"):
        errors += path_errors("backup_metrics_dir", v.get("backup_metrics_dir"))
    passphrase = v.get("backup_repo_cipher_pass")
    if passphrase in (None, ""):
        errors.append("backup_repo_cipher_pass must be set (vault it): it encrypts the repository")
    elif not isinstance(passphrase, str) or len(passphrase) < 20 or re.search(r"\s", passphrase):
        errors.append("backup_repo_cipher_pass must have 20 or more characters and no white space")
    repo_host = v.get("backup_repo_host") or ""
    stanza = v.get("backup_stanza")
    for name in ("backup_repo_host_address", "backup_pg_host_address", "backup_repo_user"):
        # Without a repository host, they are not used (the address is empty then).
        if (repo_host or v.get(name)) and not HOST_OR_USER.fullmatch(str(v.get(name))):
            errors.append(
                f"{name} must be a host name, an IP address or a user name, not"
                f" {shown(v.get(name))}"
            )
    errors += monitoring_address_errors(
        "backup_repo_exporter_address", v.get("backup_repo_exporter_address"), "the repository host"
    )
    errors += port_errors("backup_repo_exporter_port", v.get("backup_repo_exporter_port"))
    if repo_host:
        if repo_host not in context["inventory"] or repo_host == host:
            errors.append(
                "backup_repo_host must be the inventory name of another host that keeps the"
                f" repository (or empty to keep it on this server), not {shown(repo_host)}"
            )
        sharing = [
            other
            for other in context["play_hosts"]
            if other not in members
            and _peer(hostvars, other, "backup_repo_host", "") == repo_host
            and _peer(
                hostvars,
                other,
                "backup_stanza",
                _peer(hostvars, other, "postgresql_cluster", "main"),
            )
            == stanza
        ]
        if sharing:
            errors.append(
                f"backup_stanza {stanza} is also the stanza of {', '.join(sharing)} on repository"
                f" host {repo_host}: give each server its own backup_stanza"
            )
    if cluster:
        if not repo_host:
            errors.append(
                f"backup_repo_host must name a host outside the Patroni cluster {cluster} to keep"
                " its repository (every member that leads archives there), or set"
                " backup_enabled: false for its members"
            )
        elif repo_host in members:
            errors.append(
                f"backup_repo_host {repo_host} is a member of the Patroni cluster {cluster}: its"
                " repository would be lost with it, so name a host outside the cluster"
            )
        shared = {"backup_enabled": True, "backup_repo_host": "", "backup_stanza": cluster}
        for name, default in shared.items():
            mine = str(v.get(name))
            differing = [
                other
                for other in members
                if other != host and str(_peer(hostvars, other, name, default)) != mine
            ]
            if differing:
                errors.append(
                    f"{name} is {mine} here but not on {', '.join(differing)}: the members of the"
                    f" Patroni cluster {cluster} share one stanza, so give them one value"
                )
    for name in ("backup_full_schedule", "backup_diff_schedule"):
        if not isinstance(v.get(name), str) or not CALENDAR.fullmatch(v[name]):
            errors.append(
                f"{name} must be a systemd calendar event such as Sun *-*-* 01:30:00,"
                f" not {shown(v.get(name))}"
            )
    if not isinstance(stanza, str) or not STANZA.fullmatch(stanza):
        errors.append(
            f"backup_stanza must be a name of letters, digits, _ . and -, not {shown(stanza)}"
        )
    errors += counts_errors(
        v,
        (
            "backup_retention_full",
            "backup_retention_diff",
            "backup_process_max",
            "backup_archive_timeout",
            "backup_restore_wait_seconds",
        ),
    )
    return errors


def migrations_errors(variables: dict, context: dict) -> list[str]:
    """context: play_hosts, the hosts of the play (one of which runs the migration)."""
    v = variables
    run_on, hosts = v.get("migrations_run_on"), context["play_hosts"]
    if run_on not in hosts:
        return [
            f"migrations_run_on must be a host of this play (one of {', '.join(hosts)}),"
            f" not {shown(run_on)}"
        ]
    errors = control_errors(v, "migrations_", ("migrations_ca_certificate",))
    errors += port_errors("migrations_login_port", v.get("migrations_login_port"))
    for name in ("migrations_install_dir", "migrations_ca_cert_path", "migrations_system_python"):
        errors += path_errors(name, v.get(name))
    install = str(v.get("migrations_install_dir")).rstrip("/") or "/"
    if install in SHARED_DIRECTORIES:
        errors.append(f"migrations_install_dir must be a directory of its own, not {install}")
    login_host = v.get("migrations_login_host") or ""
    if login_host and not is_address(login_host) and path_errors("", login_host):
        errors.append(
            "migrations_login_host must be an IP address, a host name or a socket directory,"
            f" not {shown(login_host)}"
        )
    for name in ("migrations_login_user", "migrations_login_db"):
        if v.get(name) not in (None, "") and not NAME.fullmatch(str(v.get(name))):
            errors.append(f"{name} must be a role or database name, not {shown(v.get(name))}")
    revision = v.get("migrations_revision")
    if not isinstance(revision, str) or not REVISION.fullmatch(revision):
        errors.append(
            f"migrations_revision must be head, base or a revision id, not {shown(revision)}"
        )
    errors += name_errors(
        "migrations_python_packages", v.get("migrations_python_packages"), PACKAGE, "package name"
    )
    if not positive(v.get("migrations_concurrent_run_timeout")):
        errors.append(
            "migrations_concurrent_run_timeout must be a number of seconds above 0, not"
            f" {shown(v.get('migrations_concurrent_run_timeout'))}"
        )
    hold = v.get("migrations_lock_hold_timeout")
    if hold != 0 and hold != "0" and not positive(hold):
        errors.append(
            f"migrations_lock_hold_timeout must be a number of seconds, 0 for no bound, not"
            f" {shown(hold)}"
        )
    schedule = v.get("migrations_lock_attempts")
    if schedule not in (None, "") and (
        not isinstance(schedule, list) or not schedule or not all(map(positive, schedule))
    ):
        errors.append(
            "migrations_lock_attempts must be a list of seconds above 0 such as [0.5, 1, 1],"
            f" not {shown(schedule)}"
        )
    return errors + certificate_errors(
        "migrations_ca_certificate", v.get("migrations_ca_certificate")
    )


def haproxy_errors(variables: dict, context: dict) -> list[str]:
    """context: clusters (patroni_cluster_groups) and groups (the inventory's groups)."""
    v = variables
    cluster, clusters = v.get("haproxy_cluster"), context.get("clusters") or []
    errors = control_errors(v, "haproxy_", ("haproxy_ca_certificate",))
    if cluster not in clusters or not (context.get("groups") or {}).get(cluster):
        errors.append(
            f"haproxy_cluster is {shown(cluster)}, which is not a cluster the inventory declares:"
            f" name one of patroni_cluster_groups ({', '.join(map(str, clusters))})"
        )
    if not is_address(v.get("haproxy_bind_address")):
        errors.append(
            "haproxy_bind_address must be *, an IP address or a host name, not"
            f" {shown(v.get('haproxy_bind_address'))}"
        )
    errors += monitoring_address_errors(
        "haproxy_metrics_address", v.get("haproxy_metrics_address"), "this host"
    )
    ports = ("haproxy_primary_port", "haproxy_replica_port", "haproxy_metrics_port")
    for name in (*ports, "haproxy_member_port", "haproxy_restapi_port"):
        errors += port_errors(name, v.get(name))
    if len({str(v.get(name)) for name in ports}) < len(ports):
        errors.append(
            "haproxy_primary_port, haproxy_replica_port and haproxy_metrics_port must differ"
        )
    errors += counts_errors(
        v,
        (
            "haproxy_check_interval_ms",
            "haproxy_check_down_interval_ms",
            "haproxy_check_fast_interval_ms",
            "haproxy_check_fall",
            "haproxy_check_rise",
        ),
    )
    errors += path_errors("haproxy_ca_cert_path", v.get("haproxy_ca_cert_path"))
    return errors + certificate_errors("haproxy_ca_certificate", v.get("haproxy_ca_certificate"))


# The pgbouncer role's variables whose defaults follow the postgresql role's (its client
# networks, roles and databases, its listen addresses).
PGBOUNCER_FOLLOWERS = (
    "pgbouncer_client_networks", "pgbouncer_client_roles", "pgbouncer_databases",
    "pgbouncer_listen_addresses",
)  # fmt: skip


def pgbouncer_errors(variables: dict, context: dict) -> list[str]:
    """context: postgresql_port, the port of the server PgBouncer stands in front of;
    early, true for playbooks/server.yml's check before the postgresql role ran, which
    leaves out the variables that follow that role's (it names their problems first, by
    their own names)."""
    errors = _pgbouncer_errors(variables, context)
    if early(context):
        return [error for error in errors if not error.startswith(PGBOUNCER_FOLLOWERS)]
    return errors


def _pgbouncer_errors(variables: dict, context: dict) -> list[str]:
    v = variables
    errors = control_errors(v, "pgbouncer_")
    errors += port_errors("pgbouncer_port", v.get("pgbouncer_port"))
    if str(v.get("pgbouncer_port")) == str(context.get("postgresql_port")):
        errors.append(
            f"pgbouncer_port is {shown(v.get('pgbouncer_port'))}, the server's own port:"
            " give PgBouncer another (6432 by default)"
        )
    addresses = v.get("pgbouncer_listen_addresses")
    errors += each_errors(
        "pgbouncer_listen_addresses", addresses, is_address, "*, an IP address or a host name",
        "addresses",
    )  # fmt: skip
    if isinstance(addresses, list) and not addresses:
        errors.append("pgbouncer_listen_addresses must name at least one address")
    errors += network_errors("pgbouncer_client_networks", v.get("pgbouncer_client_networks"))
    roles = v.get("pgbouncer_client_roles")
    errors += name_errors("pgbouncer_client_roles", roles, NAME, "role name")
    if isinstance(roles, list) and "postgres" in roles:
        errors.append(
            "pgbouncer_client_roles may not name postgres: the superuser never logs in over TCP"
        )
    databases = v.get("pgbouncer_databases")
    errors += each_errors(
        "pgbouncer_databases", databases, lambda name: isinstance(name, str)
        and IDENTIFIER.fullmatch(name) is not None, "a lower-case SQL identifier", "database names",
    )  # fmt: skip
    errors += counts_errors(
        v, ("pgbouncer_max_user_connections", "pgbouncer_max_client_conn",
            "pgbouncer_query_wait_timeout"),
    )  # fmt: skip
    errors += counts_errors(v, ("pgbouncer_pool_size", "pgbouncer_session_pool_size"), 0)
    errors += counts_errors(v, ("pgbouncer_metrics_interval",))
    if v.get("pgbouncer_metrics_dir"):
        errors += path_errors("pgbouncer_metrics_dir", v.get("pgbouncer_metrics_dir"))
    errors += path_errors("pgbouncer_config_path", v.get("pgbouncer_config_path"))
    if not errors and not str(v["pgbouncer_config_path"]).endswith(".ini"):
        errors.append(
            f"pgbouncer_config_path must end .ini, not {shown(v['pgbouncer_config_path'])}:"
            " its name names PgBouncer's pid and log files"
        )
    return errors


def exporters_errors(variables: dict, context: dict) -> list[str]:
    """context: taken_ports, by variable, the ports the server's other listeners use."""
    v = variables
    errors = control_errors(v, "exporters_")
    address = v.get("exporters_listen_address")
    if address not in ("", None):
        errors += address_errors("exporters_listen_address", address)
    ports = {name: v.get(name) for name in ("exporters_postgres_port", "exporters_node_port")}
    for name, port in ports.items():
        errors += port_errors(name, port)
    if str(ports["exporters_postgres_port"]) == str(ports["exporters_node_port"]):
        errors.append("exporters_postgres_port and exporters_node_port must differ")
    for name, port in ports.items():
        errors += [
            f"{name} is {shown(port)}, which {taken} names: give the exporter another"
            for taken, used in (context.get("taken_ports") or {}).items()
            if str(port) == str(used)
        ]
    return errors


# A Prometheus duration: 30s, 5m, 1h30m, 15d.
DURATION = re.compile(r"^(?=\d)((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")


def monitoring_errors(variables: dict, context: dict) -> list[str]:
    """context: alerts, the names of the rule file's alerts; groups, the inventory's."""
    v = variables
    errors = control_errors(v, "monitoring_", exempt=("monitoring_ca_certificate",))
    errors += certificate_errors("monitoring_ca_certificate", v.get("monitoring_ca_certificate"))
    if not v.get("monitoring_ca_certificate"):
        errors.append(
            "monitoring_ca_certificate is empty: give the project CA's certificate (PEM), which"
            " verifies the exporters"
        )
    for program in ("prometheus", "alertmanager"):
        name = f"monitoring_{program}_listen_address"
        errors += address_errors(name, v.get(name))
        errors += port_errors(f"monitoring_{program}_port", v.get(f"monitoring_{program}_port"))
    errors += port_errors("monitoring_blackbox_port", v.get("monitoring_blackbox_port"))
    # All three may listen on 127.0.0.1.
    programs = ("prometheus", "alertmanager", "blackbox")
    ports = [str(v.get(f"monitoring_{name}_port")) for name in programs]
    if len(set(ports)) < len(ports):
        errors.append(
            "monitoring_prometheus_port, monitoring_alertmanager_port and monitoring_blackbox_port"
            " must differ"
        )
    for name in ("scrape_interval", "evaluation_interval", "retention"):
        value = v.get(f"monitoring_{name}")
        if not DURATION.fullmatch(str(value)):
            errors.append(
                f"monitoring_{name} must be a Prometheus duration such as 30s, 5m or 15d,"
                f" not {shown(value)}"
            )
    durations = v.get("monitoring_alert_durations")
    if not isinstance(durations, dict):
        durations = {}
        errors.append(
            "monitoring_alert_durations must map alert names to durations, not"
            f" {shown(v.get('monitoring_alert_durations'))}"
        )
    known = context.get("alerts") or []
    for alert, duration in sorted(durations.items(), key=lambda item: str(item[0])):
        if alert not in known:
            errors.append(
                f"monitoring_alert_durations names {shown(alert)}, which is none of the"
                f" collection's alerts ({', '.join(known)})"
            )
        elif not DURATION.fullmatch(str(duration)):
            errors.append(
                f"monitoring_alert_durations gives {alert} {shown(duration)}, which is not a"
                " Prometheus duration such as 30s or 5m"
            )
    group = v.get("monitoring_targets_group")
    if group not in (context.get("groups") or {}):
        errors.append(
            f"monitoring_targets_group is {shown(group)}, which is no group of the inventory:"
            " name the group of the database servers to scrape"
        )
    proxies = v.get("monitoring_proxies_group")
    if not isinstance(proxies, str) or not GROUP.fullmatch(proxies):
        errors.append(
            f"monitoring_proxies_group must be an inventory group name, not {shown(proxies)}"
        )
    # Each target's address, which Prometheus reaches and its certificate names.
    hostvars = context.get("hostvars") or {}
    for host in (context.get("groups") or {}).get(group) or []:
        known = hostvars.get(host) or {}
        if "monitoring_address" in known:
            address = known["monitoring_address"]
            if not is_address(address) or address == "*":
                errors.append(
                    f"monitoring_address of {host} is {shown(address)}, not an IP address or a"
                    " host name: give the address Prometheus reaches it at, which its"
                    " certificate names"
                )
    return errors


def patroni_errors(variables: dict, context: dict) -> list[str]:
    """A cluster member's Patroni and etcd settings (context is not needed)."""
    v = variables
    errors = control_errors(v, "patroni_")
    errors += name_errors(
        "patroni_cluster_groups", v.get("patroni_cluster_groups"), GROUP, "inventory group name"
    )
    address = v.get("patroni_address")
    if not is_address(address) or address in ("*", "localhost"):
        errors.append(
            "patroni_address must be this member's IP address or host name, which the others"
            f" reach it at, not {shown(address)}"
        )
    for name in ("patroni_restapi_port", "patroni_etcd_client_port", "patroni_etcd_peer_port"):
        errors += port_errors(name, v.get(name))
    for name in ("patroni_restapi_user", "patroni_etcd_user", "patroni_etcd_group"):
        if not isinstance(v.get(name), str) or not NAME.fullmatch(v[name]):
            errors.append(
                f"{name} must be a name of letters, digits and _, not {shown(v.get(name))}"
            )
    timings = ("patroni_ttl", "patroni_loop_wait", "patroni_retry_timeout")
    errors += counts_errors(v, timings)
    ttl, loop_wait, retry = (whole(v.get(name)) for name in timings)
    if ttl and loop_wait and retry and loop_wait + 2 * retry > ttl:
        errors.append(
            f"patroni_ttl ({ttl}) must be at least patroni_loop_wait + 2 x patroni_retry_timeout"
            f" ({loop_wait + 2 * retry}), or a leader loses its key while it still runs"
        )
    errors += counts_errors(v, ("patroni_maximum_lag_on_failover",), minimum=0)
    errors += counts_errors(v, ("patroni_streaming_timeout",))
    raft = ("patroni_etcd_heartbeat_interval", "patroni_etcd_election_timeout")
    errors += counts_errors(v, raft)
    heartbeat, election = (whole(v.get(name)) for name in raft)
    if heartbeat and election and not 5 * heartbeat <= election <= 50000:
        errors.append(
            f"patroni_etcd_election_timeout ({election}) must be at least 5 x"
            f" patroni_etcd_heartbeat_interval ({5 * heartbeat}) and at most 50000,"
            " or etcd refuses to start"
        )
    return errors + patroni_rotation_errors(v)


# The passwords a run may rotate: those of Patroni's settings, and etcd's root password.
PATRONI_ROTATABLE = (
    "patroni_replication_password",
    "patroni_rewind_password",
    "patroni_restapi_password",
    "patroni_etcd_password",
    "patroni_etcd_root_password",
)


def patroni_rotation_errors(v: dict) -> list[str]:
    """patroni_rotate_passwords names password variables; etcd's root password rotates
    only with the one etcd knows now (patroni_etcd_root_password_previous)."""
    rotate = v.get("patroni_rotate_passwords")
    errors = each_errors(
        "patroni_rotate_passwords",
        rotate,
        lambda item: item in PATRONI_ROTATABLE,
        f"one of {', '.join(PATRONI_ROTATABLE)}",
        "password variables",
    )
    previous = v.get("patroni_etcd_root_password_previous")
    if errors or "patroni_etcd_root_password" not in rotate:
        return errors
    if not isinstance(previous, str) or not previous:
        return [
            "patroni_rotate_passwords names patroni_etcd_root_password: give the root password"
            " etcd has now as patroni_etcd_root_password_previous for this run"
        ]
    if previous == v.get("patroni_etcd_root_password"):
        return [
            "patroni_etcd_root_password_previous is the new root password: give the one etcd"
            " has now, from your backup of the secrets"
        ]
    return []
