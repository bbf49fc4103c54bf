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
in memory when ``DEBUG`` is on) and no parameter limit applies; a through
table's rows, by the range on their own column, which its index serves (see
:mod:`diskette.dumping.chunks`).

For ``json`` and ``jsonl`` the dumper writes most models from rows
(:func:`diskette.dumping.rows.row_plan`), whose natural keys and M2M values come
from :mod:`diskette.dumping.row_links` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

from django.apps import apps as django_apps
from django.db.models import QuerySet

from diskette.anonymise.active import hide_related
from diskette.dumping.chunks import ChunkRange

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
        # An anonymised dump's rules, applied before natural_key() reads them.
        self.hide = hide_related(field.remote_field.model)

    def attach(self, objects: list, source: QuerySet) -> None:
        attname = self.field.attname
        queryset = self.manager.filter(
            **{self.lookup: source.values(attname)}
        ).order_by()
        found = {getattr(related, self.key): related for related in queryset}
        if not found:
            return
        if self.hide is not None:
            for related in found.values():
                self.hide(related)
        if self.nested is not None:
            self.nested.attach(list(found.values()), queryset)
        for obj in objects:
            related = found.get(getattr(obj, attname))
            if related is not None:
                self.field.set_cached_value(obj, related)


class ThroughTable:
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


class _Many(ThroughTable):
    """An auto-created many-to-many field: its values, per chunk."""

    def __init__(self, field, using: str, natural: bool):
        super().__init__(field, using)
        model = field.remote_field.model
        queryset = model._default_manager.db_manager(using).all()
        self.hide = hide_related(model) if natural else None
        if natural:
            self.nested = RelatedLoader.for_natural_key(model, using, 1)
        else:
            self.nested = None
            queryset = queryset.select_related(None).only("pk")
        if not queryset.ordered:
            queryset = queryset.order_by("pk")
        self.queryset = queryset

    def attach(
        self,
        objects: list,
        source: QuerySet,
        as_queryset: bool,
        chunk: ChunkRange | None = None,
    ) -> None:
        values: dict = {getattr(obj, self.source_key): [] for obj in objects}
        if chunk is None:
            links = self.links.filter(
                **{f"{self.source_attname}__in": source.values(self.source_key)}
            )
        else:
            links = chunk.pointing_here(
                self.links.all(), self.source_attname, self.source_key
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
            if self.hide is not None:
                for item in related:
                    self.hide(item)
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

        M2M values go into :data:`M2M_ATTRIBUTE` for :mod:`diskette.dumping.serializer`,
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

    def attach(
        self, objects: list, source: QuerySet, chunk: ChunkRange | None = None
    ) -> None:
        """Fetch for ``objects``, which are (a subset of) the rows of ``source``.

        ``chunk``: the range of primary keys ``source`` selects, when it is one.
        """
        if not objects:
            return
        for item in self.foreign:
            item.attach(objects, source)
        for item in self.many:
            item.attach(objects, source, self.as_queryset, chunk)

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
        bounds = ChunkRange(queryset, getattr(chunk[0], pk), getattr(chunk[-1], pk))
        self.attach(chunk, bounds.source, bounds)
