"""Whether a database already records the head of the migration scripts, read cheaply.

Most runs of alembic_migrate find nothing to do, and most of such a run's time is the
import of Alembic and SQLAlchemy (well over half a second on a small host), not the
check itself. This module answers the common case with the standard library and
psycopg2 alone: the revision ids are read from the scripts' source (never executed),
the recorded revision with one connection and two queries. It answers only when it
is sure; whenever something is unusual (several heads, branch labels or dependencies,
a value that is not a literal, a script it cannot parse or whose imports cannot be
found, a query that fails) it answers None, and the module decides the usual way, with
Alembic, which also gives the error message. A connection that fails raises
CannotConnect instead: the usual path would wait as long to fail the same way.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import os
import re

try:
    import psycopg2
except ImportError:  # the module's usual path reports the missing library
    psycopg2 = None

# The names Alembic reads from a revision script, and the files it takes for scripts.
REVISION_NAMES = ("revision", "down_revision", "branch_labels", "depends_on")
SCRIPT_FILE = re.compile(r"^(?!\.#|__init__)[^/]*\.py$")


class CannotConnect(Exception):
    """The connection itself failed. The usual path would fail the same way after the
    same wait, so the module reports this one instead of waiting twice."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def single_head(script_location: str) -> str | None:
    """The one head revision of the scripts, from their source; None when unsure."""
    versions = os.path.join(script_location, "versions")
    env_py = os.path.join(script_location, "env.py")
    if not os.path.isfile(env_py) or not os.path.isdir(versions) or _parse(env_py) is None:
        return None
    revisions: set[str] = set()
    parents: set[str] = set()
    for name in os.listdir(versions):
        if not SCRIPT_FILE.match(name):
            continue
        values = _revision_values(os.path.join(versions, name))
        if values is None or not isinstance(values.get("revision"), str):
            return None
        if values.get("branch_labels") or values.get("depends_on"):
            return None
        down = values.get("down_revision")
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, (tuple, list)) and all(isinstance(item, str) for item in down):
            parents.update(down)
        elif down is not None:
            return None
        revisions.add(values["revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _parse(path: str) -> ast.Module | None:
    try:
        with open(path, encoding="utf-8") as source:
            return ast.parse(source.read(), path)
    except (OSError, SyntaxError, ValueError):
        return None


def _imports_resolve(tree: ast.Module, project_root: str) -> bool:
    """Whether every module a script imports at its top can be found (not imported:
    finding a module reads directories only), on the path or in the project's root,
    which env.py puts on the path. Alembic imports each script, so one that cannot be
    found fails the usual path."""
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level or not node.module:
                return False  # relative: only Alembic can tell
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if importlib.util.find_spec(top) is None and (
                importlib.machinery.PathFinder.find_spec(top, [project_root]) is None
            ):
                return False
    return True


def _revision_values(path: str) -> dict[str, object] | None:
    tree = _parse(path)
    # versions/NAME.py -> the project's root, two directories up from versions/.
    project_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(path))))
    if tree is None or not _imports_resolve(tree, project_root):
        return None
    values: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in REVISION_NAMES:
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError:
                return None
    return values


def recorded_head(script_location: str, **connect_args: object) -> str | None:
    """The head revision when the database records exactly it, else None.

    connect_args go to psycopg2.connect (host, port, user, password, dbname,
    connect_timeout, application_name).
    """
    head = single_head(script_location)
    if head is None or psycopg2 is None:
        return None
    try:
        connection = psycopg2.connect(**connect_args)
    except psycopg2.OperationalError as exc:
        raise CannotConnect(exc) from None
    except psycopg2.Error:
        return None
    try:
        with connection.cursor() as cursor:
            # Resolved through search_path, as Alembic's own check does.
            cursor.execute("SELECT to_regclass('alembic_version') IS NOT NULL")
            if not cursor.fetchone()[0]:
                return None
            cursor.execute("SELECT version_num FROM alembic_version")
            recorded = [row[0] for row in cursor.fetchall()]
    except psycopg2.Error:
        return None
    finally:
        connection.close()
    return head if recorded == [head] else None
