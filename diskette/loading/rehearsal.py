"""The dry load: run a load in a transaction that is rolled back.

:func:`rehearse` tells what a load would write, or the error it would raise,
and leaves the database (its sequences too) as it was. The plan
(``diskette.api.plan_load``) puts it together with the migration comparison
(:mod:`diskette.migrations`) and the row counts (:mod:`diskette.loading.counting`);
their names stay importable from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError, connections, transaction

from diskette.exceptions import LoadError
from diskette.loading.caches import clear_caches
from diskette.loading.counting import PK_CHUNK, ModelRows, count_rows
from diskette.loading.loader import Fixture, LoadedFixture, load_fixtures
from diskette.loading.plan import LoadPlan, Problem
from diskette.migrations import (
    LEGACY_NOTE,
    AppMigrations,
    MigrationState,
    applied_migrations,
    check_migrations,
    compare_migrations,
    data_apps,
)

__all__ = [
    "LEGACY_NOTE",
    "PK_CHUNK",
    "AppMigrations",
    "LoadPlan",
    "MigrationState",
    "ModelRows",
    "Problem",
    "applied_migrations",
    "check_migrations",
    "compare_migrations",
    "count_rows",
    "data_apps",
    "rehearse",
]


def _sequences(using: str) -> dict[tuple[str, str], int]:
    """PostgreSQL sequence values: ``setval()`` is not undone by a rollback."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname, sequencename, last_value FROM pg_sequences "
            "WHERE last_value IS NOT NULL"
        )
        return {(schema, name): value for schema, name, value in cursor.fetchall()}


def _restore_sequences(using: str, before: dict[tuple[str, str], int]) -> None:
    """Put back any sequence the rehearsal lowered; never lower one."""
    if not before:
        return
    connection = connections[using]
    after = _sequences(using)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for key, value in before.items():
            if after.get(key, value) < value:
                name = f"{quote(key[0])}.{quote(key[1])}"
                cursor.execute(
                    "SELECT setval(%s::regclass, GREATEST(%s, last_value)) FROM "  # noqa: S608
                    + name,
                    [name, value],
                )


def rehearse(
    fixtures: Sequence[Fixture], *, using: str, **options: Any
) -> tuple[list[LoadedFixture], LoadError | None]:
    """Load ``fixtures`` as a real load does, then roll everything back.

    Returns what would be loaded, or the :class:`LoadError` the load would
    raise (it names the data file and the object). ``options`` are those of
    :func:`diskette.loading.loader.load_fixtures`; with ``expected``, a fixture whose
    objects are not what the manifest counts raises :class:`ManifestError`, at
    the moment the load would.
    """
    sequences = _sequences(using)
    results: list[LoadedFixture] = []
    error: LoadError | None = None
    try:
        with transaction.atomic(using=using):
            try:
                results = load_fixtures(fixtures, using=using, **options)
            except LoadError as failure:
                error = failure
            except DatabaseError as failure:
                error = LoadError(
                    f"the load would fail: {' '.join(str(failure).split())} (is the "
                    "database migrated?)"
                )
            transaction.set_rollback(True, using=using)
    finally:
        clear_caches()
        _restore_sequences(using, sequences)
    return results, error
