"""Read a database's schema from the PostgreSQL catalog, in a form tests can compare."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

TABLES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version'
"""
COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
  AND c.relname <> 'alembic_version'
"""
CONSTRAINTS = """
SELECT c.relname, con.conname, pg_get_constraintdef(con.oid)
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname <> 'alembic_version'
"""
INDEXES = """
SELECT tablename, indexname, indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename <> 'alembic_version'
"""
ENUMS = """
SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'public' GROUP BY t.typname
"""
FOREIGN_KEYS = """
SELECT c.relname, con.conname,
       (SELECT array_agg(a.attname ORDER BY k.ord)
        FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num),
       ref.relname, con.confdeltype
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_class ref ON ref.oid = con.confrelid
WHERE con.contype = 'f'
"""
# Indexes as lists of column names, to check that foreign key columns lead one.
INDEX_COLUMNS = """
SELECT c.relname, i.relname,
       (SELECT array_agg(a.attname ORDER BY k.ord)
        FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(num, ord)
        LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.num),
       ix.indpred IS NOT NULL
FROM pg_index ix JOIN pg_class c ON c.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
"""
DELETE_RULES = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}


Query = Callable[[str], list[tuple]]


def rows(engine: sa.Engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql))]


def engine_query(engine: sa.Engine) -> Query:
    return lambda sql: rows(engine, sql)


def snapshot(query: Query) -> dict[str, object]:
    """Everything about the public schema that models and migrations must agree on.

    `query` runs one SQL statement and returns its rows: through SQLAlchemy here, or
    through psql inside a container in the Molecule verification.
    """
    return {
        "tables": sorted(query(TABLES)),
        "columns": sorted(query(COLUMNS)),
        "constraints": sorted(query(CONSTRAINTS)),
        "indexes": sorted(query(INDEXES)),
        "enums": sorted(query(ENUMS)),
    }


def foreign_keys(query: Query) -> dict[tuple[str, tuple[str, ...]], tuple[str, str]]:
    """(table, columns) -> (referenced table, delete rule)."""
    return {
        (table, tuple(columns)): (target, DELETE_RULES[rule])
        for table, _, columns, target, rule in query(FOREIGN_KEYS)
    }


def index_columns(query: Query) -> dict[str, list[tuple[str, ...]]]:
    """table -> the column lists of its indexes that can serve any query (not partial)."""
    found: dict[str, list[tuple[str, ...]]] = {}
    for table, _, columns, partial in query(INDEX_COLUMNS):
        if not partial:
            found.setdefault(table, []).append(tuple(columns))
    return found
