"""Lookup secret: a secret kept in a file on the controller, made once and never again."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: secret
short_description: A generated secret kept on the controller, never re-made over one in use
description:
  - Returns the secret kept in I(file) (mode 0600 in a 0700 directory). The file may be
    encrypted with C(ansible-vault), so that a team commits and shares it; the run then
    needs the vault's password.
  - When the file is missing, the secret is made anew only when the hosts were read and
    nothing on them depends on it yet. The roles read each host first and record in the
    host's fact C(backend_db_secrets_in_use), by the name of the variable the secret is
    for, what depends on it (an empty string when nothing does). Until a role has read
    the host, and in check mode, the lookup returns a throw-away value that is never
    written, so only validation sees it.
  - When something depends on the secret and the file is missing, the lookup stops the
    run in one sentence naming the file, what depends on the secret and how to restore
    it. A file is never written over, so a lost secret is never replaced behind the
    operator's back.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _terms:
    description: The name of the variable the secret is for, such as C(backup_repo_cipher_pass).
    required: true
  file:
    description: The file on the controller that keeps the secret.
    type: path
    required: true
  length:
    description: How many characters (letters and digits) a new secret has.
    type: int
    default: 32
"""

EXAMPLES = r"""
app_database_owner_password: >-
  {{ lookup('backend_db.postgresql.secret', 'app_database_owner_password',
            file=backend_secrets_dir ~ '/backend_owner') }}
"""

RETURN = r"""
_raw:
  description: The secret.
  type: list
  elements: str
"""

import os  # noqa: E402
import secrets  # noqa: E402
import string  # noqa: E402
import tempfile  # noqa: E402

from ansible.errors import AnsibleError, AnsibleFileNotFound  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402

ALPHABET = string.ascii_letters + string.digits
IN_USE_FACT = "backend_db_secrets_in_use"
DOCS = "docs/operations.md, section Secrets"


def new_secret(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _position in range(length))


def plain_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def read_secret(path: str, read=plain_text) -> str | None:
    """The secret in the file (`read` decrypts one that ansible-vault encrypted), or None."""
    try:
        value = str(read(path)).rstrip("\n")
    except (FileNotFoundError, AnsibleFileNotFound):
        return None
    except OSError as error:
        raise AnsibleError(
            f"{path} cannot be read ({error.strerror}): make it readable by the controller's user."
        ) from None
    if not value:
        raise AnsibleError(f"{path} is empty: restore the secret it held from your backup ({DOCS})")
    return value


def keep_secret(path: str, value: str, read=plain_text) -> str:
    """Write a new secret whole, then link it into place: a file that appeared meanwhile
    wins and is returned (read as the lookup reads every file: one that ansible-vault
    encrypted is decrypted). The hosts of a run make their secrets at once, in separate
    processes: none ever sees the file before it holds the whole secret."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    descriptor, written = tempfile.mkstemp(prefix=".new-", dir=directory)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(value + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(written, path)
        except FileExistsError:
            return read_secret(path, read) or value
    finally:
        os.unlink(written)
    return value


def resolve(
    name: str, path: str, length: int, in_use: object, check_mode: bool, read=plain_text
) -> str:
    """The secret for variable `name`, kept in `path`; `in_use` is the host's fact."""
    value = read_secret(path, read)
    if value is not None:
        return value
    known = isinstance(in_use, dict) and name in in_use
    depends = in_use.get(name) if known else ""
    if depends:
        raise AnsibleError(
            f"{path} is missing on the controller, but {depends} depends on the {name} it held: "
            f"restore the file from your backup of it and run again (nothing was changed); "
            f"to replace the secret on purpose, follow {DOCS}."
        )
    if check_mode or not known:
        return new_secret(length)
    return keep_secret(path, new_secret(length), read)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        path = self.get_option("file")
        length = self.get_option("length")
        if length < 20:
            raise AnsibleError("The secret lookup's length must be 20 or more.")
        in_use = variables.get(IN_USE_FACT)
        check_mode = bool(variables.get("ansible_check_mode", False))
        # The loader decrypts a file that ansible-vault encrypted (a team may commit them so).
        read = self._loader.get_text_file_contents
        return [resolve(str(term), path, length, in_use, check_mode, read) for term in terms]
