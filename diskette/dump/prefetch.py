"""Fetch, once per chunk of objects, what Django's serializer fetches once per object.

``dumpdata`` runs a query per object for each foreign key serialized as a natural
key and for each many-to-many field. :class:`RelatedLoader` runs them once per
chunk instead, with the managers and orderings Django's own code uses, and hands
the results to the serializer:

- a foreign key's related object goes into Django's field cache (what
  ``select_related`` does), fetched through the related model's base manager, as
  the forward descriptor does; a value it cannot find stays uncached, so that the
  serializer does exactly what it would have done (query, or raise);
- many-to-many values come from the related model's default manager, in its
  default ordering (by primary key when it has none), as the related manager
  has them.

What a related object's natural key reads is fetched too, as far as it is
declared in ``natural_key.dependencies`` (as Django's docs ask, and as
``auth.Permission`` does for its content type).

Each query selects its rows with a subquery over the chunk (a primary key range
of the dumped model), so that the SQL stays short (Django keeps the last queries
in memory when ``DEBUG`` is on) and no parameter limit applies; the one
exception is a short list (:data:`KEY_LIST_LIMIT` values at most) of keys that
the cache is missing.

For ``json`` and ``jsonl`` the dumper writes most models from rows
(:func:`diskette.dump.serializer.row_plan`): :class:`ForeignKeys` and
:class:`ManyValues` give it, per chunk, the natural keys and M2M values
themselves. Natural keys are remembered across chunks in a bounded
:class:`KeyCache`, so a related object is built once while its key stays there,
and then without ``Model.__init__`` when nothing can run on init
(:func:`plain_instances`).
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import closing

from django.apps import apps as django_apps
from django.db.models import Manager, Model, QuerySet
from django.db.models.base import ModelState
from django.db.models.fields.files import FileDescriptor
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query import ModelIterable
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

#: Attribute of a dumped object holding ``{m2m field name: [related objects]}``.
M2M_ATTRIBUTE = "_diskette_m2m"
#: How deep the natural keys of related objects are followed.
MAX_KEY_DEPTH = 3


def _key_dependencies(model) -> list:
    """Foreign keys of ``model`` to the models its natural key declares it reads."""
    targets = []
    for label in getattr(model.natural_key, "dependencies", None) or ():
        try:
            targets.append(django_apps.get_model(label))
        except (LookupError, ValueError):
            continue
    return [
        field
        for field in model._meta.concrete_fields
        if (field.many_to_one or field.one_to_one)
        and field.remote_field.model in targets
    ]


def _is_natural(model) -> bool:
    return hasattr(model, "natural_key")


def _single_column(field) -> bool:
    return len(field.foreign_related_fields) == 1


class _Foreign:
    """A foreign key serialized as a natural key: its related objects, per chunk."""

    def __init__(self, field, using: str, depth: int):
        self.field = field
        self.key = field.target_field.attname
        self.lookup = f"{field.target_field.name}__in"
        self.manager = field.remote_field.model._base_manager.db_manager(using)
        self.nested = RelatedLoader.for_natural_key(
            field.remote_field.model, using, depth + 1
        )

    def attach(self, objects: list, source: QuerySet) -> None:
        attname = self.field.attname
        queryset = self.manager.filter(
            **{self.lookup: source.values(attname)}
        ).order_by()
        found = {getattr(related, self.key): related for related in queryset}
        if not found:
            return
        if self.nested is not None:
            self.nested.attach(list(found.values()), queryset)
        for obj in objects:
            related = found.get(getattr(obj, attname))
            if related is not None:
                self.field.set_cached_value(obj, related)


class _Links:
    """The through table of an auto-created many-to-many field and its columns."""

    def __init__(self, field, using: str):
        self.name = field.name
        through = field.remote_field.through
        source = through._meta.get_field(field.m2m_field_name())
        target = through._meta.get_field(field.m2m_reverse_field_name())
        self.links = through._base_manager.db_manager(using)
        self.source_attname = source.attname
        self.source_key = source.target_field.attname
        self.target_attname = target.attname
        self.target_key = target.target_field.attname
        self.target_lookup = f"{target.target_field.name}__in"


class _Many(_Links):
    """An auto-created many-to-many field: its values, per chunk."""

    def __init__(self, field, using: str, natural: bool):
        super().__init__(field, using)
        model = field.remote_field.model
        queryset = model._default_manager.db_manager(using).all()
        if natural:
            self.nested = RelatedLoader.for_natural_key(model, using, 1)
        else:
            self.nested = None
            queryset = queryset.select_related(None).only("pk")
        if not queryset.ordered:
            queryset = queryset.order_by("pk")
        self.queryset = queryset

    def attach(self, objects: list, source: QuerySet, as_queryset: bool) -> None:
        values: dict = {getattr(obj, self.source_key): [] for obj in objects}
        links = self.links.filter(
            **{f"{self.source_attname}__in": source.values(self.source_key)}
        )
        by_target: dict = {}
        for origin, target in links.values_list(
            self.source_attname, self.target_attname
        ):
            by_target.setdefault(target, []).append(origin)
        related: list = []
        if by_target:
            queryset = self.queryset.filter(
                **{self.target_lookup: links.values(self.target_attname)}
            )
            related = list(queryset)
            if self.nested is not None:
                self.nested.attach(related, queryset)
        for item in related:
            for origin in by_target.get(getattr(item, self.target_key), ()):
                if origin in values:
                    values[origin].append(item)
        for obj in objects:
            items = values[getattr(obj, self.source_key)]
            if as_queryset:
                # What prefetch_related leaves: a queryset holding its results.
                cached = self.queryset._chain()
                cached._result_cache = items
                cached._prefetch_done = True
                obj.__dict__.setdefault("_prefetched_objects_cache", {})[self.name] = (
                    cached
                )
            else:
                obj.__dict__.setdefault(M2M_ATTRIBUTE, {})[self.name] = items


class RelatedLoader:
    """Attach to chunks of objects of one model what their serialization reads."""

    def __init__(self, foreign: list, many: list, as_queryset: bool = False):
        self.foreign = foreign
        self.many = many
        self.as_queryset = as_queryset

    def __bool__(self) -> bool:
        return bool(self.foreign or self.many)

    @classmethod
    def for_serializer(
        cls,
        model,
        using: str,
        *,
        natural_foreign: bool,
        natural_primary: bool,
        as_queryset: bool = False,
    ) -> RelatedLoader:
        """What Django's serializer reads for ``model`` with these options.

        M2M values go into :data:`M2M_ATTRIBUTE` for :mod:`diskette.dump.serializer`,
        or with ``as_queryset`` into the prefetch cache that Django's own
        serializers read.
        """
        meta = model._meta.concrete_model._meta
        pk = meta.pk
        if getattr(pk, "column", None) is None:
            # A composite primary key has no single column to take ranges of:
            # the serializer queries per object, as dumpdata does.
            return cls([], [], as_queryset)
        pk_parent = (
            pk
            if natural_primary and pk.remote_field and pk.remote_field.parent_link
            else None
        )
        foreign = []
        if natural_foreign:
            foreign = [
                _Foreign(field, using, 0)
                for field in meta.local_fields
                if field.remote_field is not None
                and (field.serialize or field is pk_parent)
                and _is_natural(field.remote_field.model)
                and _single_column(field)
            ]
        many = [
            _Many(
                field, using, natural_foreign and _is_natural(field.remote_field.model)
            )
            for field in meta.local_many_to_many
            if field.serialize and field.remote_field.through._meta.auto_created
        ]
        return cls(foreign, many, as_queryset)

    @classmethod
    def for_natural_key(cls, model, using: str, depth: int) -> RelatedLoader | None:
        """What ``model.natural_key()`` reads, or None when there is nothing."""
        if depth >= MAX_KEY_DEPTH or not _is_natural(model):
            return None
        foreign = [
            _Foreign(field, using, depth)
            for field in _key_dependencies(model)
            if _is_natural(field.remote_field.model) and _single_column(field)
        ]
        return cls(foreign, []) if foreign else None

    def attach(self, objects: list, source: QuerySet) -> None:
        """Fetch for ``objects``, which are (a subset of) the rows of ``source``."""
        if not objects:
            return
        for item in self.foreign:
            item.attach(objects, source)
        for item in self.many:
            item.attach(objects, source, self.as_queryset)

    def chunks(self, queryset: QuerySet, size: int) -> Iterator[list]:
        """Iterate ``queryset`` (ordered by primary key) in lists of ``size``.

        Each list comes with its related data attached, fetched for the primary
        key range the list covers.
        """
        pk = queryset.model._meta.pk.attname
        chunk: list = []
        # Closed here, not by the garbage collector: an interrupted dump would
        # otherwise close the cursor after its connection.
        with closing(queryset.iterator(chunk_size=size)) as objects:
            for obj in objects:
                chunk.append(obj)
                if len(chunk) >= size:
                    self._attach_range(queryset, chunk, pk)
                    yield chunk
                    chunk = []
        if chunk:
            self._attach_range(queryset, chunk, pk)
            yield chunk

    def _attach_range(self, queryset: QuerySet, chunk: list, pk: str) -> None:
        if not self:
            return
        first, last = getattr(chunk[0], pk), getattr(chunk[-1], pk)
        source = queryset.filter(pk__gte=first, pk__lte=last)
        self.attach(chunk, source)


# ---- rows: natural keys and M2M values without a model instance per link -------

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


class ManyValues(_Links):
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
