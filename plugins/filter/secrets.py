"""Filters over secrets: SCRAM verifiers and fingerprints, computed on the controller."""

from __future__ import annotations

from ansible_collections.backend_db.postgresql.plugins.plugin_utils.deferred import deferred

DOCUMENTATION = r"""
---
name: scram_verifier
short_description: The SCRAM-SHA-256 verifier to give PostgreSQL for a password
description:
  - Returns I(current) when that verifier (a C(pg_authid.rolpassword) value) was made from
    the password, else a new verifier with a random salt. A role's password then reaches
    PostgreSQL only as its verifier, and a re-run that finds it in place changes nothing.
  - The collection's other filters over secrets are C(fingerprint_matches) (whether a
    fingerprint that C(backend_db.postgresql.host_snapshot) made on a host was made from a
    secret), and
    C(login_dependents) and C(replaced_logins) (which roles log in with a password, and
    whose password in place is not the inventory's), C(fingerprint_dependents) and
    C(replaced_fingerprints) (the same for secrets a host's file holds, by fingerprint),
    C(role_in_place) (whether a role is in place with a password and attributes, from its
    C(pg_authid) row),
    C(certificate_problem) (why a text is not PEM certificates alone), C(key_problem) (why
    a CA key cannot sign for its certificate), C(pem_bundle) (certificates as one CA
    file's content), C(certificate_common_name) (a certificate's subject CN) and
    C(certificate_renewal) (why a server needs a new certificate from the project CA - none,
    another issuer, missing names, or an expiry within the days given; empty when none).
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
positional: current
options:
  _input:
    description: The password.
    type: str
    required: true
  current:
    description: The verifier in place, if any.
    type: str
"""

EXAMPLES = r"""
- name: The role has the inventory's password, as a verifier
  community.postgresql.postgresql_user:
    name: backend_app
    password: "{{ app_password | backend_db.postgresql.scram_verifier(current_verifier) }}"
"""

RETURN = r"""
_value:
  description: A SCRAM-SHA-256 verifier.
  type: str
"""


# Ansible imports every filter file in each task's process: these import the secrets
# code when first called (plugins/plugin_utils/deferred.py).
_SCRAM_VERIFIER_FOR = deferred("secrets", "scram_verifier_for")
_FINGERPRINT_MATCHES = deferred("secrets", "fingerprint_matches")
_CERTIFICATE_RENEWAL = deferred("secrets", "certificate_renewal")
_KEY_PROBLEM = deferred("secrets", "key_problem")
_REPLACED_LOGINS = deferred("secrets", "replaced_logins")


def scram_verifier(password, current=None):
    return _SCRAM_VERIFIER_FOR(str(password), current or None)


def fingerprint_matches(secret, found):
    return _FINGERPRINT_MATCHES(str(secret), found)


def certificate_renewal(pem, ca, names, days):
    return _CERTIFICATE_RENEWAL(pem, ca, list(names), days)


def key_problem(certificate, key):
    return _KEY_PROBLEM(str(certificate), str(key))


def replaced_logins(pairs, verifiers, rotate):
    return _REPLACED_LOGINS(list(pairs), verifiers, rotate)


# Those that take their arguments as the templates give them.
AS_GIVEN = (
    "login_dependents",
    "fingerprint_dependents",
    "replaced_fingerprints",
    "pem_bundle",
    "certificate_problem",
    "certificate_common_name",
    "role_in_place",
)


class FilterModule:
    def filters(self):
        return {
            "scram_verifier": scram_verifier,
            "fingerprint_matches": fingerprint_matches,
            "certificate_renewal": certificate_renewal,
            "key_problem": key_problem,
            "replaced_logins": replaced_logins,
        } | {name: deferred("secrets", name) for name in AS_GIVEN}
