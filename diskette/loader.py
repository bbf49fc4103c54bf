"""Fixtures → database, all in ONE transaction, with ``loaddata``'s semantics.

Objects are deserialized with forward references allowed, saved with
``raw=True`` signals as ``loaddata`` saves them, constraint checks are disabled
during the load and run at the end on every table written, and sequences are
reset afterwards. Any error rolls the whole transaction back.

How objects reach the database is the job of a :class:`Saver`. :class:`Saver`
saves object by object exactly as ``loaddata`` does; :class:`BatchSaver` (the
default) inserts rows per model in batches where that gives the same rows, and
falls back to the exact save everywhere else.
"""

from __future__ import annotations

import gc
import pickle
import re
import tempfile
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.management.color import no_style
from django.core.management.sql import emit_post_migrate_signal, sql_flush
from django.core.serializers.base import (
    DeserializationError,
    DeserializedObject,
    M2MDeserializationError,
    deserialize_fk_value,
    deserialize_m2m_values,
)
from django.db import (
    DatabaseError,
    IntegrityError,
    connections,
    reset_queries,
    router,
    transaction,
)
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import (
    BinaryField,
    CharField,
    Field,
    ManyToManyRel,
    ManyToOneRel,
    Model,
    TextField,
)
from django.db.models.signals import m2m_changed, post_save, pre_save

from diskette.exceptions import (
    DisketteError,
    IntegrityLoadError,
    LoadError,
    LoadInProgressError,
    ManifestError,
)
from diskette.fixtures import NaturalKeyCache, deserialize
from diskette.manifest import DataFile, check_counts, model_key
from diskette.readers import FixtureLimitError
from diskette.reporter import Reporter

#: Deserializer formats a fixture may have.
FORMATS = ("json", "jsonl", "xml", "yaml")
#: How often (in objects) the DEBUG query log is emptied.
FORGET_QUERIES_EVERY = 1000
#: Formats whose raw objects stream (:func:`diskette.fixtures.read_objects`):
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


class DeferredObjects:
    """Objects with forward references, finished at the end of the load, in the
    order they came.

    The most recent ``IN_MEMORY`` stay in memory; older ones, once written, are
    pickled to a private temporary file, so that memory stays flat however many
    there are.
    """

    IN_MEMORY = 1000

    def __init__(self):
        self.items: deque[tuple[DeserializedObject, str]] = deque()
        self.spilled = 0
        self._file = None

    def append(self, entry: tuple[DeserializedObject, str]) -> None:
        items = self.items
        items.append(entry)
        # An object still waiting in a batch may yet be changed by a receiver.
        while len(items) > self.IN_MEMORY and not items[0][0].object._state.adding:
            if self._file is None:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115 - see close()
            pickle.dump(items.popleft(), self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self.spilled += 1

    def __len__(self) -> int:
        return self.spilled + len(self.items)

    def __iter__(self) -> Iterator[tuple[DeserializedObject, str]]:
        if self._file is not None:
            self._file.seek(0)
            for _ in range(self.spilled):
                yield pickle.load(self._file)  # noqa: S301 - written by append()
        yield from self.items

    def close(self) -> None:
        self.items.clear()
        if self._file is not None:
            self._file.close()
            self._file = None


class LoadState:
    """What the load has done so far: models written and objects to finish."""

    def __init__(
        self,
        using: str,
        *,
        signals: bool = True,
        reporter: Reporter | None = None,
        cache: NaturalKeyCache | None = None,
    ):
        self.using = using
        self.signals = signals
        self.reporter = reporter or Reporter()
        self.cache = cache
        self.models: set[type[Model]] = set()
        self.tables: dict[str, set[str]] = {}
        self.deferred = DeferredObjects()
        self._allowed: dict[type[Model], bool] = {}

    def allowed(self, model: type[Model]) -> bool:
        """Whether routers let ``model`` be written to this database."""
        try:
            return self._allowed[model]
        except KeyError:
            allowed = self._allowed[model] = router.allow_migrate_model(
                self.using, model
            )
            return allowed

    def wrote(self, model: type[Model], fixture: str) -> None:
        if model in self.models:
            self.tables[model._meta.db_table].add(fixture)
            return
        self.models.add(model)
        self.tables.setdefault(model._meta.db_table, set()).add(fixture)
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            if through is not None and through._meta.auto_created:
                self.tables.setdefault(through._meta.db_table, set()).add(fixture)


class Saver:
    """Save deserialized objects one by one, exactly as ``loaddata`` does.

    A batched saver overrides :meth:`add`, :meth:`finish` (called once at the
    end of every fixture) and :meth:`close` (once after the last fixture), and
    falls back to :meth:`save_exact` where it cannot be used.
    """

    def __init__(self, state: LoadState):
        self.state = state

    def add(self, item: DeserializedObject, fixture: Fixture) -> bool:
        """Save ``item``; return whether it was saved (routers may skip it)."""
        model = type(item.object)
        if not self.state.allowed(model):
            return False
        self.state.wrote(model, fixture.name)
        self.save_exact(item, fixture.name)
        if item.deferred_fields:
            self.state.deferred.append((item, fixture.name))
        return True

    def save_exact(self, item: DeserializedObject, fixture: str) -> None:
        """``loaddata``'s save of one object; errors name the object."""
        with _naming(item, fixture):
            save_object(item, self.state.using, signals=self.state.signals)

    def finish(self, fixture: Fixture) -> None:
        """Write whatever is pending for ``fixture``; nothing for this saver."""

    def close(self) -> None:
        """Write whatever is still pending; nothing for this saver."""


@contextmanager
def _naming(item: DeserializedObject, fixture: str):
    """Turn an error saving ``item`` into a LoadError naming it and its file."""
    try:
        yield
    except IntegrityError as error:
        raise IntegrityLoadError(
            f"data file {fixture!r}: could not load {_label(item)}: "
            f"{_one_line(error)}; the database is unchanged"
        ) from error
    except DisketteError:
        raise
    except Exception as error:
        # DatabaseError, ValueError, or whatever a pre_save/post_save receiver
        # raised: name the object; --traceback shows the chain.
        raise LoadError(
            f"data file {fixture!r}: could not load {_label(item)}: "
            f"{_one_line(error)}; the database is unchanged"
        ) from error


def save_object(item: DeserializedObject, using: str, *, signals: bool = True) -> None:
    """Save one object as ``loaddata`` does (``save_base(raw=True)``, then each
    many-to-many ``set()``); without ``signals``, the same writes, no signal."""
    if signals:
        item.save(using=using)
        return
    obj = item.object
    cls = obj.__class__
    if cls._meta.proxy:
        cls = cls._meta.concrete_model
    with transaction.mark_for_rollback_on_error(using=using):
        obj._save_table(raw=True, cls=cls, using=using)
    obj._state.db = using
    obj._state.adding = False
    for accessor, values in (item.m2m_data or {}).items():
        _set_quietly(getattr(obj, accessor), values, using)


def _set_quietly(manager, values, using: str) -> None:
    """A many-to-many ``set()`` that sends no signal: same rows, same order."""
    through = manager.through
    source, target = manager.source_field_name, manager.target_field_name
    old = set(
        manager.using(using).values_list(
            manager.target_field.target_field.attname, flat=True
        )
    )
    new = set()
    for value in values:
        fk = manager.target_field.get_prep_value(value)
        if fk in old:
            old.remove(fk)
        else:
            new.add(fk)
    pairs = [(source, target)]
    if manager.symmetrical:
        pairs.append((target, source))
    own = manager.related_val[0]
    table = through._base_manager.using(using)
    for src, tgt in pairs:
        if old:
            table.filter(**{f"{src}_id": own, f"{tgt}_id__in": old})._raw_delete(using)
        if new:
            table.bulk_create(
                [through(**{f"{src}_id": own, f"{tgt}_id": fk}) for fk in new],
                ignore_conflicts=True,
            )


def save_deferred(
    item: DeserializedObject,
    using: str,
    *,
    signals: bool = True,
    cache: NaturalKeyCache | None = None,
) -> None:
    """``DeserializedObject.save_deferred_fields``, with or without signals,
    natural keys through ``cache`` when given."""
    # Saved before (and maybe unpickled since): as loaddata's object is now.
    item.object._state.db = using
    item.object._state.adding = False
    if signals and cache is None:
        item.save_deferred_fields(using=using)
        return
    item.m2m_data = {}
    obj = item.object
    label = obj._meta.label_lower
    for deferred, value in item.deferred_fields.items():
        if isinstance(deferred.remote_field, ManyToManyRel):
            try:
                values = (
                    deserialize_m2m_values(deferred, value, using, False)
                    if cache is None
                    else cache.m2m_values(deferred, value)
                )
            except M2MDeserializationError as error:
                raise DeserializationError.WithData(
                    error.original_exc, label, obj.pk, error.pk
                ) from error
            item.m2m_data[deferred.name] = values
        elif isinstance(deferred.remote_field, ManyToOneRel):
            try:
                converted = (
                    deserialize_fk_value(deferred, value, using, False)
                    if cache is None
                    else cache.fk_value(deferred, value)
                )
            except Exception as error:
                raise DeserializationError.WithData(
                    error, label, obj.pk, value
                ) from error
            setattr(obj, deferred.attname, converted)
    save_object(item, using, signals=signals)


#: Objects kept per model before their rows are inserted.
BATCH_SIZE = 1000
_SAVE_METHODS = ("save_base", "_save_table", "_do_insert", "_do_update")


class _Batch:
    """Objects of one model waiting to be inserted, all from one fixture."""

    def __init__(self, fixture: str):
        self.fixture = fixture
        self.items: list[DeserializedObject] = []
        self.pks: set = set()


class BatchSaver(Saver):
    """Insert objects per model in batches where that gives ``loaddata``'s rows.

    A model is batched when its table and its many-to-many tables are empty when
    the load first meets it, and it is a plain model or a multi-table
    inheritance child (raw, it inserts its own table only; no proxy, overridden
    save internals or database-computed fields). Its objects are inserted ``BATCH_SIZE`` at a time with their primary keys,
    as ``save_base(raw=True)`` would insert them one by one, inside a savepoint:
    a batch that collides (the same primary key twice, a row already there) is
    rolled back alone and saved again object by object, exactly. Signals are
    sent as ``loaddata`` sends them (when they have receivers). Every other
    object takes the exact path; verbosity 2 says which models and why.
    """

    def __init__(self, state: LoadState, exact_models: Collection[str] = ()):
        super().__init__(state)
        self.exact_models = {label.lower() for label in exact_models}
        self.pending: dict[type[Model], _Batch] = {}
        self.reasons: dict[type[Model], str | None] = {}
        self.m2m: dict[tuple[type[Model], str], tuple | None] = {}
        if state.cache is not None:
            state.cache.before_lookup = self.before_lookup

    # -- routing ----------------------------------------------------------------

    def reason(self, model: type[Model]) -> str | None:
        """Why ``model`` takes the exact path, or None when it is batched."""
        try:
            return self.reasons[model]
        except KeyError:
            pass
        reason = self._reason(model)
        self.reasons[model] = reason
        label = model._meta.label
        if reason is None:
            self.state.reporter.detail(f"{label}: batched inserts")
        else:
            self.state.reporter.detail(f"{label}: exact loaddata path ({reason})")
        return reason

    def _reason(self, model: type[Model]) -> str | None:
        meta = model._meta
        using = self.state.using
        if meta.label_lower in self.exact_models:
            return "asked for"
        if meta.proxy:
            return "proxy model"
        if meta.auto_created:
            return "auto-created model"
        for name in _SAVE_METHODS:
            if getattr(model, name) is not getattr(Model, name):
                return f"overrides {name}()"
        for item in meta.concrete_fields:
            if getattr(item, "generated", False) or _has_db_default(item):
                return f"field {item.name!r} is computed by the database"
        for m2m in meta.local_many_to_many:
            through = m2m.remote_field.through
            if through._meta.auto_created and m2m.remote_field.symmetrical:
                return f"symmetrical many-to-many {m2m.name!r}"
        if model._base_manager.using(using).exists():
            return "its table already holds rows"
        cache = self.state.cache
        if cache is not None and cache.rememberable(model):
            cache.complete.add(model)
        for m2m in meta.local_many_to_many:
            through = m2m.remote_field.through
            if (
                through._meta.auto_created
                and through._base_manager.using(using).exists()
            ):
                return f"many-to-many table {through._meta.db_table!r} holds rows"
        return None

    def _m2m_plan(self, model: type[Model], name: str) -> tuple | None:
        """(through, source FK, target FK, source attname) of an auto-created
        many-to-many, or None when ``set()`` must do it."""
        key = (model, name)
        try:
            return self.m2m[key]
        except KeyError:
            pass
        plan = None
        try:
            m2m = model._meta.get_field(name)
        except Exception:
            m2m = None
        if m2m is not None and getattr(m2m, "many_to_many", False):
            through = m2m.remote_field.through
            if through._meta.auto_created and not m2m.remote_field.symmetrical:
                source = through._meta.get_field(m2m.m2m_field_name())
                target = through._meta.get_field(m2m.m2m_reverse_field_name())
                plan = (
                    through,
                    source,
                    target,
                    source.foreign_related_fields[0].attname,
                    m2m.remote_field.model,
                )
        self.m2m[key] = plan
        return plan

    # -- saving -----------------------------------------------------------------

    def add(self, item: DeserializedObject, fixture: Fixture) -> bool:
        obj = item.object
        model = type(obj)
        state = self.state
        if not state.allowed(model):
            return False
        pk = obj.pk
        batched = (
            self.reason(model) is None
            and pk is not None
            and all(self._m2m_plan(model, name) for name in item.m2m_data or ())
        )
        if not batched:
            if state.cache is not None:
                state.cache.complete.discard(model)
            self._before_exact(model)
            return super().add(item, fixture)
        state.wrote(model, fixture.name)
        if state.cache is not None:
            state.cache.remember(obj)
        batch = self.pending.get(model)
        if batch is not None and (batch.fixture != fixture.name or pk in batch.pks):
            self._flush(model)
            batch = None
        if batch is None:
            batch = self.pending[model] = _Batch(fixture.name)
        batch.items.append(item)
        batch.pks.add(pk)
        if item.deferred_fields:
            state.deferred.append((item, fixture.name))
        if len(batch.items) >= BATCH_SIZE:
            self._flush(model)
        return True

    def finish(self, fixture: Fixture) -> None:
        self.close()

    def close(self) -> None:
        for model in list(self.pending):
            self._flush(model)

    def before_lookup(self, model: type[Model]) -> None:
        """Insert the pending rows a natural key lookup in ``model`` may need."""
        for each in (model._meta.concrete_model, *model._meta.get_parent_list()):
            if each in self.pending:
                self._flush(each)

    def _before_exact(self, model: type[Model]) -> None:
        """Before an exact save: rows it may update, or that receivers may read,
        are written first."""
        if self.state.signals and _has_receivers(model):
            self.close()
        else:
            self.before_lookup(model)

    def _flush(self, model: type[Model]) -> None:
        batch = self.pending.pop(model, None)
        if batch is None or not batch.items:
            return
        state = self.state
        using = state.using
        items = batch.items
        signals = state.signals and _has_receivers(model)
        if signals:
            # Receivers may read any table: write everything else first.
            self.close()
            if pre_save.has_listeners(model) and self._collides(model, batch):
                self._redo(batch)
                return
            for item in items:
                with _naming(item, batch.fixture):
                    pre_save.send(
                        sender=model,
                        instance=item.object,
                        raw=True,
                        using=using,
                        update_fields=None,
                    )
        objs = [item.object for item in items]
        try:
            with transaction.atomic(using=using):
                _insert(model, objs, using)
        except (DatabaseError, ValueError, TypeError):
            self._redo(batch)
            return
        for obj in objs:
            obj._state.db = using
            obj._state.adding = False
        if signals and post_save.has_listeners(model):
            for item in items:
                with _naming(item, batch.fixture):
                    post_save.send(
                        sender=model,
                        instance=item.object,
                        created=True,
                        update_fields=None,
                        raw=True,
                        using=using,
                    )
        if not self._write_m2m(model, batch) and not signals:
            # No receiver saw them: break the objects' cycles (a file field's
            # FieldFile refers back to its object) so that they are freed now,
            # not by a full collection. Deferred objects are finished later.
            for item in items:
                if not item.deferred_fields:
                    item.object.__dict__.clear()

    def _collides(self, model: type[Model], batch: _Batch) -> bool:
        pks = list(batch.pks)
        manager = model._base_manager.using(self.state.using)
        step = 500
        return any(
            manager.filter(pk__in=pks[start : start + step]).exists()
            for start in range(0, len(pks), step)
        )

    def _redo(self, batch: _Batch) -> None:
        """Save a batch that cannot be inserted as is, object by object.

        Its objects may replace others: their natural keys are no longer guessed.
        """
        if self.state.cache is not None and batch.items:
            self.state.cache.distrust(type(batch.items[0].object))
        for item in batch.items:
            self.save_exact(item, batch.fixture)

    def _write_m2m(self, model: type[Model], batch: _Batch) -> bool:
        """The ``set()`` of every many-to-many of new objects: through rows in
        batches, ``m2m_changed`` pre_add/post_add around them when received.
        Return whether a signal was sent."""
        state = self.state
        using = state.using
        rows: dict[type[Model], tuple] = {}
        sent: list[tuple] = []
        for item in batch.items:
            if not item.m2m_data:
                continue
            obj = item.object
            for name, values in item.m2m_data.items():
                through, source, target, own, remote = self._m2m_plan(model, name)
                ids = set()
                for value in values:
                    ids.add(target.get_prep_value(value))
                if not ids:
                    continue
                if state.signals and m2m_changed.has_listeners(through):
                    signal = (through, obj, remote, ids, item)
                    self._m2m_changed("pre_add", signal, batch.fixture)
                    sent.append(signal)
                source_value = getattr(obj, own)
                pairs = rows.setdefault(through, (source, target, []))[2]
                for target_id in ids:
                    pairs.append((source_value, target_id))
        try:
            for through, (source, target, pairs) in rows.items():
                _insert_links(through, source, target, pairs, using)
        except IntegrityError as error:
            raise IntegrityLoadError(
                f"data file {batch.fixture!r}: could not link "
                f"{model._meta.label} objects: {_one_line(error)}; the database is "
                "unchanged"
            ) from error
        for signal in sent:
            self._m2m_changed("post_add", signal, batch.fixture)
        return bool(sent)

    def _m2m_changed(self, action: str, signal: tuple, fixture: str) -> None:
        through, obj, remote, ids, item = signal
        with _naming(item, fixture):
            m2m_changed.send(
                sender=through,
                action=action,
                instance=obj,
                reverse=False,
                model=remote,
                pk_set=ids,
                using=self.state.using,
            )


def _has_receivers(model: type[Model]) -> bool:
    return pre_save.has_listeners(model) or post_save.has_listeners(model)


def _has_db_default(item) -> bool:
    default = getattr(item, "db_default", None)
    if default is None:
        return False
    from django.db.models import NOT_PROVIDED

    return default is not NOT_PROVIDED


def _insert(model: type[Model], objs: list, using: str, *, pk: bool = True) -> None:
    """INSERT ``objs`` as ``save_base(raw=True)`` inserts one: the raw attribute
    values of the local concrete fields (primary key included when ``pk``),
    prepared by each field for the database, one statement run for all rows."""
    meta = model._meta
    fields = [
        f
        for f in meta.local_concrete_fields
        if not getattr(f, "generated", False) and (pk or f is not meta.pk)
    ]
    connection = connections[using]
    if any(_own_placeholder(f, connection) for f in fields):
        manager = model._base_manager.using(using)
        size = max(min(BATCH_SIZE, connection.ops.bulk_batch_size(fields, objs)), 1)
        for start in range(0, len(objs), size):
            manager._insert(
                objs[start : start + size], fields=fields, raw=pk, using=using
            )
        return
    quote = connection.ops.quote_name
    # Names are quoted by the backend; values are parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    preps = _preps(fields)
    rows = [_values(obj, preps, connection) for obj in objs]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _own_placeholder(field, connection) -> bool:
    """Whether ``field`` may want another SQL placeholder than ``%s`` (a
    ``BinaryField`` does on some backends, not on those whose
    ``binary_placeholder_sql`` is the default)."""
    method = getattr(type(field), "get_placeholder", None)
    if method is None:
        return False
    return not (
        method is BinaryField.get_placeholder
        and type(connection.ops).binary_placeholder_sql
        is BaseDatabaseOperations.binary_placeholder_sql
    )


def _preps(fields) -> list[tuple]:
    """(attname, ``get_db_prep_save``, whether a str or None goes to the database
    as it is) of each field."""
    return [(f.attname, f.get_db_prep_save, _passes_text(f)) for f in fields]


def _passes_text(field) -> bool:
    """Whether ``get_db_prep_save`` returns a str (or None) unchanged: a
    ``CharField`` or ``TextField`` (or a subclass) that changes none of it."""
    cls = type(field)
    return (
        cls.get_db_prep_save is Field.get_db_prep_save
        and cls.get_db_prep_value is Field.get_db_prep_value
        and any(
            cls.get_prep_value is text.get_prep_value
            and cls.to_python is text.to_python
            for text in (CharField, TextField)
        )
    )


def _values(obj: Model, preps: list[tuple], connection) -> list:
    """The database values of ``obj``'s fields, as ``get_db_prep_save`` gives
    them (text as it is: the same value, without five calls per field)."""
    row = []
    append = row.append
    for attname, prep, text in preps:
        value = getattr(obj, attname)
        if text and (type(value) is str or value is None):
            append(value)
        else:
            append(prep(value, connection))
    return row


def _insert_links(through, source, target, pairs: list, using: str) -> None:
    """INSERT many-to-many rows as ``add()`` does: the ids come from the table."""
    connection = connections[using]
    quote = connection.ops.quote_name
    table, columns = (
        quote(through._meta.db_table),
        (quote(source.column), quote(target.column)),
    )
    sql = f"INSERT INTO {table} ({columns[0]}, {columns[1]}) VALUES (%s, %s)"  # noqa: S608
    prep_source, prep_target = source.get_db_prep_save, target.get_db_prep_save
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                (prep_source(a, connection), prep_target(b, connection))
                for a, b in pairs
            ],
        )


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
    saver: type[Saver] | None = None,
    signals: bool = True,
    exact: bool | Collection[str] = False,
    expected: Sequence[DataFile | None] | None = None,
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
    raised before the commit.
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
            with connection.constraint_checks_disabled():
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
                _finish_deferred(
                    state,
                    writer.exact_models if isinstance(writer, BatchSaver) else None,
                )
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
            f"the loaded data breaks a database constraint: {_one_line(error)}; "
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
            f"the database does not fit the data: {_one_line(error)}; the database "
            "is unchanged (run manage.py migrate first)"
        ) from error
    except BaseException:
        _clear_caches()
        raise
    finally:
        state.deferred.close()
        if state.cache is not None:
            state.cache.clear()
        if collecting:
            gc.enable()
    return results


def _finish_deferred(state: LoadState, exact_models: set[str] | None) -> None:
    """Save the objects with forward references, in the order they came.

    Without receivers to tell, objects whose deferred fields are all foreign keys
    get the UPDATE of ``save_base(raw=True)`` in batches (:class:`_Updates`); the
    others (all of them when ``exact_models`` is None) are saved one by one,
    exactly.
    """
    updates = (
        _Updates(state, exact_models)
        if state.cache is not None and exact_models is not None
        else None
    )
    for item, name in state.deferred:
        with _missing(item, name):
            if updates is not None:
                with _naming(item, name):
                    queued = updates.add(item, name)
                if queued:
                    continue
                updates.flush()
            _save_deferred(item, name, state)
    if updates is not None:
        updates.flush()


def _save_deferred(item: DeserializedObject, name: str, state: LoadState) -> None:
    with _naming(item, name):
        save_deferred(item, state.using, signals=state.signals, cache=state.cache)


@contextmanager
def _missing(item: DeserializedObject, name: str):
    """Say so when a forward reference names an object that no fixture held."""
    try:
        yield
    except LoadError as error:
        if not isinstance(error.__cause__, DeserializationError):
            raise
        raise LoadError(
            f"data file {name!r}: {_label(item)} refers to an object "
            f"that no data file holds: {_one_line(error.__cause__)}"
        ) from error.__cause__


class _Updates:
    """``save_base(raw=True)`` of saved objects whose rows exist, in batches: one
    UPDATE of every local non-primary-key column per object, run per model with
    ``executemany``. A row met twice first writes what is pending, so the last
    save wins, as one by one."""

    def __init__(self, state: LoadState, exact_models: set[str]):
        self.state = state
        self.exact_models = exact_models
        self.using = state.using
        self.plans: dict[type[Model], tuple | None] = {}
        self.pending: dict[type[Model], tuple[set, list, list]] = {}

    def _plan(self, model: type[Model]) -> tuple | None:
        try:
            return self.plans[model]
        except KeyError:
            pass
        meta = model._meta
        fields = [f for f in meta.local_concrete_fields if not f.primary_key]
        plan = None
        connection = connections[self.using]
        if (
            fields
            and meta.label_lower not in self.exact_models
            and not meta.proxy
            and not meta.auto_created
            and all(getattr(model, n) is getattr(Model, n) for n in _SAVE_METHODS)
            and not any(
                getattr(f, "generated", False) or _own_placeholder(f, connection)
                for f in meta.local_concrete_fields
            )
        ):
            quote = connection.ops.quote_name
            # Names are quoted by the backend; values are parameters.
            sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608
                quote(meta.db_table),
                ", ".join(f"{quote(f.column)} = %s" for f in fields),
                quote(meta.pk.column),
            )
            plan = (sql, _preps(fields), meta.pk.get_db_prep_save)
        self.plans[model] = plan
        return plan

    def add(self, item: DeserializedObject, name: str) -> bool:
        """Queue the deferred save of ``item``; False when it must be exact."""
        state = self.state
        obj = item.object
        model = type(obj)
        if (state.signals and _has_receivers(model)) or obj.pk is None:
            return False
        plan = self._plan(model)
        if plan is None or any(
            not isinstance(deferred.remote_field, ManyToOneRel)
            or isinstance(deferred.remote_field, ManyToManyRel)
            for deferred in item.deferred_fields
        ):
            return False
        cache = state.cache
        label = obj._meta.label_lower
        for deferred, value in item.deferred_fields.items():
            try:
                converted = cache.fk_value(deferred, value)
            except Exception as error:
                raise DeserializationError.WithData(
                    error, label, obj.pk, value
                ) from error
            setattr(obj, deferred.attname, converted)
        pending = self.pending.get(model)
        if pending is not None and obj.pk in pending[0]:
            self.flush()
            pending = None
        if pending is None:
            pending = self.pending[model] = (set(), [], [])
        pending[0].add(obj.pk)
        pending[2].append((item, name))
        connection = connections[self.using]
        _sql, preps, prep_pk = plan
        row = _values(obj, preps, connection)
        row.append(prep_pk(obj.pk, connection))
        pending[1].append(row)
        if len(pending[1]) >= BATCH_SIZE:
            self.flush()
        return True

    def flush(self) -> None:
        """Run every queued UPDATE."""
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        connection = connections[self.using]
        try:
            with transaction.atomic(using=self.using), connection.cursor() as cursor:
                for model, (_pks, rows, _items) in pending.items():
                    cursor.executemany(self.plans[model][0], rows)
        except (DatabaseError, ValueError, TypeError):
            # Rolled back: one by one, so that the error names its object.
            for _pks, _rows, items in pending.values():
                for item, name in items:
                    with _missing(item, name):
                        _save_deferred(item, name, self.state)


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
                f"{_one_line(error)}; the database is unchanged (use "
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
