"""The project's development tooling, used by the tests, scripts/ and bench/ alike.

pgserver: a private PostgreSQL server of the release's own binaries, started as the
postgres user in a temporary directory on a free port.
revisions: the migration scripts' head and order, as Alembic reads them.
"""
