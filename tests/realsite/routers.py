"""A database router that sends every unqualified query to one chosen alias.

The apps under test read through their default managers without ``using()``:
treebeard's ``find_problems``/``fix_tree``, mptt's ``rebuild``, guardian's
permission checks, taggit's managers. Seeding a PostgreSQL source and checking a
target database therefore pins those queries to that alias with :func:`pinned`;
unpinned, the router has no opinion and Django's defaults apply (diskette
itself always names its database).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_alias: ContextVar[str | None] = ContextVar("realsite_pinned_alias", default=None)


@contextmanager
def pinned(alias: str) -> Iterator[str]:
    """Route unqualified reads and writes to ``alias`` inside the block."""
    token = _alias.set(alias)
    try:
        yield alias
    finally:
        _alias.reset(token)


class PinnedRouter:
    """Routes to the pinned alias; without one, leaves the choice to Django."""

    def db_for_read(self, model, **hints) -> str | None:
        return _alias.get()

    def db_for_write(self, model, **hints) -> str | None:
        return _alias.get()

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        return None

    def allow_migrate(self, db, app_label, **hints) -> bool | None:
        return None
