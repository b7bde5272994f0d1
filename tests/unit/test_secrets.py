"""Secrets in plain Python: SCRAM verifiers, fingerprints, PEM checks and the secret lookup.

tests/integration/test_verifiers.py checks the verifiers against a real PostgreSQL.
"""

from __future__ import annotations

import base64
import multiprocessing
import os
import subprocess

import pytest
from ansible.errors import AnsibleError

from ansible_collections.backend_db.postgresql.plugins.lookup.secret import keep_secret, resolve
from ansible_collections.backend_db.postgresql.plugins.module_utils.secrets import (
    certificate_problem,
    config_value,
    fingerprint,
    fingerprint_dependents,
    fingerprint_matches,
    holds_private_key,
    ini_value,
    key_problem,
    login_dependents,
    pem_bundle,
    replaced_fingerprints,
    replaced_logins,
    role_in_place,
    scram_matches,
    scram_verifier,
    scram_verifier_for,
)
from devtools.paths import ROOT

PASSWORD = "Zx8pQ2mN4vB6cD1eF3gH5jK7"


@pytest.mark.parametrize("verifier", [None, "", "md5abc", "SCRAM-SHA-256$4096:!!$a:b"])
def test_a_verifier_of_another_kind_never_matches(verifier):
    assert not scram_matches(PASSWORD, verifier)
    assert scram_verifier_for(PASSWORD, verifier).startswith("SCRAM-SHA-256$4096:")


def test_two_verifiers_of_one_password_differ_by_their_salt():
    first, second = scram_verifier(PASSWORD), scram_verifier(PASSWORD)
    assert first != second and PASSWORD not in first
    assert scram_matches(PASSWORD, first) and scram_matches(PASSWORD, second)


def test_a_fingerprint_tells_the_same_secret_and_holds_none_of_it():
    found = fingerprint(PASSWORD)
    assert fingerprint_matches(PASSWORD, found)
    assert not fingerprint_matches(PASSWORD[:-1], found)
    assert not fingerprint_matches(PASSWORD, None)
    assert not fingerprint_matches(PASSWORD, {"salt": "%%%"})
    assert PASSWORD not in repr(found)
    assert len(base64.b64decode(found["salt"])) == 16


def test_ini_values_are_read_by_key_the_last_one_winning():
    text = (
        "[global]\nrepo1-path=/var/lib/pgbackrest\nrepo1-cipher-pass = one\nrepo1-cipher-pass=two\n"
    )
    assert ini_value(text, "repo1-cipher-pass") == "two"
    assert ini_value(text, "repo1-path") == "/var/lib/pgbackrest"
    assert ini_value(text, "missing") is None


PATRONI_SETTINGS = """
etcd3:
  username: "patroni"
  password: "etcd pw: 'quoted'"
restapi:
  authentication: {username: patroni, password: "12345"}
postgresql:
  authentication:
    replication: {username: replicator, password: "repl pw"}
"""


def test_values_are_read_by_dotted_key_from_yaml_and_by_name_from_ini_files():
    path = "/etc/patroni/config.yml"
    assert config_value(path, PATRONI_SETTINGS, "etcd3.password") == "etcd pw: 'quoted'"
    assert config_value(path, PATRONI_SETTINGS, "restapi.authentication.password") == "12345"
    assert config_value(path, PATRONI_SETTINGS, "postgresql.authentication.rewind.password") is None
    assert config_value(path, PATRONI_SETTINGS, "postgresql.authentication") is None
    assert config_value(path, "", "etcd3.password") is None
    ini = "[global]\nrepo1-path=/x\n"
    assert config_value("/etc/pgbackrest/main.conf", ini, "repo1-path") == "/x"
    with pytest.raises(ValueError, match="not YAML"):
        config_value(path, "etcd3: [unclosed", "etcd3.password")


def test_the_secrets_a_hosts_file_holds_are_in_use_and_another_value_is_a_replacement():
    keys = {"etcd_pw": "etcd3.password", "repl_pw": "repl.password", "new_pw": "new.password"}
    found = {"etcd3.password": fingerprint("etcd one"), "repl.password": fingerprint("r 1"),
             "new.password": None}  # fmt: skip
    assert fingerprint_dependents(keys, found, "the cluster c on db1") == {
        "etcd_pw": "the cluster c on db1", "repl_pw": "the cluster c on db1", "new_pw": "",
    }  # fmt: skip
    values = {"etcd_pw": "etcd one", "repl_pw": "r 2", "new_pw": "anything"}
    assert replaced_fingerprints(values, keys, found) == ["repl_pw"]
    assert replaced_fingerprints({**values, "repl_pw": "r 1"}, keys, found) == []


def test_the_logins_in_use_and_those_whose_password_would_be_replaced():
    logins = [{"variable": "owner_pw", "role": "owner"}, {"variable": "app_pw", "role": "app"},
              {"variable": "new_pw", "role": "new"}]  # fmt: skip
    verifiers = {"owner": scram_verifier("owner password 123"), "app": scram_verifier("app pw 1")}
    assert login_dependents(logins, verifiers, "db1") == {
        "owner_pw": "the role owner on db1", "app_pw": "the role app on db1", "new_pw": "",
    }  # fmt: skip
    pairs = list(zip(logins, ["owner password 123", "app pw 2", "anything"], strict=True))
    assert replaced_logins(pairs, verifiers, []) == [logins[1]]
    assert replaced_logins(pairs, verifiers, ["app"]) == []


APP_ROW = {
    "rolname": "backend_app", "rolpassword": scram_verifier(PASSWORD), "rolcanlogin": True,
    "rolsuper": False, "rolcreatedb": False, "rolcreaterole": False, "rolreplication": False,
    "rolbypassrls": False, "rolinherit": False, "rolconnlimit": 40,
}  # fmt: skip
APP_FLAGS = "LOGIN,NOSUPERUSER,NOCREATEDB,NOCREATEROLE,NOREPLICATION,NOBYPASSRLS,NOINHERIT"


def test_a_role_is_in_place_only_with_its_password_every_attribute_and_its_connection_limit():
    assert role_in_place([APP_ROW], "backend_app", PASSWORD, APP_FLAGS, 40)
    # The connection limit is compared only when given.
    assert role_in_place([APP_ROW], "backend_app", PASSWORD, APP_FLAGS)
    assert not role_in_place([APP_ROW], "backend_app", PASSWORD, APP_FLAGS, 50)
    # Another password (changed in the inventory, or named for rotation), or none found.
    assert not role_in_place([APP_ROW], "backend_app", "another password 1", APP_FLAGS, 40)
    assert not role_in_place([APP_ROW | {"rolpassword": None}], "backend_app", PASSWORD, APP_FLAGS)
    assert not role_in_place([], "backend_app", PASSWORD, APP_FLAGS)
    assert not role_in_place([APP_ROW], "backend_owner", PASSWORD, APP_FLAGS)
    # Each attribute, either way, and a flag the comparison does not know.
    for column in ("rolcanlogin", "rolsuper", "rolcreatedb", "rolcreaterole", "rolreplication",
                   "rolbypassrls", "rolinherit"):  # fmt: skip
        changed = APP_ROW | {column: not APP_ROW[column]}
        assert not role_in_place([changed], "backend_app", PASSWORD, APP_FLAGS, 40), column
    assert not role_in_place([APP_ROW], "backend_app", PASSWORD, APP_FLAGS + ",NOFLY")
    # Not named, not compared: the owner role's flags leave inheritance alone.
    assert role_in_place([APP_ROW], "backend_app", PASSWORD, APP_FLAGS.removesuffix(",NOINHERIT"))


def test_a_role_without_a_password_is_in_place_only_while_it_holds_none():
    # PgBouncer's lookup role logs in with a certificate: a password set on it by hand
    # would let it log in another way, so the role's task runs and clears it.
    no_password = APP_ROW | {"rolpassword": None}
    assert role_in_place([no_password], "backend_app", None, APP_FLAGS, 40)
    assert not role_in_place([APP_ROW], "backend_app", None, APP_FLAGS, 40)
    assert not role_in_place([no_password | {"rolsuper": True}], "backend_app", None, APP_FLAGS)


def make_ca(tmp_path, name: str) -> tuple[str, str]:
    key, cert = tmp_path / f"{name}.key", tmp_path / f"{name}.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}", "-days", "2"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert.read_text(), key.read_text()


def test_a_ca_key_that_is_not_the_certificates_is_named_as_such(tmp_path):
    cert, key = make_ca(tmp_path, "one")
    _other_cert, other_key = make_ca(tmp_path, "two")
    assert key_problem(cert, key) == ""
    assert (
        key_problem(cert, other_key) == "The CA private key does not belong to the CA certificate"
    )
    assert key_problem(cert, "garbage") == "The CA private key does not parse"
    assert certificate_problem(cert) == ""
    assert "holds a private key" in certificate_problem(cert + key)
    assert holds_private_key(cert + key) and not holds_private_key(cert)
    assert "not a certificate" in certificate_problem("garbage")
    broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert certificate_problem(broken) == "does not parse as a PEM certificate"


class TestTheSecretLookup:
    def test_an_existing_file_is_read_and_never_written(self, tmp_path):
        path = tmp_path / "secret"
        path.write_text("kept-secret-value-0123456789\n")
        for in_use in (None, {}, {"name": ""}, {"name": "the role x on db1"}):
            assert resolve("name", str(path), 32, in_use, False) == "kept-secret-value-0123456789"

    def test_a_missing_file_that_something_depends_on_stops_the_run_and_writes_nothing(
        self, tmp_path
    ):
        path = tmp_path / "secrets" / "backup_repo_cipher_pass"
        with pytest.raises(AnsibleError) as raised:
            depends = {"backup_repo_cipher_pass": "the pgBackRest repository /r on db1"}
            resolve("backup_repo_cipher_pass", str(path), 48, depends, False)
        message = str(raised.value)
        assert str(path) in message and "the pgBackRest repository /r on db1" in message
        assert "restore the file from your backup" in message
        assert not path.exists()

    def test_until_the_host_is_read_or_in_check_mode_a_new_secret_is_never_written(self, tmp_path):
        path = tmp_path / "secrets" / "backend_owner"
        unknown = resolve("app_database_owner_password", str(path), 32, None, False)
        checked = resolve("app_database_owner_password", str(path), 32,
                          {"app_database_owner_password": ""}, True)  # fmt: skip
        assert len(unknown) == len(checked) == 32
        assert not path.exists()

    def test_a_secret_nothing_depends_on_is_made_once_private_to_the_controllers_user(
        self, tmp_path
    ):
        path = tmp_path / "secrets" / "backend_owner"
        made = resolve(
            "app_database_owner_password", str(path), 32, {"app_database_owner_password": ""}, False
        )
        assert path.read_text() == made + "\n" and len(made) == 32
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
        again = resolve(
            "app_database_owner_password", str(path), 32, {"app_database_owner_password": ""}, False
        )
        assert again == made

    def test_a_file_another_controller_wrote_meanwhile_wins_and_is_read_as_every_file_is(
        self, tmp_path
    ):
        """Two controllers make the same secret at once: the one written first is kept, and
        the other reads it back the way the lookup reads files (decrypting a vaulted one)."""
        path = tmp_path / "backend_owner"
        path.write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
        decrypted = {str(path): "the-first-controllers-secret-0123456789"}
        kept = keep_secret(str(path), "the-second-controllers-secret-9876543210", decrypted.get)
        assert kept == "the-first-controllers-secret-0123456789"
        assert path.read_text().startswith("$ANSIBLE_VAULT")

    def test_an_empty_file_is_refused(self, tmp_path):
        path = tmp_path / "secret"
        path.write_text("\n")
        with pytest.raises(AnsibleError, match="is empty"):
            resolve("name", str(path), 32, {"name": ""}, False)
        assert os.path.getsize(path) == 1


def test_a_secrets_file_encrypted_with_ansible_vault_is_read_with_the_vaults_password(tmp_path):
    """A team commits its generated secrets encrypted, and shares the vault's password."""
    from tests.helpers import BIN

    secret_file = tmp_path / "backend_owner"
    secret_file.write_text("a-secret-shared-by-a-team-0123456789\n")
    password_file = tmp_path / "vault-password"
    password_file.write_text("the vault's own password\n")
    subprocess.run(
        [str(BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(password_file),
         str(secret_file)], check=True, capture_output=True,
    )  # fmt: skip
    assert secret_file.read_text().startswith("$ANSIBLE_VAULT")
    playbook = tmp_path / "read.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.assert:\n"
        "        that: lookup('backend_db.postgresql.secret', 'x', file=secret_file)"
        " == 'a-secret-shared-by-a-team-0123456789'\n"
    )
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
         "--vault-password-file", str(password_file), "-e", f"secret_file={secret_file}"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]


def test_a_bundle_of_one_certificate_is_that_certificate_as_a_ca_file_held_it(tmp_path):
    one, _key = make_ca(tmp_path, "one")
    two, _key = make_ca(tmp_path, "two")
    assert pem_bundle(one + "\n\n") == one.strip()
    assert pem_bundle(one, [two]) == one.strip() + "\n" + two.strip()
    assert pem_bundle("", []) == ""


def _make_secrets(directory: str) -> list[str]:
    """What one host's process resolves: 300 secrets that nothing depends on yet."""
    made = []
    for number in range(300):
        try:
            made.append(
                resolve("name", os.path.join(directory, f"s{number}"), 32, {"name": ""}, False)
            )
        except AnsibleError as error:
            made.append(f"error: {error}")
    return made


def test_hosts_making_the_same_secrets_at_once_all_get_the_one_kept(tmp_path):
    # Every host of a run resolves the secrets in its own process at the same moment: none
    # may find a file made but not yet written ("is empty"), and all get the same value.
    with multiprocessing.get_context("fork").Pool(8) as pool:
        made = pool.map(_make_secrets, [str(tmp_path)] * 8)
    errors = [value for values in made for value in values if value.startswith("error: ")]
    assert not errors, (len(errors), errors[0])
    kept = [(tmp_path / f"s{number}").read_text().strip() for number in range(300)]
    assert all(values == kept for values in made)
    assert not [path.name for path in tmp_path.iterdir() if not path.name.startswith("s")]


def test_the_lookup_keeps_a_new_secret_once_and_reads_it_back_on_every_later_run(tmp_path, lookup):
    """Through Ansible's plugin loader, as a run calls it: a host whose facts say nothing
    depends on the secret yet gets one kept in the file (its directory private); the next
    run reads that one; a check makes none; a host not yet read gets one kept nowhere."""
    path = tmp_path / "secrets" / "backup_repo_cipher_pass"
    known = {"backend_db_secrets_in_use": {"backup_repo_cipher_pass": ""}}
    checked = lookup("secret", {**known, "ansible_check_mode": True})
    assert len(checked.run(["backup_repo_cipher_pass"], {**known, "ansible_check_mode": True},
                           file=str(path), length=24)[0]) == 24  # fmt: skip
    assert not path.exists()
    [made] = lookup("secret", known).run(["backup_repo_cipher_pass"], known, file=str(path))
    assert len(made) == 32 and path.read_text() == made + "\n"
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert lookup("secret", known).run(["backup_repo_cipher_pass"], known, file=str(path)) == [made]
    other = tmp_path / "unknown"
    assert lookup("secret", {}).run(["x"], {}, file=str(other))[0] != made
    assert not other.exists()


def test_a_secret_shorter_than_20_characters_is_refused(tmp_path, lookup):
    with pytest.raises(AnsibleError, match="length must be 20 or more"):
        lookup("secret", {}).run(["x"], {}, file=str(tmp_path / "x"), length=12)


def test_a_secrets_file_the_controller_cannot_read_is_named_with_what_to_do(tmp_path):
    unreadable = tmp_path / "backend_owner"
    unreadable.mkdir()
    with pytest.raises(AnsibleError, match=r"cannot be read .*: make it readable") as raised:
        resolve("app_database_owner_password", str(unreadable), 32, {}, False)
    assert str(unreadable) in str(raised.value)
