"""Doc fragment backend_db.postgresql.connection: how a module connects to PostgreSQL.

Written by scripts/write_doc_fragment.py from plugins/module_utils/connection.py, where
the options are stated once; edit them there.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  url:
    type: str
    description:
      - SQLAlchemy URL of the database, such as C(postgresql://user:password@host:5432/db).
      - Mutually exclusive with the login_* options.
  login_host:
    type: str
    default: ''
    aliases:
      - host
    description: Host to connect to. Empty means the Unix socket.
  login_port:
    type: int
    default: 5432
    aliases:
      - port
    description: Port to connect to.
  login_user:
    type: str
    description: Role to connect as. Unset, libpq's default (the operating-system
      user's name).
  login_password:
    type: str
    default: ''
    description: Password of O(login_user).
  login_unix_socket:
    type: str
    default: ''
    description: Directory of the Unix socket, used when O(login_host)
      is empty.
  login_db:
    type: str
    aliases:
      - db
    description: Database to connect to. Required unless O(url) is given.
  ssl_mode:
    type: str
    choices:
      - allow
      - disable
      - prefer
      - require
      - verify-ca
      - verify-full
    description:
      - How the connection uses TLS (libpq's C(sslmode)). Unset, libpq's
        default, C(prefer), which accepts any server and falls back to
        plain text. Over a network use C(verify-full) with O(ca_cert);
        the migrations role does whenever it connects over TCP.
      - With O(url), put C(sslmode) and the other keywords in its query
        string instead.
  ca_cert:
    type: path
    aliases:
      - ssl_rootcert
    description: File of the certificate authorities the server's certificate
      must chain to (libpq's C(sslrootcert)), for O(ssl_mode) C(verify-ca)
      or C(verify-full).
  ssl_cert:
    type: path
    description: Client certificate file (libpq's C(sslcert)), for C(cert)
      authentication.
  ssl_key:
    type: path
    description: Private key file of O(ssl_cert) (libpq's C(sslkey)).
  connect_params:
    type: dict
    default: {}
    description: Further libpq connection keywords, such as C(target_session_attrs)
      or C(sslcrl); they win over the options above.
  connect_timeout:
    type: int
    default: 10
    description: Seconds to wait for the connection to the server.
"""
