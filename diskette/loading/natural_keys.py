"""Natural keys → primary keys for one load, bounded, with few queries.

:class:`NaturalKeyCache` stands in front of ``get_by_natural_key``: one query per
distinct key instead of one per value, and none for the objects the load itself
writes (their keys are remembered). Keys pushed out of memory go to a private
SQLite file (:mod:`diskette.loading.spill`), so that memory stays flat at any size.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.serializers import base
from django.db import connections, models
from django.db.models.manager import BaseManager

from diskette.exceptions import DisketteError
from diskette.loading.spill import _Spill

#: Natural keys kept in memory per load (least recently used ones go to a
#: temporary file). An entry costs about 0.8 kB of RSS and a few objects that
#: every full garbage collection walks: at 50,000 entries a big load used 25 MB
#: more memory and 60 % more collection time than at 20,000, for a hit rate the
#: temporary file mostly makes up.
NATURAL_KEY_CACHE_SIZE = 20_000


class _QueryBlocked(Exception):
    """A natural_key() that needs a query: its model's keys are not remembered."""


class _Remembered:
    """A primary key learnt from a loaded object, not yet from a lookup."""

    __slots__ = ("pk",)

    def __init__(self, pk: Any):
        self.pk = pk


def _block(execute, sql, params, many, context):
    raise _QueryBlocked


class NaturalKeyCache:
    """``get_by_natural_key`` results per model, the most recent ones kept.

    Found objects are remembered, and so are the objects of this load
    (:meth:`remember`), under their ``natural_key()``, so that a reference to
    an object loaded earlier costs no query. Remembering is used only for models
    whose default manager does not filter rows and whose ``natural_key()`` reads
    no other row; its first answers per model are checked against a real
    ``get_by_natural_key``, and a model whose answer differs is never guessed
    again. A key missing now is not remembered: it may be loaded later (a
    forward reference).
    """

    #: Remembered answers checked per model against get_by_natural_key.
    CHECKS = 3

    def __init__(self, using: str, size: int | None = None):
        self.using = using
        self.size = NATURAL_KEY_CACHE_SIZE if size is None else size
        self.values: OrderedDict[tuple, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0
        #: Called with a model before a lookup in its table (a batched saver
        #: writes its pending rows first).
        self.before_lookup: Callable[[type[models.Model]], None] | None = None
        self._rememberable: dict[type[models.Model], bool] = {}
        self._checks: dict[type[models.Model], int] = {}
        #: Models whose every row was written by this load and remembered: a
        #: key they do not know is not in the table (yet).
        self.complete: set[type[models.Model]] = set()
        #: The remembered key of each (model, pk), to notice a row renamed.
        self._keys: dict[tuple, tuple] = {}
        self._spill = _Spill()
        self._fk_plans: dict[models.Field, tuple] = {}
        #: The highest integer primary key remembered per model.
        self._highest: dict[type[models.Model], int] = {}

    def rememberable(self, model: type[models.Model]) -> bool:
        """Whether ``model``'s natural keys may be learnt from loaded objects."""
        try:
            return self._rememberable[model]
        except KeyError:
            pass
        manager = model._default_manager
        # A multi-table inheritance child loaded raw holds only its own fields:
        # its natural_key() may read its parents' fields, which it does not have.
        result = (
            not model._meta.parents
            and hasattr(manager, "get_by_natural_key")
            and callable(getattr(model, "natural_key", None))
            and type(manager).get_queryset is BaseManager.get_queryset
        )
        self._rememberable[model] = result
        return result

    def remember(self, obj: models.Model) -> None:
        """Learn the natural key of an object this load writes."""
        model = type(obj)
        if obj.pk is None or not self.rememberable(model):
            self.complete.discard(model)
            return
        wrappers = connections[self.using].execute_wrappers
        # connection.execute_wrapper(_block), without a context manager's cost.
        wrappers.append(_block)
        try:
            key = tuple(obj.natural_key())
            cache_key = (model, None, key)
            hash(cache_key)
        except Exception:  # a query, or a key that cannot be a dict key
            self._rememberable[model] = False
            self.complete.discard(model)
            return
        finally:
            wrappers.pop()
        pk = obj.pk
        new = self._new_pk(model, pk)  # tracked for every key remembered
        previous = self._keys.get((model, pk))
        if previous is None and self._spill.rows and not new:
            spilled = self._spill.key(model._meta.label_lower, pk)
            previous = None if spilled is None else (model, None, spilled)
        if previous is not None and previous != cache_key:
            # The same row under another natural key: the old key is stale.
            self.distrust(model)
            return
        self._keys[(model, obj.pk)] = cache_key
        self._store(cache_key, _Remembered(obj.pk))

    def _new_pk(self, model: type[models.Model], pk: Any) -> bool:
        """Whether ``pk`` is above every integer primary key remembered for
        ``model`` (fixtures come in primary key order): then no spilled key
        can be its old one."""
        if type(pk) is not int:
            return False
        highest = self._highest.get(model)
        if highest is None or pk > highest:
            self._highest[model] = pk
            return True
        return False

    def _store(self, cache_key: tuple, value: Any) -> None:
        self.values[cache_key] = value
        self.values.move_to_end(cache_key)
        if len(self.values) > self.size:
            (model, _attname, key), value = self.values.popitem(last=False)
            if type(value) is _Remembered:
                # Kept on disk: a complete model must know every key it wrote.
                self._keys.pop((model, value.pk), None)
                self._spill.put(model._meta.label_lower, key, value.pk)

    def get(
        self,
        model: type[models.Model],
        key: Any,
        attname: str | None,
        *,
        guess_missing: bool = False,
    ) -> Any:
        """``getattr(get_by_natural_key(*key), attname)``, ``.pk`` when None.

        With ``guess_missing``, a key that a complete model does not know raises
        ``DoesNotExist`` without a query (a forward reference, deferred and then
        looked up for real).
        """
        try:
            cache_key = (model, attname, tuple(key))
            value = self.values[cache_key]
        except TypeError:  # an unhashable key: no cache
            cache_key = None
        except KeyError:
            pass
        else:
            self.values.move_to_end(cache_key)
            if type(value) is not _Remembered:
                self.hits += 1
                return value
            if self._checks.get(model, 0) >= self.CHECKS:
                self.hits += 1
                return value.pk
            return self._check(model, key, cache_key, value.pk)
        if attname is None and cache_key is not None and self._spill.rows:
            pk = self._spill.pk(model._meta.label_lower, cache_key[2])
            if pk is not None:
                if self._checks.get(model, 0) >= self.CHECKS:
                    self.hits += 1
                    return pk
                return self._check(model, key, cache_key, pk)
        self.misses += 1
        if guess_missing and attname is None and model in self.complete:
            raise model.DoesNotExist(f"{model._meta.label} {key!r} is not loaded yet")
        if self.before_lookup is not None and not (
            attname is None and self._rememberable.get(model)
        ):
            # Every written object of a rememberable model is known: a key that
            # is not is not in a pending batch either.
            self.before_lookup(model)
        value = self._lookup(model, key, attname)
        if cache_key is not None:
            self._store(cache_key, value)
        return value

    def _lookup(self, model: type[models.Model], key: Any, attname: str | None) -> Any:
        obj = model._default_manager.db_manager(self.using).get_by_natural_key(*key)
        return obj.pk if attname is None else getattr(obj, attname)

    def _check(self, model, key, cache_key, guess) -> Any:
        """Compare a remembered answer with the real lookup; stop guessing for
        ``model`` if they differ."""
        if self.before_lookup is not None:
            self.before_lookup(model)
        try:
            value = self._lookup(model, key, None)
        except Exception:
            self.distrust(model)
            raise
        if value != guess:
            self.distrust(model)
            self._store(cache_key, value)
        else:
            self._checks[model] = self._checks.get(model, 0) + 1
            self._store(cache_key, _Remembered(value))
        return value

    def write_pending_with(self, flush: Callable[[type[models.Model]], None]) -> None:
        """Have ``flush`` called with a model before each lookup in its table: a
        saver holding rows back writes those the lookup may need."""
        self.before_lookup = flush

    def mark_complete(self, model: type[models.Model]) -> None:
        """Record that every row ``model``'s table will hold is written by this
        load (its table was empty): a key it has not learnt is not there yet.
        Only a rememberable model can know that."""
        if self.rememberable(model):
            self.complete.add(model)

    def mark_incomplete(self, model: type[models.Model]) -> None:
        """Record that rows of ``model`` are written without being remembered."""
        self.complete.discard(model)

    def distrust(self, model: type[models.Model]) -> None:
        """Forget what was learnt from ``model``'s objects; look it up for real."""
        self._rememberable[model] = False
        self.complete.discard(model)
        for cache_key in [
            k
            for k, v in self.values.items()
            if k[0] is model and type(v) is _Remembered
        ]:
            del self.values[cache_key]
        for pair in [pair for pair in self._keys if pair[0] is model]:
            del self._keys[pair]
        self._spill.forget(model._meta.label_lower)

    def clear(self) -> None:
        self.values.clear()
        self._keys.clear()
        self._highest.clear()
        self._spill.close()

    def fk_value(self, field: models.Field, value: Any, defer: bool = False) -> Any:
        """``base.deserialize_fk_value`` through the cache; a missing natural key
        gives ``DEFER_FIELD`` when ``defer``, else raises."""
        if value is None:
            return None
        try:
            model, natural, attname, to_python = self._fk_plans[field]
        except KeyError:
            model, natural, attname, to_python = self._fk_plan(field)
        if natural and hasattr(value, "__iter__") and not isinstance(value, str):
            try:
                return self.get(model, value, attname, guess_missing=defer)
            except ObjectDoesNotExist:
                if defer:
                    return base.DEFER_FIELD
                raise
        return to_python(value)

    def _fk_plan(self, field: models.Field) -> tuple:
        """(target model, whether it has natural keys, the attname a natural
        key gives or None for the primary key, the target field's to_python)
        of a foreign key, worked out once."""
        model = field.remote_field.model
        field_name = field.remote_field.field_name
        pk = model._meta.pk
        plan = self._fk_plans[field] = (
            model,
            hasattr(model._default_manager, "get_by_natural_key"),
            None if pk.remote_field or field_name == pk.name else field_name,
            model._meta.get_field(field_name).to_python,
        )
        return plan

    def m2m_values(self, field: models.Field, value: Any, defer: bool = False) -> Any:
        """``base.deserialize_m2m_values`` through the cache."""
        model = field.remote_field.model
        natural = hasattr(model._default_manager, "get_by_natural_key")
        to_python = model._meta.pk.to_python
        try:
            items = iter(value)
        except TypeError as error:
            raise base.M2MDeserializationError(error, value) from error
        values = []
        pk = None
        try:
            for pk in items:
                if natural and hasattr(pk, "__iter__") and not isinstance(pk, str):
                    values.append(self.get(model, pk, None, guess_missing=defer))
                else:
                    values.append(to_python(pk))
        except DisketteError:
            raise
        except Exception as error:
            if isinstance(error, ObjectDoesNotExist) and defer:
                return base.DEFER_FIELD
            raise base.M2MDeserializationError(error, pk) from error
        return values
