"""Fixtures → database, all in ONE transaction, with ``loaddata``'s semantics.

Objects are deserialized with forward references allowed, saved with
``raw=True`` signals as ``loaddata`` saves them, constraint checks are disabled
during the load and run at the end on every table written, and sequences are
reset afterwards. Any error rolls the whole transaction back.

How objects reach the database is the job of a :class:`Saver`; the default one
saves object by object exactly as ``loaddata`` does. A faster saver (batched per
model) can be plugged in through :func:`load_fixtures`'s ``saver`` argument.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.core import serializers
from django.core.management.color import no_style
from django.core.management.sql import emit_post_migrate_signal, sql_flush
from django.core.serializers.base import DeserializationError, DeserializedObject
from django.db import (
    IntegrityError,
    connections,
    router,
    transaction,
)
from django.db.models import Model

from diskette.exceptions import DisketteError, IntegrityLoadError, LoadError
from diskette.reporter import Reporter

#: Deserializer formats a fixture may have.
FORMATS = ("json", "jsonl", "xml", "yaml")


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


class LoadState:
    """What the load has done so far: models written and objects to finish."""

    def __init__(self, using: str):
        self.using = using
        self.models: set[type[Model]] = set()
        self.tables: dict[str, set[str]] = {}
        self.deferred: list[tuple[DeserializedObject, str]] = []

    def wrote(self, model: type[Model], fixture: str) -> None:
        if model not in self.models:
            self.models.add(model)
        self.tables.setdefault(model._meta.db_table, set()).add(fixture)
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            if through is not None and through._meta.auto_created:
                self.tables.setdefault(through._meta.db_table, set()).add(fixture)


class Saver:
    """Save deserialized objects one by one, exactly as ``loaddata`` does.

    A batched saver overrides :meth:`add` and :meth:`finish` (called once at the
    end of every fixture) and falls back to this one where it cannot be used.
    """

    def __init__(self, state: LoadState):
        self.state = state

    def add(self, item: DeserializedObject, fixture: Fixture) -> bool:
        """Save ``item``; return whether it was saved (routers may skip it)."""
        model = type(item.object)
        if not router.allow_migrate_model(self.state.using, model):
            return False
        self.state.wrote(model, fixture.name)
        try:
            item.save(using=self.state.using)
        except IntegrityError as error:
            raise IntegrityLoadError(
                f"data file {fixture.name!r}: could not load {_label(item)}: "
                f"{_one_line(error)}; the database is unchanged"
            ) from error
        except DisketteError:
            raise
        except Exception as error:
            # DatabaseError, ValueError, or whatever a pre_save/post_save receiver
            # raised: name the object; --traceback shows the chain.
            raise LoadError(
                f"data file {fixture.name!r}: could not load {_label(item)}: "
                f"{_one_line(error)}; the database is unchanged"
            ) from error
        if item.deferred_fields:
            self.state.deferred.append((item, fixture.name))
        return True

    def finish(self, fixture: Fixture) -> None:
        """Write whatever is pending for ``fixture``; nothing for this saver."""


def _label(item: DeserializedObject) -> str:
    meta = item.object._meta
    return f"{meta.app_label}.{meta.object_name}(pk={item.object.pk!r})"


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    cause = error.__cause__
    if (
        isinstance(error, DeserializationError)
        and cause is not None
        and str(cause)
        and str(cause) not in text
    ):
        text = f"{text} {cause}".strip()
    return " ".join(text.split())


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


def _table_fixtures(state: LoadState, message: str) -> list[str]:
    """The fixtures that wrote the tables a constraint error names."""
    names: set[str] = set()
    for table, fixtures in state.tables.items():
        if re.search(rf"\b{re.escape(table)}\b", message):
            names.update(fixtures)
    return sorted(names)


def load_fixtures(
    fixtures: Sequence[Fixture],
    *,
    using: str = "default",
    ignorenonexistent: bool = False,
    flush: bool = False,
    reporter: Reporter | None = None,
    saver: type[Saver] = Saver,
) -> list[FixtureResult]:
    """Load ``fixtures`` in order in one transaction; all or nothing.

    Raise :class:`LoadError` when data does not fit the models and
    :class:`IntegrityLoadError` when it breaks a constraint; the database is then
    exactly as before.
    """
    reporter = reporter or Reporter()
    for fixture in fixtures:
        if fixture.format not in FORMATS:
            raise LoadError(
                f"data file {fixture.name!r} has format {fixture.format!r}; diskette "
                f"reads {', '.join(FORMATS)}"
            )
    connection = connections[using]
    state = LoadState(using)
    results: list[FixtureResult] = []
    try:
        with transaction.atomic(using=using):
            if flush:
                reporter.detail("Flushing the database")
                flush_database(using)
            with connection.constraint_checks_disabled():
                writer = saver(state)
                for fixture in fixtures:
                    results.append(
                        _load_one(fixture, writer, ignorenonexistent, reporter)
                    )
                for item, name in state.deferred:
                    try:
                        item.save_deferred_fields(using=using)
                    except DeserializationError as error:
                        raise LoadError(
                            f"data file {name!r}: {_label(item)} refers to an object "
                            f"that no data file holds: {_one_line(error)}"
                        ) from error
            _check_constraints(connection, state)
            _reset_sequences(connection, state, reporter)
    except IntegrityError as error:
        # Raised at commit by deferred constraints the check above did not see.
        _clear_caches()
        raise IntegrityLoadError(
            f"the loaded data breaks a database constraint: {_one_line(error)}; "
            "the database is unchanged"
        ) from error
    except BaseException:
        _clear_caches()
        raise
    return results


def _load_one(
    fixture: Fixture, writer: Saver, ignorenonexistent: bool, reporter: Reporter
) -> FixtureResult:
    result = FixtureResult(name=fixture.name)
    started = time.monotonic()
    with open(fixture.path, "rb") as stream:
        objects: Iterable[DeserializedObject] = serializers.deserialize(
            fixture.format,
            stream,
            using=writer.state.using,
            ignorenonexistent=ignorenonexistent,
            handle_forward_references=True,
        )
        try:
            for item in objects:
                result.read += 1
                if writer.add(item, fixture):
                    result.objects += 1
                    label = item.object._meta.label_lower
                    result.models[label] = result.models.get(label, 0) + 1
                reporter.progress(fixture.name, result.read)
            writer.finish(fixture)
        except DeserializationError as error:
            raise LoadError(
                f"data file {fixture.name!r} does not fit the models: "
                f"{_one_line(error)}; the database is unchanged (use "
                "--ignorenonexistent to skip fields that no longer exist)"
            ) from error
    result.seconds = time.monotonic() - started
    reporter.done()
    return result


def _check_constraints(connection, state: LoadState) -> None:
    if not state.tables:
        return
    try:
        connection.check_constraints(table_names=sorted(state.tables))
    except IntegrityError as error:
        message = _one_line(error)
        where = _table_fixtures(state, message)
        source = f"data file {', '.join(repr(n) for n in where)}: " if where else ""
        raise IntegrityLoadError(
            f"{source}the loaded data breaks a database constraint: {message}; the "
            "database is unchanged (a referenced object is missing: add its "
            "definition to the dump)"
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
