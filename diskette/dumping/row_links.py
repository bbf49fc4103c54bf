"""Natural keys and M2M values for the row path, without an instance per link.

For a model written from rows (:mod:`diskette.dumping.rows`), :class:`ForeignKeys`
and :class:`ManyValues` give the dumper, per chunk, the natural keys and M2M
values themselves, with the managers and orderings Django's own code uses
(see :mod:`diskette.dumping.prefetch` for the instance path). Natural keys are
remembered across chunks in a bounded :class:`KeyCache`, so a related object is
built once while its key stays there, and then without ``Model.__init__`` when
nothing can run on init (:func:`plain_instances`).

Each query selects its rows with a subquery over the chunk (a primary key range
of the dumped model), so that the SQL stays short (Django keeps the last queries
in memory when ``DEBUG`` is on) and no parameter limit applies; the one
exception is a short list (:data:`KEY_LIST_LIMIT` values at most) of keys that
the cache is missing.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict

from django.db.models import Manager, Model, QuerySet
from django.db.models.base import ModelState
from django.db.models.fields.files import FileDescriptor
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query import ModelIterable
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

from diskette.dumping.prefetch import RelatedLoader, ThroughTable

#: Natural keys remembered per related model (least recently used dropped first).
KEY_CACHE_SIZE = 10_000
#: Up to this many missing keys are fetched by value; more, by the chunk's subquery.
KEY_LIST_LIMIT = 500


class KeyCache:
    """Serialized values of related objects (natural keys), bounded, least recently used.

    One per related model and key column, shared by every foreign key and M2M
    field of a fixture that points there: a related object is instantiated once,
    not once per chunk and link, while the memory stays bounded.
    """

    def __init__(self, size: int = 0):
        self.size = size or KEY_CACHE_SIZE
        self.values: OrderedDict = OrderedDict()

    def __len__(self) -> int:
        return len(self.values)

    def lookup(self, keys) -> tuple[dict, list]:
        """``({key: value} found, [missing keys])``; found keys become recent."""
        values = self.values
        touch = values.move_to_end
        found: dict = {}
        missing: list = []
        for key in keys:
            value = values.get(key, _MISSING)
            if value is _MISSING:
                missing.append(key)
            else:
                found[key] = value
                touch(key)
        return found, missing

    def add(self, key, value) -> None:
        values = self.values
        if key in values:
            values.move_to_end(key)
        values[key] = value
        if len(values) > self.size:
            values.popitem(last=False)


_MISSING = object()


def plain_instances(model) -> bool:
    """Whether an instance holds exactly its row's values: nothing runs on init."""
    return (
        model.__init__ is Model.__init__
        and model.from_db.__func__ is Model.from_db.__func__
        and model.__setattr__ is Model.__setattr__
        and not pre_init.has_listeners(model)
        and not post_init.has_listeners(model)
    )


#: Descriptors whose ``__set__`` (if any) only stores the value in ``__dict__``.
_PLAIN_DESCRIPTORS = (DeferredAttribute, ForeignKeyDeferredAttribute, FileDescriptor)


def _plain_builder(queryset: QuerySet, using: str) -> tuple:
    """``(attnames, build(row))`` making what the queryset makes, or ``((), None)``.

    For a plain model and queryset, ``Model.from_db`` stores the row's values in
    the instance's ``__dict__`` and sets its state: ``build`` does only that,
    a few times faster (related objects are built by the hundred thousand).
    """
    model = queryset.model
    query = queryset.query
    plain = (
        plain_instances(model)
        and queryset._iterable_class is ModelIterable
        and not query.select_related
        and not query.annotations
        and not query.extra
        and query.deferred_loading == (frozenset(), True)
        and not queryset._prefetch_related_lookups
        and not queryset._known_related_objects
    )
    attnames = tuple(field.attname for field in model._meta.concrete_fields)
    if not plain or any(
        type(inspect.getattr_static(model, name, None)) not in _PLAIN_DESCRIPTORS
        for name in attnames
    ):
        return (), None
    new = model.__new__

    def build(row):
        obj = new(model)
        state = ModelState()
        state.adding = False
        state.db = using
        obj.__dict__["_state"] = state
        obj.__dict__.update(zip(attnames, row, strict=True))
        return obj

    return attnames, build


class _Keys:
    """Natural keys of related objects by key value, through a :class:`KeyCache`."""

    def __init__(self, queryset: QuerySet, key: str, lookup: str, using: str, cache):
        self.queryset = queryset.order_by()
        self.key = key
        self.lookup = lookup
        self.cache = cache
        self.nested = RelatedLoader.for_natural_key(queryset.model, using, 1)
        self.attnames, self.build = _plain_builder(self.queryset, using)

    def get(self, keys, subquery: QuerySet) -> dict:
        """``{key: natural key}`` for ``keys``; ``subquery`` selects them all."""
        found, missing = self.cache.lookup(keys)
        if not missing:
            return found
        if len(missing) <= KEY_LIST_LIMIT:
            queryset = self.queryset.filter(**{f"{self.key}__in": missing})
        else:
            queryset = self.queryset.filter(**{self.lookup: subquery})
        if self.build is None:
            related = list(queryset)
        else:
            build = self.build
            related = [build(row) for row in queryset.values_list(*self.attnames)]
        if self.nested is not None:
            self.nested.attach(related, queryset)
        add = self.cache.add
        for item in related:
            # What the serializer does with the related object: ``if related:``.
            value = item.natural_key() if item else None
            key = getattr(item, self.key)
            found[key] = value
            add(key, value)
        return found

    def fetch_one(self, key):
        """The natural key of one object, as the descriptor would fetch it (or raise)."""
        item = self.queryset.get(**{self.key: key})
        return item.natural_key() if item else None


def _cache_key(model, key: str, manager, role: str) -> tuple:
    """Which :class:`KeyCache` serves a link: one per model, key and kind of manager.

    Foreign keys read related objects through the base manager, M2M fields
    through the default one: they share a cache only when both managers build
    the same objects (neither changes Django's queryset).
    """
    plain = (
        type(manager).get_queryset is Manager.get_queryset
        and manager._queryset_class is QuerySet
    )
    return (model, key, "plain" if plain else role)


class ForeignKeys:
    """A foreign key written as a natural key: ``{value: natural key}`` per chunk."""

    def __init__(self, field, using: str, caches: dict):
        model = field.remote_field.model
        self.name = field.name
        self.attname = field.attname
        key = field.target_field.attname
        manager = model._base_manager
        self.keys = _Keys(
            manager.db_manager(using).all(),
            key,
            f"{field.target_field.name}__in",
            using,
            caches.setdefault(_cache_key(model, key, manager, "base"), KeyCache()),
        )

    def get(self, values, source: QuerySet) -> dict:
        wanted = set(values)
        wanted.discard(None)
        return self.keys.get(wanted, source.values(self.attname))


class ManyValues(ThroughTable):
    """An auto-created M2M field: ``{source key: [values in Django's order]}`` per chunk.

    Only (source, target) pairs are read from the through table, and the targets'
    keys in the order (and with the filters) of the related model's default
    manager; with natural keys, the keys come from the :class:`KeyCache`. Without
    natural keys the values are the targets' primary keys, as they come from the
    database.
    """

    def __init__(self, field, using: str, natural: bool, caches: dict):
        super().__init__(field, using)
        model = field.remote_field.model
        key = self.target_key
        manager = model._default_manager
        queryset = manager.db_manager(using).all()
        if not queryset.ordered:
            queryset = queryset.order_by("pk")
        self.ordered = queryset.values_list(key, flat=True)
        self.keys = None
        if natural:
            self.keys = _Keys(
                queryset,
                key,
                self.target_lookup,
                using,
                caches.setdefault(
                    _cache_key(model, key, manager, "default"), KeyCache()
                ),
            )

    def get(self, source: QuerySet) -> dict:
        links = self.links.filter(
            **{f"{self.source_attname}__in": source.values(self.source_key)}
        )
        by_target: dict = {}
        for origin, target in links.values_list(
            self.source_attname, self.target_attname
        ).order_by():
            by_target.setdefault(target, []).append(origin)
        values: dict = {}
        if not by_target:
            return values
        targets = links.values(self.target_attname)
        ordered = list(self.ordered.filter(**{self.target_lookup: targets}))
        if self.keys is not None:
            keys = self.keys.get(ordered, targets)
        for target in ordered:
            value = keys[target] if self.keys is not None else target
            for origin in by_target.get(target, ()):
                values.setdefault(origin, []).append(value)
        return values
