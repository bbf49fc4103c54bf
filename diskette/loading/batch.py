"""The batched saver: rows per model in batches where that gives ``loaddata``'s.

See :class:`BatchSaver`; objects it cannot batch take the exact save of
:class:`diskette.loading.savers.Saver`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.serializers.base import DeserializedObject
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_save, pre_save

from diskette.exceptions import IntegrityLoadError
from diskette.loading import sql
from diskette.loading.errors import naming, one_line
from diskette.loading.exactness import NOTHING, Exactness
from diskette.loading.passthrough import unchanged_types
from diskette.loading.rows import RowItem
from diskette.loading.savers import LoadState, Saver

if TYPE_CHECKING:
    from diskette.loading.loader import Fixture


class _Batch:
    """Objects of one model waiting to be inserted, all from one fixture;
    ``rows`` of them came with their rows (:class:`RowItem`)."""

    def __init__(self, fixture: str):
        self.fixture = fixture
        self.items: list[DeserializedObject] = []
        self.pks: set = set()
        self.rows = 0


class BatchSaver(Saver):
    """Insert objects per model in batches where that gives ``loaddata``'s rows.

    A model is batched when its table and its many-to-many tables are empty when
    the load first meets it, and it is a plain model or a multi-table
    inheritance child (raw, it inserts its own table only; no proxy, overridden
    save internals or database-computed fields). Its objects are inserted
    ``sql.BATCH_SIZE`` at a time with their primary keys, as
    ``save_base(raw=True)`` would insert them one by one, inside a savepoint:
    a batch that collides (the same primary key twice, a row already there) is
    rolled back alone and saved again object by object, exactly. Signals are
    sent as ``loaddata`` sends them (when they have receivers). Every other
    object takes the exact path; verbosity 2 says which models and why.

    The rows of objects that came with them (:mod:`diskette.loading.rows`) are
    inserted as they are, unless a ``pre_save`` receiver may have changed them.
    """

    def __init__(self, state: LoadState, exact: Exactness = NOTHING):
        super().__init__(state)
        self.exact = exact
        self.pending: dict[type[Model], _Batch] = {}
        self.reasons: dict[type[Model], str | None] = {}
        self.m2m: dict[tuple[type[Model], str], tuple | None] = {}
        #: Per model, how objects that came with their rows are added (see
        #: _route).
        self.routes: dict[type[Model], tuple[bool, frozenset] | None] = {}
        #: The columns of models whose objects came with rows, and their preps.
        self.columns: dict[type[Model], tuple[list, list]] = {}
        if state.cache is not None:
            state.cache.write_pending_with(self.before_lookup)

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
        if reason is None and self.state.cache is not None:
            # Its table was empty: every row it will hold comes from this load.
            self.state.cache.mark_complete(model)
        if reason is None:
            self.state.reporter.detail(f"{label}: batched inserts")
        else:
            self.state.reporter.detail(f"{label}: exact loaddata path ({reason})")
        return reason

    def _reason(self, model: type[Model]) -> str | None:
        """The first thing that keeps ``model`` off the batched path (a query)."""
        meta = model._meta
        using = self.state.using
        if self.exact.covers(model):
            return "asked for"
        if meta.proxy:
            return "proxy model"
        if meta.auto_created:
            return "auto-created model"
        for name in sql.SAVE_METHODS:
            if getattr(model, name) is not getattr(Model, name):
                return f"overrides {name}()"
        for item in meta.concrete_fields:
            if getattr(item, "generated", False) or sql.has_db_default(item):
                return f"field {item.name!r} is computed by the database"
        for m2m in meta.local_many_to_many:
            through = m2m.remote_field.through
            if through._meta.auto_created and m2m.remote_field.symmetrical:
                return f"symmetrical many-to-many {m2m.name!r}"
        if self.state.held_rows(model):
            return "its table already holds rows"
        for m2m in meta.local_many_to_many:
            through = m2m.remote_field.through
            if (
                through._meta.auto_created
                and through._base_manager.using(using).exists()
            ):
                return f"many-to-many table {through._meta.db_table!r} holds rows"
        return None

    def _m2m_plan(self, model: type[Model], name: str) -> tuple | None:
        """(through, source FK, target FK, source attname, target model, the
        target ids that are their own prepared value (see
        :func:`passthrough.unchanged_types`)) of an auto-created many-to-many,
        or None when ``set()`` must do it."""
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
                    unchanged_types(target, connections[self.state.using]),
                )
        self.m2m[key] = plan
        return plan

    # -- saving -----------------------------------------------------------------

    def add(self, item: DeserializedObject, fixture: Fixture) -> bool:
        if type(item) is RowItem:
            model = type(item.object)
            try:
                route = self.routes[model]
            except KeyError:
                route = self._route(model)
            if route is not None and (
                not item.m2m_data or item.m2m_data.keys() <= route[1]
            ):
                # What the rest does for a batched object, for one that came
                # with its row (no forward reference, its primary key known).
                name = fixture.name
                pk = item.pk
                batch = self.pending.get(model)
                if batch is None or batch.fixture != name:
                    self.state.wrote(model, name)
                if route[0]:
                    self.state.cache.remember(item.object)
                if batch is not None and (batch.fixture != name or pk in batch.pks):
                    self._flush(model)
                    batch = None
                if batch is None:
                    batch = self.pending[model] = _Batch(name)
                batch.items.append(item)
                batch.pks.add(pk)
                batch.rows += 1
                if len(batch.items) >= sql.BATCH_SIZE:
                    self._flush(model)
                return True
        obj = item.object
        model = type(obj)
        state = self.state
        if not state.allowed(model):
            return False
        if item.deferred_fields and state.postpone(item, fixture.name):
            return True
        pk = obj.pk
        batched = (
            self.reason(model) is None
            and pk is not None
            and all(self._m2m_plan(model, name) for name in item.m2m_data or ())
        )
        if not batched:
            if state.cache is not None:
                state.cache.mark_incomplete(model)
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
        if type(item) is RowItem:
            batch.rows += 1
        if item.deferred_fields:
            state.deferred.append((item, fixture.name))
        if len(batch.items) >= sql.BATCH_SIZE:
            self._flush(model)
        return True

    def _route(self, model: type[Model]) -> tuple[bool, frozenset] | None:
        """For objects that came with their rows: None when ``model`` is not
        batched (they take the general way), else whether they are remembered
        by their natural keys (a model that is not never will be), and the
        many-to-many fields written here (an object naming another takes the
        general way)."""
        state = self.state
        route = None
        if state.allowed(model) and self.reason(model) is None:
            route = (
                state.cache is not None and state.cache.rememberable(model),
                frozenset(
                    m2m.name
                    for m2m in model._meta.many_to_many
                    if self._m2m_plan(model, m2m.name)
                ),
            )
        self.routes[model] = route
        return route

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
        if self.state.signals and sql.has_receivers(model):
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
        signals = state.signals and sql.has_receivers(model)
        if signals:
            # Receivers may read any table: write everything else first.
            self.close()
            if pre_save.has_listeners(model) and self._collides(model, batch):
                self._redo(batch)
                return
            for item in items:
                with naming(item, batch.fixture, state):
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
                if batch.rows and not (signals and pre_save.has_listeners(model)):
                    # No receiver may have changed the objects since.
                    self._insert_rows(model, items)
                else:
                    sql.insert_rows(model, objs, using)
        except (DatabaseError, ValueError, TypeError):
            self._redo(batch)
            return
        for obj in objs:
            obj._state.db = using
            obj._state.adding = False
        if signals and post_save.has_listeners(model):
            for item in items:
                with naming(item, batch.fixture, state):
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

    def _insert_rows(self, model: type[Model], items: list) -> None:
        """``insert_rows`` of objects some of which came with their rows: those
        rows, and the others' made as it makes them, in the order they came."""
        using = self.state.using
        connection = connections[using]
        try:
            fields, preps = self.columns[model]
        except KeyError:
            fields = list(model._meta.local_concrete_fields)
            preps = sql.preps(fields)
            self.columns[model] = (fields, preps)
        rows = [
            item.row
            if type(item) is RowItem
            else sql.row_values(item.object, preps, connection)
            for item in items
        ]
        sql.insert_prepared(model, fields, rows, using)

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
                through, source, target, own, remote, same = self._m2m_plan(model, name)
                prep = target.get_prep_value
                ids = {
                    value if type(value) in same else prep(value) for value in values
                }
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
                sql.insert_links(through, source, target, pairs, using)
        except IntegrityError as error:
            raise IntegrityLoadError(
                f"data file {batch.fixture!r}: could not link "
                f"{model._meta.label} objects: {one_line(error)}; the database is "
                "unchanged"
            ) from error
        for signal in sent:
            self._m2m_changed("post_add", signal, batch.fixture)
        return bool(sent)

    def _m2m_changed(self, action: str, signal: tuple, fixture: str) -> None:
        through, obj, remote, ids, item = signal
        with naming(item, fixture, self.state):
            m2m_changed.send(
                sender=through,
                action=action,
                instance=obj,
                reverse=False,
                model=remote,
                pk_set=ids,
                using=self.state.using,
            )
