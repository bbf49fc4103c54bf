"""Forward references: objects that name others the load has not written yet.

A natural key that no row has yet is deferred, as ``loaddata`` defers it, so that
a load succeeds whatever the order of the data files:

* an object whose deferred value is a nullable foreign key or a many-to-many is
  saved at once without it, and finished at the end (:func:`finish_deferred`), as
  ``loaddata`` finishes it;
* an object whose deferred value is a foreign key that may not be NULL cannot be
  inserted without it (``loaddata`` fails there): it is *postponed*, kept whole
  and saved at the end, once what it names is written (:func:`save_postponed`).
  Postponed objects that name each other are saved in as many passes as their
  chain is long.

Both queues stay in flat memory (:class:`DeferredObjects`). The common case, no
forward reference, costs nothing here: every check starts from the object's
``deferred_fields``, empty then.
"""

from __future__ import annotations

import pickle
import tempfile
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from django.core.exceptions import ObjectDoesNotExist
from django.core.serializers.base import (
    DeserializationError,
    DeserializedObject,
    M2MDeserializationError,
    deserialize_fk_value,
    deserialize_m2m_values,
)
from django.db import DatabaseError, connections, transaction
from django.db.models import ManyToManyRel, ManyToOneRel, Model

from diskette.loading import postgres, sql
from diskette.loading.constraints import before_write
from diskette.loading.errors import Missing, missing, naming

if TYPE_CHECKING:
    from diskette.loading.exactness import Exactness
    from diskette.loading.savers import LoadState, Saver


class DeferredObjects:
    """Objects with forward references, finished at the end of the load, in the
    order they came.

    The most recent ``IN_MEMORY`` stay in memory; older ones are pickled to a
    private temporary file, so that memory stays flat however many there are.
    With ``saved`` (objects already written, finished later), an object is kept
    in memory until it is written: one still waiting in a batch may yet be changed
    by a receiver.
    """

    IN_MEMORY = 1000

    def __init__(self, *, saved: bool = True):
        self.items: deque[tuple[DeserializedObject, str]] = deque()
        self.spilled = 0
        self.saved = saved
        self._file = None

    def append(self, entry: tuple[DeserializedObject, str]) -> None:
        items = self.items
        items.append(entry)
        while len(items) > self.IN_MEMORY and not (
            self.saved and items[0][0].object._state.adding
        ):
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
        self.spilled = 0
        if self._file is not None:
            self._file.close()
            self._file = None


def blocks_insert(item: DeserializedObject) -> bool:
    """Whether a deferred value leaves a foreign key that may not be NULL
    empty: its row cannot be inserted before the object it names."""
    obj = item.object
    for field in item.deferred_fields:
        if (
            not field.null
            and not field.many_to_many
            and getattr(obj, field.attname) is None
        ):
            return True
    return False


def resolve(item: DeserializedObject, state: LoadState) -> None:
    """Set every deferred value of ``item`` (foreign key columns and
    many-to-many lists), with real lookups; :class:`Missing` for a natural key
    that names no row."""
    obj = item.object
    cache = state.cache
    using = state.using
    label = obj._meta.label_lower
    for field, value in item.deferred_fields.items():
        if isinstance(field.remote_field, ManyToManyRel):
            try:
                values = (
                    deserialize_m2m_values(field, value, using, False)
                    if cache is None
                    else cache.m2m_values(field, value)
                )
            except M2MDeserializationError as error:
                if isinstance(error.original_exc, ObjectDoesNotExist):
                    raise Missing(field, error.pk) from error.original_exc
                raise DeserializationError.WithData(
                    error.original_exc, label, obj.pk, error.pk
                ) from error
            item.m2m_data[field.name] = values
        elif isinstance(field.remote_field, ManyToOneRel):
            try:
                converted = (
                    deserialize_fk_value(field, value, using, False)
                    if cache is None
                    else cache.fk_value(field, value)
                )
            except ObjectDoesNotExist as error:
                raise Missing(field, value) from error
            except Exception as error:
                raise DeserializationError.WithData(
                    error, label, obj.pk, value
                ) from error
            setattr(obj, field.attname, converted)


def save_deferred(item: DeserializedObject, state: LoadState) -> None:
    """``DeserializedObject.save_deferred_fields``, with or without signals,
    natural keys through the load's cache when it has one."""
    # Saved before (and maybe unpickled since): as loaddata's object is now.
    item.object._state.db = state.using
    item.object._state.adding = False
    item.m2m_data = {}
    resolve(item, state)
    sql.save_object(item, state.using, signals=state.signals)


class _Source(NamedTuple):
    """The data file a postponed object came from, as a saver names it."""

    name: str


def save_postponed(state: LoadState, writer: Saver) -> None:
    """Save the postponed objects through ``writer`` (batched where it can),
    each once what it names is written: pass after pass while one succeeds; the
    first left names what is missing."""
    if len(state.postponed):
        state.reporter.detail(
            f"Inserting {len(state.postponed)} objects whose foreign keys name "
            "objects loaded after them"
        )
    while len(state.postponed):
        queue, state.postponed = state.postponed, DeferredObjects(saved=False)
        saved = 0
        try:
            for item, name in queue:
                try:
                    with naming(item, name, state):
                        resolve(item, state)
                except Missing:
                    state.postponed.append((item, name))
                    continue
                # Complete now: an object like any other for the saver.
                item.deferred_fields = {}
                writer.add(item, _Source(name))
                saved += 1
        finally:
            queue.close()
        writer.close()
        if not saved:
            # Nothing could be saved: the first one left names what is missing.
            item, name = next(iter(state.postponed))
            with missing(item, name), naming(item, name, state):
                resolve(item, state)


def finish_deferred(state: LoadState, writer: Saver) -> None:
    """Save the postponed objects, then finish the saved ones with forward
    references, in the order they came.

    Without receivers to tell, objects whose deferred fields are all foreign keys
    get the UPDATE of ``save_base(raw=True)`` in batches (:class:`Updates`); the
    others (all of them when ``writer`` is not batched) are saved one by one,
    exactly.
    """
    save_postponed(state, writer)
    exact = writer.exact
    if len(state.deferred):
        state.reporter.detail(
            f"Setting the forward references of {len(state.deferred)} objects"
        )
    updates = (
        Updates(state, exact)
        if state.cache is not None and not exact.everything
        else None
    )
    for item, name in state.deferred:
        with missing(item, name):
            if updates is not None:
                with naming(item, name, state):
                    queued = updates.add(item, name)
                if queued:
                    continue
                updates.flush()
            with naming(item, name, state):
                save_deferred(item, state)
    if updates is not None:
        updates.flush()


class Updates:
    """``save_base(raw=True)`` of saved objects whose rows exist, in batches: one
    UPDATE of every local non-primary-key column per object, run per model with
    ``executemany`` (on PostgreSQL, one ``UPDATE ... FROM (VALUES ...)`` per
    batch). A row met twice first writes what is pending, so the last save
    wins, as one by one."""

    def __init__(self, state: LoadState, exact: Exactness):
        self.state = state
        self.exact = exact
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
            and not self.exact.covers(model)
            and not meta.proxy
            and not meta.auto_created
            and all(getattr(model, n) is getattr(Model, n) for n in sql.SAVE_METHODS)
            and not any(
                getattr(f, "generated", False) or sql.own_placeholder(f, connection)
                for f in meta.local_concrete_fields
            )
        ):
            quote = connection.ops.quote_name
            # Names are quoted by the backend; values are parameters.
            statement = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608
                quote(meta.db_table),
                ", ".join(f"{quote(f.column)} = %s" for f in fields),
                quote(meta.pk.column),
            )
            bulk = None
            if connection.vendor == "postgresql":
                columns = [f.column for f in fields] + [meta.pk.column]
                bulk = (
                    meta.db_table,
                    columns,
                    postgres.column_types(connection, meta.db_table, columns),
                )
            plan = (statement, sql.preps(fields), meta.pk.get_db_prep_save, bulk)
        self.plans[model] = plan
        return plan

    def add(self, item: DeserializedObject, name: str) -> bool:
        """Queue the deferred save of ``item``; False when it must be exact."""
        state = self.state
        obj = item.object
        model = type(obj)
        if (state.signals and sql.has_receivers(model)) or obj.pk is None:
            return False
        plan = self._plan(model)
        if plan is None or any(
            not isinstance(deferred.remote_field, ManyToOneRel)
            or isinstance(deferred.remote_field, ManyToManyRel)
            for deferred in item.deferred_fields
        ):
            return False
        resolve(item, state)
        pending = self.pending.get(model)
        if pending is not None and obj.pk in pending[0]:
            self.flush()
            pending = None
        if pending is None:
            pending = self.pending[model] = (set(), [], [])
        pending[0].add(obj.pk)
        pending[2].append((item, name))
        connection = connections[self.using]
        _statement, preps, prep_pk, _bulk = plan
        row = sql.row_values(obj, preps, connection)
        row.append(prep_pk(obj.pk, connection))
        pending[1].append(row)
        if len(pending[1]) >= sql.BATCH_SIZE:
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
                    before_write(model, self.using)
                    statement, _preps, _prep_pk, bulk = self.plans[model]
                    if bulk is None:
                        cursor.executemany(statement, rows)
                    else:
                        table, columns, types = bulk
                        postgres.update_from_values(
                            connection, table, columns, types, rows
                        )
        except (DatabaseError, ValueError, TypeError):
            # Rolled back: one by one, so that the error names its object.
            for _pks, _rows, items in pending.values():
                for item, name in items:
                    with missing(item, name), naming(item, name, self.state):
                        save_deferred(item, self.state)
