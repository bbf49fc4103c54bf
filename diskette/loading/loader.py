"""Fixtures → database, all in ONE transaction, with ``loaddata``'s semantics.

Objects are deserialized with forward references allowed, saved with
``raw=True`` signals as ``loaddata`` saves them, constraint checks are disabled
during the load and run at the end on every table written, and sequences are
reset afterwards. Any error rolls the whole transaction back.

How objects reach the database is the job of a saver: :class:`Saver` saves
object by object exactly as ``loaddata`` does; :class:`BatchSaver` (the default)
inserts rows per model in batches where that gives the same rows, and falls back
to the exact save everywhere else. Forward references are finished at the end
(:mod:`diskette.loading.deferral`), and errors name their object (:mod:`diskette.loading.errors`).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.management.color import no_style
from django.core.management.sql import emit_post_migrate_signal, sql_flush
from django.core.serializers.base import DeserializationError
from django.db import (
    DatabaseError,
    IntegrityError,
    connections,
    reset_queries,
    transaction,
)
from django.db.models import Model

from diskette.exceptions import (
    IntegrityLoadError,
    LoadError,
    LoadInProgressError,
    ManifestError,
)
from diskette.loading.batch import BatchSaver
from diskette.loading.caches import clear_caches
from diskette.loading.collector import FORGET_QUERIES_EVERY, Collector
from diskette.loading.constraints import ForeignKeys, set_aside
from diskette.loading.deferral import DeferredObjects, finish_deferred, save_deferred
from diskette.loading.errors import broken_reference, one_line
from diskette.loading.exactness import Exactness
from diskette.loading.fixtures import deserialize
from diskette.loading.natural_keys import NaturalKeyCache
from diskette.loading.savers import LoadState, Saver
from diskette.loading.sql import BATCH_SIZE, save_object
from diskette.manifest import DataFile, check_counts
from diskette.readers import FORMATS, STREAMED, FixtureLimitError
from diskette.reporter import Reporter

__all__ = [
    "BATCH_SIZE",
    "FORMATS",
    "BatchSaver",
    "DeferredObjects",
    "Fixture",
    "LoadedFixture",
    "LoadState",
    "Saver",
    "flush_database",
    "load_fixtures",
    "save_deferred",
    "save_object",
]


def installed_model(key: str) -> bool:
    """Whether a model label names a model of this project."""
    try:
        apps.get_model(key)
    except (LookupError, ValueError):
        return False
    return True


def check_fixture_counts(
    expected: DataFile, counts: dict[Any, int], *, streamed: bool, skipped: bool
) -> None:
    """Refuse a fixture whose objects are not what its manifest entry records.

    Raw counts (``streamed``) are compared in full; deserialized ones, when the
    deserializer ``skipped`` objects of models this project lacks, on its models.
    """
    try:
        check_counts(
            expected,
            counts,
            comparable=None if streamed or not skipped else installed_model,
        )
    except ManifestError as error:
        raise ManifestError(f"{error}; the database is unchanged") from None


@dataclass(frozen=True)
class Fixture:
    """One fixture to load: its name (for messages), file and serialization format."""

    name: str
    path: Path
    format: str = "json"


@dataclass
class LoadedFixture:
    """What one fixture loaded: objects saved (and read), per model label."""

    name: str
    objects: int = 0
    read: int = 0
    models: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def flush_database(using: str) -> None:
    """Empty every table Django knows, as ``manage.py flush`` does.

    Run inside the load's transaction; content types and permissions are created
    again by the ``post_migrate`` handlers, as after ``flush``.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        # TRUNCATE refuses tables with pending deferred checks (rows written
        # earlier in an outer transaction): run those checks now.
        connection.check_constraints()
    statements = sql_flush(
        no_style(), connection, reset_sequences=True, allow_cascade=False
    )
    connection.ops.execute_sql_flush(statements)
    clear_caches()
    emit_post_migrate_signal(verbosity=0, interactive=False, db=using)


def load_fixtures(
    fixtures: Sequence[Fixture],
    *,
    using: str = "default",
    ignorenonexistent: bool = False,
    flush: bool = False,
    reporter: Reporter | None = None,
    saver: type[Saver] | None = None,
    signals: bool = True,
    exact: bool | Collection[str] | Exactness = False,
    expected: Sequence[DataFile | None] | None = None,
    before_load: Callable[[], None] | None = None,
    before_commit: Callable[[], None] | None = None,
) -> list[LoadedFixture]:
    """Load ``fixtures`` in order in one transaction; all or nothing.

    ``exact=True`` saves every object as ``loaddata`` does (Django's own
    deserializers, no natural key cache, no batch); a collection of model labels
    does so for those models only. ``signals=False`` sends no ``pre_save``,
    ``post_save`` or ``m2m_changed``. Raise :class:`LoadError` when data does not
    fit the models and :class:`IntegrityLoadError` when it breaks a constraint;
    the database is then exactly as before. ``expected`` holds the manifest
    entry of each fixture: the objects each one holds are counted as it is read
    and, when they are not what its entry records, :class:`ManifestError` is
    raised before the commit. ``before_load`` runs in the transaction after the
    flush and before the first fixture (content types are aligned there).
    """
    reporter = reporter or Reporter()
    _check_formats(fixtures)
    exactness = Exactness.of(exact)
    state = LoadState(
        using,
        signals=signals,
        reporter=reporter,
        cache=None if exactness.everything else NaturalKeyCache(using),
    )
    # Full collections would walk every object the load keeps (the natural key
    # cache, Django's own): young generations are collected every
    # FORGET_QUERIES_EVERY objects instead (see _load_one).
    collecting = gc.isenabled()
    gc.disable()
    try:
        with _load_errors():
            return _run(
                fixtures,
                state,
                saver or exactness,
                flush=flush,
                ignorenonexistent=ignorenonexistent,
                expected=expected,
                before_load=before_load,
                before_commit=before_commit,
            )
    finally:
        state.deferred.close()
        state.postponed.close()
        if state.cache is not None:
            state.cache.clear()
        if collecting:
            gc.enable()


def _check_formats(fixtures: Sequence[Fixture]) -> None:
    for fixture in fixtures:
        if fixture.format not in FORMATS:
            raise LoadError(
                f"data file {fixture.name!r} has format {fixture.format!r}; diskette "
                f"reads {', '.join(FORMATS)}"
            )


def _writer(state: LoadState, saver: type[Saver] | Exactness) -> Saver:
    """The saver of the load: the caller's, the exact one, or the batched one."""
    if not isinstance(saver, Exactness):
        return saver(state)
    exact = saver
    if exact.everything:
        state.reporter.detail("Every model takes the exact loaddata path")
        return Saver(state)
    return BatchSaver(state, exact)


def _run(
    fixtures: Sequence[Fixture],
    state: LoadState,
    saver: type[Saver] | Exactness,
    *,
    flush: bool,
    ignorenonexistent: bool,
    expected: Sequence[DataFile | None] | None,
    before_load: Callable[[], None] | None,
    before_commit: Callable[[], None] | None,
) -> list[LoadedFixture]:
    """The load's transaction: flush, fixtures, forward references, checks;
    ``saver`` is the caller's saver class, or the exactness that picks one."""
    using, reporter = state.using, state.reporter
    connection = connections[using]
    with transaction.atomic(using=using):
        if flush:
            reporter.detail("Flushing the database")
            flush_database(using)
            state.flushed = True
        with (
            connection.constraint_checks_disabled(),
            set_aside(connection, flushed=state.flushed) as foreign_keys,
        ):
            if before_load is not None:
                before_load()
            writer = _writer(state, saver)
            results = []
            for index, fixture in enumerate(fixtures):
                entry = expected[index] if expected is not None else None
                results.append(
                    _load_one(fixture, writer, ignorenonexistent, reporter, entry)
                )
            writer.close()
            finish_deferred(state, writer)
        _check_constraints(connection, state, foreign_keys)
        _reset_sequences(connection, state, reporter)
        if before_commit is not None:
            # The last statements of the transaction (the load journal's
            # marker); from here on the caller holds signals back.
            before_commit()
    return results


@contextmanager
def _load_errors() -> Iterator[None]:
    """The database's errors as diskette's; cached rows forgotten on any error."""
    try:
        yield
    except IntegrityError as error:
        # Raised at commit by deferred constraints the check above did not see.
        clear_caches()
        raise IntegrityLoadError(
            f"the loaded data breaks a database constraint: {one_line(error)}; "
            "the database is unchanged"
        ) from error
    except DatabaseError as error:
        clear_caches()
        if "database is locked" in str(error):
            # SQLite's busy timeout: another connection holds the write lock.
            raise LoadInProgressError(
                "the database is locked by another connection (a process writing "
                "to it, or an open shell): try again once it is done; the database "
                "is unchanged"
            ) from error
        # A table or column the data needs is missing: the schema is behind.
        raise LoadError(
            f"the database does not fit the data: {one_line(error)}; the database "
            "is unchanged (run manage.py migrate first)"
        ) from error
    except BaseException:
        clear_caches()
        raise


def _load_one(
    fixture: Fixture,
    writer: Saver,
    ignorenonexistent: bool,
    reporter: Reporter,
    expected: DataFile | None = None,
) -> LoadedFixture:
    result = LoadedFixture(name=fixture.name)
    total = expected.objects if expected is not None else None  # the manifest's
    # What the file holds: raw objects where the format streams them (those of
    # models --ignorenonexistent skips included), else the deserialized ones.
    counts: dict[Any, int] = {}
    streamed = fixture.format in STREAMED
    collector = Collector()
    started = time.monotonic()
    state = writer.state
    saved: dict[type[Model], int] = {}
    with open(fixture.path, "rb") as stream:
        try:
            objects = deserialize(
                stream,
                fixture.format,
                using=state.using,
                ignorenonexistent=ignorenonexistent,
                cache=state.cache,
                counts=counts,
            )
            for item in objects:
                result.read += 1
                if not streamed:
                    label = item.object._meta.label
                    counts[label] = counts.get(label, 0) + 1
                if result.read % FORGET_QUERIES_EVERY == 0:
                    # With DEBUG = True Django keeps the SQL of its last 9,000
                    # queries; batched inserts make that the largest memory user.
                    reset_queries()
                    collector.tick()
                if writer.add(item, fixture):
                    model = type(item.object)
                    saved[model] = saved.get(model, 0) + 1
                reporter.progress(fixture.name, result.read, total)
            writer.finish(fixture)
        except FixtureLimitError as error:
            raise LoadError(
                f"data file {fixture.name!r}: {error}; the database is unchanged"
            ) from error
        except DeserializationError as error:
            raise LoadError(
                f"data file {fixture.name!r} does not fit the models: "
                f"{one_line(error)}; the database is unchanged (use "
                "ignorenonexistent=True to skip fields that no longer exist)"
            ) from error
    if expected is not None:
        check_fixture_counts(
            expected, counts, streamed=streamed, skipped=ignorenonexistent
        )
    _tally(result, saved)
    result.seconds = time.monotonic() - started
    reporter.done()
    return result


def _tally(result: LoadedFixture, saved: dict[type[Model], int]) -> None:
    """Add the objects saved per model to ``result``, per ``Model._meta.label``
    (:func:`diskette.manifest.model_label`: the dump's and the manifest's form)."""
    for model, count in saved.items():
        label = model._meta.label
        result.models[label] = result.models.get(label, 0) + count
        result.objects += count


def _check_constraints(
    connection, state: LoadState, foreign_keys: ForeignKeys | None = None
) -> None:
    """The foreign key checks of every table written, once, at the end: the
    checks queued by the rows, then the foreign keys the load set aside added
    again (one validating query each, :mod:`diskette.loading.constraints`); a
    failure names the object, its field and the missing object."""
    if not state.tables and not (foreign_keys and foreign_keys.set_aside):
        return
    try:
        # In a savepoint: after a failure the transaction can still find the
        # row PostgreSQL does not name.
        with transaction.atomic(using=connection.alias):
            connection.check_constraints(table_names=sorted(state.tables))
            if foreign_keys is not None:
                foreign_keys.restore()
    except IntegrityError as error:
        raise IntegrityLoadError(
            broken_reference(error, connection.alias, state)
        ) from error


def _reset_sequences(connection, state: LoadState, reporter: Reporter) -> None:
    if not state.models:
        return
    statements = connection.ops.sequence_reset_sql(no_style(), list(state.models))
    if statements:
        reporter.detail("Resetting sequences")
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
