"""Fixtures → database, all in ONE transaction, with ``loaddata``'s semantics.

Objects are deserialized with forward references allowed, saved with
``raw=True`` signals as ``loaddata`` saves them, constraint checks are disabled
during the load and run at the end on every table written, and sequences are
reset afterwards. Any error rolls the whole transaction back.

How objects reach the database is the job of a saver: :class:`Saver` saves
object by object exactly as ``loaddata`` does; :class:`BatchSaver` (the default)
inserts rows per model in batches where that gives the same rows, and falls back
to the exact save everywhere else. Forward references are finished at the end
(:mod:`diskette.load.deferral`), and errors name their object (:mod:`diskette.load.errors`).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Collection, Sequence
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
from diskette.load.batch import BatchSaver
from diskette.load.deferral import DeferredObjects, finish_deferred, save_deferred
from diskette.load.errors import broken_reference, one_line
from diskette.load.fixtures import deserialize
from diskette.load.natural_keys import NaturalKeyCache
from diskette.load.savers import LoadState, Saver
from diskette.load.sql import BATCH_SIZE, save_object
from diskette.manifest import DataFile, check_counts, model_key
from diskette.readers import FixtureLimitError
from diskette.reporter import Reporter

__all__ = [
    "BATCH_SIZE",
    "FORMATS",
    "BatchSaver",
    "DeferredObjects",
    "Fixture",
    "FixtureResult",
    "LoadState",
    "Saver",
    "flush_database",
    "load_fixtures",
    "save_deferred",
    "save_object",
]

#: Deserializer formats a fixture may have.
FORMATS = ("json", "jsonl", "xml", "yaml")
#: How often (in objects) the DEBUG query log is emptied.
FORGET_QUERIES_EVERY = 1000
#: Formats whose raw objects stream (:func:`diskette.load.fixtures.read_objects`):
#: every object a file holds is counted; others count what deserializes.
STREAMED = ("json", "jsonl")


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
class FixtureResult:
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
    _clear_caches()
    emit_post_migrate_signal(verbosity=0, interactive=False, db=using)


def _clear_caches() -> None:
    """Forget cached content types: their rows may have changed or rolled back."""
    if not apps.is_installed("django.contrib.contenttypes"):
        return
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


def load_fixtures(
    fixtures: Sequence[Fixture],
    *,
    using: str = "default",
    ignorenonexistent: bool = False,
    flush: bool = False,
    reporter: Reporter | None = None,
    saver: type[Saver] | None = None,
    signals: bool = True,
    exact: bool | Collection[str] = False,
    expected: Sequence[DataFile | None] | None = None,
    before_load: Callable[[], None] | None = None,
    before_commit: Callable[[], None] | None = None,
) -> list[FixtureResult]:
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
    for fixture in fixtures:
        if fixture.format not in FORMATS:
            raise LoadError(
                f"data file {fixture.name!r} has format {fixture.format!r}; diskette "
                f"reads {', '.join(FORMATS)}"
            )
    connection = connections[using]
    everything_exact = exact is True
    state = LoadState(
        using,
        signals=signals,
        reporter=reporter,
        cache=None if everything_exact else NaturalKeyCache(using),
    )
    results: list[FixtureResult] = []
    # Full collections would walk every object the load keeps (the natural key
    # cache, Django's own): young generations are collected every
    # FORGET_QUERIES_EVERY objects instead (see _load_one).
    collecting = gc.isenabled()
    gc.disable()
    try:
        with transaction.atomic(using=using):
            if flush:
                reporter.detail("Flushing the database")
                flush_database(using)
                state.flushed = True
            with connection.constraint_checks_disabled():
                if before_load is not None:
                    before_load()
                if saver is not None:
                    writer = saver(state)
                elif everything_exact:
                    reporter.detail("Every model takes the exact loaddata path")
                    writer = Saver(state)
                else:
                    writer = BatchSaver(state, exact_models=exact or ())
                for index, fixture in enumerate(fixtures):
                    entry = expected[index] if expected is not None else None
                    results.append(
                        _load_one(fixture, writer, ignorenonexistent, reporter, entry)
                    )
                writer.close()
                finish_deferred(state, writer)
            _check_constraints(connection, state)
            _reset_sequences(connection, state, reporter)
            if before_commit is not None:
                # The last statements of the transaction (the load journal's
                # marker); from here on the caller holds signals back.
                before_commit()
    except IntegrityError as error:
        # Raised at commit by deferred constraints the check above did not see.
        _clear_caches()
        raise IntegrityLoadError(
            f"the loaded data breaks a database constraint: {one_line(error)}; "
            "the database is unchanged"
        ) from error
    except DatabaseError as error:
        _clear_caches()
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
        _clear_caches()
        raise
    finally:
        state.deferred.close()
        state.postponed.close()
        if state.cache is not None:
            state.cache.clear()
        if collecting:
            gc.enable()
    return results


def _load_one(
    fixture: Fixture,
    writer: Saver,
    ignorenonexistent: bool,
    reporter: Reporter,
    expected: DataFile | None = None,
) -> FixtureResult:
    result = FixtureResult(name=fixture.name)
    # What the file holds: raw objects where the format streams them (those of
    # models --ignorenonexistent skips included), else the deserialized ones.
    counts: dict[Any, int] = {}
    streamed = fixture.format in STREAMED
    collector = _Collector()
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
                    key = model_key(item.object._meta.label)
                    counts[key] = counts.get(key, 0) + 1
                if result.read % FORGET_QUERIES_EVERY == 0:
                    # With DEBUG = True Django keeps the SQL of its last 9,000
                    # queries; batched inserts make that the largest memory user.
                    reset_queries()
                    collector.tick()
                if writer.add(item, fixture):
                    model = type(item.object)
                    saved[model] = saved.get(model, 0) + 1
                reporter.progress(fixture.name, result.read)
            writer.finish(fixture)
        except FixtureLimitError as error:
            raise LoadError(
                f"data file {fixture.name!r}: {error}; the database is unchanged"
            ) from error
        except DeserializationError as error:
            raise LoadError(
                f"data file {fixture.name!r} does not fit the models: "
                f"{one_line(error)}; the database is unchanged (use "
                "--ignorenonexistent to skip fields that no longer exist)"
            ) from error
    if expected is not None:
        check_fixture_counts(
            expected, counts, streamed=streamed, skipped=ignorenonexistent
        )
    for model, count in saved.items():
        label = model._meta.label_lower
        result.models[label] = result.models.get(label, 0) + count
        result.objects += count
    result.seconds = time.monotonic() - started
    reporter.done()
    return result


class _Collector:
    """Young-generation garbage collections while automatic ones are paused.

    Objects written in batches free themselves (their cycles are broken): a
    collection that finds almost nothing doubles the wait before the next one,
    one that finds garbage brings it back to every ``FORGET_QUERIES_EVERY``
    objects, so that cyclic garbage never piles up.
    """

    #: At most this many ticks between two collections.
    LONGEST = 64
    #: A collection that frees fewer objects found "almost nothing".
    LITTLE = 100

    def __init__(self):
        self.wait = 1
        self.ticks = 0

    def tick(self) -> None:
        """Called every ``FORGET_QUERIES_EVERY`` objects."""
        self.ticks += 1
        if self.ticks < self.wait:
            return
        self.ticks = 0
        if gc.collect(1) < self.LITTLE:
            self.wait = min(self.wait * 2, self.LONGEST)
        else:
            self.wait = 1


def _check_constraints(connection, state: LoadState) -> None:
    """The foreign key checks of every table written, once, at the end; a
    failure names the object, its field and the missing object."""
    if not state.tables:
        return
    try:
        # In a savepoint: after a failure the transaction can still find the
        # row PostgreSQL does not name.
        with transaction.atomic(using=connection.alias):
            connection.check_constraints(table_names=sorted(state.tables))
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
