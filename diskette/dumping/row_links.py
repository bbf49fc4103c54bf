"""Natural keys and M2M values for the row path, without an instance per link.

For a model written from rows (:mod:`diskette.dumping.rows`), :class:`ForeignKeys`
and :class:`ManyValues` give the dumper, per chunk, the natural keys and M2M
values themselves, with the managers and orderings Django's own code uses
(see :mod:`diskette.dumping.prefetch` for the instance path). Natural keys are
remembered across chunks in a :class:`KeyCache` (``{key: natural key}``), so a
related row is fetched and built once per dump, without ``Model.__init__`` when
nothing can run on init (:func:`plain_instances`), while the cache holds at most
:data:`KEY_CACHE_SIZE` keys per related model; past that, the least recently
used keys are dropped and fetched again when a later chunk needs them.

A through table's rows are selected by the chunk's primary key range on their
own column (see :mod:`diskette.dumping.chunks`); the missing natural keys by
value, :data:`KEY_LIST_LIMIT` at most per query (and no more than the database
takes as parameters); the order of M2M values comes from
:mod:`diskette.dumping.target_order`.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from uuid import UUID

from django.db import connections
from django.db.models import (
    AutoField,
    BigAutoField,
    CharField,
    F,
    IntegerField,
    Lookup,
    Manager,
    Model,
    QuerySet,
    UUIDField,
)
from django.db.models.base import ModelState
from django.db.models.fields.files import FileDescriptor
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query import ModelIterable
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

from diskette.anonymise.active import hide_related
from diskette.dumping.chunks import ChunkRange
from diskette.dumping.prefetch import RelatedLoader, ThroughTable
from diskette.dumping.target_order import TargetOrder

#: Natural keys remembered per related model (least recently used dropped first):
#: the dump's memory budget for them, about 300 bytes a key (a tuple of two
#: short strings), so some 60 MiB per related model at most.
KEY_CACHE_SIZE = 200_000
#: Missing natural keys fetched by value per query, at most.
KEY_LIST_LIMIT = 5_000


class KeyCache:
    """Serialized values of related objects (natural keys), bounded, least recently used.

    One per related model and key column, shared by every foreign key and M2M
    field of a fixture that points there: a related object is fetched and
    instantiated once, not once per chunk and link, while the memory stays
    bounded. Which keys were used recently matters only once the cache is full
    (nothing is dropped before), so only then are hits made recent: a lookup in
    a cache that holds every key costs one dictionary access a key.
    """

    def __init__(self, size: int = 0):
        self.size = size or KEY_CACHE_SIZE
        self.values: OrderedDict = OrderedDict()

    def __len__(self) -> int:
        return len(self.values)

    def lookup(self, keys) -> tuple[dict, list]:
        """``({key: value} found, [missing keys])``; found keys become recent."""
        values = self.values
        get = values.get
        found: dict = {}
        missing: list = []
        touch = values.move_to_end if len(values) >= self.size else None
        for key in keys:
            value = get(key, _MISSING)
            if value is _MISSING:
                missing.append(key)
            else:
                found[key] = value
                if touch is not None:
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


#: Key fields whose values PostgreSQL compares with an array of them as they are.
_ARRAY_FIELDS = (AutoField, BigAutoField, IntegerField, CharField, UUIDField)
_ARRAY_TYPES = frozenset({int, str, UUID})


class _AnyOf(Lookup):
    """``column = ANY(%s)``: the keys as one array, for PostgreSQL.

    One parameter instead of one per key: the SQL is short, the same for every
    chunk, and neither Django nor the driver handles thousands of placeholders.
    """

    lookup_name = "diskette_any_of"  # used as an expression, never registered
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*params, self.rhs)


class _Keys:
    """Natural keys of related objects by key value, through a :class:`KeyCache`."""

    def __init__(self, queryset: QuerySet, key: str, using: str, cache):
        self.queryset = queryset.order_by()
        self.key = key
        self.cache = cache
        self.nested = RelatedLoader.for_natural_key(queryset.model, using, 1)
        self.attnames, self.build = _plain_builder(self.queryset, using)
        # An anonymised dump's rules, applied before natural_key() reads them.
        self.hide = hide_related(queryset.model)
        # Half the database's parameter limit: the manager's filters take some.
        connection = connections[using]
        most = connection.features.max_query_params
        key_field = self.queryset.model._meta.get_field(key)
        self.as_array = connection.vendor == "postgresql" and isinstance(
            key_field, _ARRAY_FIELDS
        )
        self.batch = max(1, min(KEY_LIST_LIMIT, most // 2 if most else KEY_LIST_LIMIT))

    def get(self, keys) -> dict:
        """``{key: natural key}`` for ``keys``: the cache's, and the missing ones fetched."""
        found, missing = self.cache.lookup(keys)
        batch = self.batch
        for start in range(0, len(missing), batch):
            self._fetch(missing[start : start + batch], found)
        return found

    def _fetch(self, keys: list, found: dict) -> None:
        """Fetch the natural keys of ``keys`` into ``found`` and the cache."""
        if self.as_array and all(type(key) in _ARRAY_TYPES for key in keys):
            queryset = self.queryset.filter(_AnyOf(F(self.key), keys))
        else:
            queryset = self.queryset.filter(**{f"{self.key}__in": keys})
        if self.build is None:
            related = list(queryset)
        else:
            build = self.build
            related = [build(row) for row in queryset.values_list(*self.attnames)]
        if self.hide is not None:
            for item in related:
                self.hide(item)
        if self.nested is not None:
            self.nested.attach(related, queryset)
        add = self.cache.add
        key = self.key
        for item in related:
            # What the serializer does with the related object: ``if related:``.
            value = item.natural_key() if item else None
            item_key = getattr(item, key)
            found[item_key] = value
            add(item_key, value)

    def fetch_one(self, key):
        """The natural key of one object, as the descriptor would fetch it (or raise)."""
        item = self.queryset.get(**{self.key: key})
        if self.hide is not None:
            self.hide(item)
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
            using,
            caches.setdefault(_cache_key(model, key, manager, "base"), KeyCache()),
        )

    def get(self, values) -> dict:
        """The natural keys of the related objects whose keys are ``values``."""
        wanted = set(values)
        wanted.discard(None)
        return self.keys.get(wanted)


class ManyValues(ThroughTable):
    """An auto-created M2M field: ``{source key: [values in Django's order]}`` per chunk.

    Only (source, target) pairs are read from the through table, selected by the
    chunk's range (:class:`~diskette.dumping.chunks.ChunkRange`), and put in the
    order (and with the filters) of the related model's default manager
    (:class:`~diskette.dumping.target_order.TargetOrder`); with natural keys, the
    keys come from the :class:`KeyCache`. Without natural keys the values are the
    targets' primary keys, as they come from the database.
    """

    def __init__(self, field, using: str, natural: bool, caches: dict):
        super().__init__(field, using)
        model = field.remote_field.model
        key = self.target_key
        manager = model._default_manager
        queryset = manager.db_manager(using).all()
        if not queryset.ordered:
            queryset = queryset.order_by("pk")
        self.order = caches.setdefault(
            ("order", model, key),
            TargetOrder(queryset.values_list(key, flat=True), self.target_lookup),
        )
        self.keys = None
        if natural:
            self.keys = _Keys(
                queryset,
                key,
                using,
                caches.setdefault(
                    _cache_key(model, key, manager, "default"), KeyCache()
                ),
            )

    def get(self, chunk: ChunkRange) -> dict:
        """``{source key: [values]}`` for the objects of ``chunk`` that have values."""
        links = chunk.pointing_here(
            self.links.all(), self.source_attname, self.source_key
        )
        by_target: dict = {}
        for origin, target in links.values_list(
            self.source_attname, self.target_attname
        ).order_by():
            by_target.setdefault(target, []).append(origin)
        values: dict = {}
        if not by_target:
            return values
        ordered = self.order.sort(by_target, links.values(self.target_attname))
        if self.keys is not None:
            keys = self.keys.get(ordered)
        for target in ordered:
            value = keys[target] if self.keys is not None else target
            for origin in by_target.get(target, ()):
                values.setdefault(origin, []).append(value)
        return values
