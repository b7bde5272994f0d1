"""Filters that import the collection's code they run when they are first called.

Ansible finds any one of the collection's filters by importing every filter file of the
collection, in each task's process (tests/unit/test_filter_imports.py), and most tasks
call none of ours: a filter file builds its filters with deferred() instead of importing
module_utils at its top.
"""

from __future__ import annotations

import importlib

MODULE_UTILS = "ansible_collections.backend_db.postgresql.plugins.module_utils"


def deferred(module: str, name: str):
    """The function `name` of the collection's module_utils `module`, imported at its
    first call; it takes the same arguments, by position or keyword."""

    def call(*args, **kwargs):
        return getattr(importlib.import_module(f"{MODULE_UTILS}.{module}"), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call
