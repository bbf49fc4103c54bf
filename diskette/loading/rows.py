"""Fixture objects → objects and their database rows, in one pass over the fields.

The batched saver writes an object's local concrete fields as
``save_base(raw=True)`` does: each attribute prepared by its field
(``get_db_prep_save``). That attribute is what the deserializer made of the
fixture's value: ``to_python`` of it (a foreign key's through the natural key
cache), the field's default when the fixture has none. Building the instance
with ``Model.__init__`` and reading every attribute back through its descriptor
to prepare it is most of a load's Python: for a model whose instance adds nothing
to those values (see :func:`why_not`), :class:`FixtureRows` makes, field by
field, the attribute and the database value at once. Values that a field writes
as they are (:mod:`diskette.loading.passthrough`) are taken as they are, the
others go through the field's own methods.

The object is the instance ``Model(*values)`` would be (its ``__dict__``: the
model state, then every attribute), without the ``pre_init``/``post_init``
signals that nothing receives. Natural key lookups happen while the
deserializer reads the object, as before (in the fields' order for data files as
dumpdata writes them), and a key not loaded yet is deferred as it defers it (the
object then comes without its row); anything else (a field the model lacks, a
value that fails to convert) is left to the deserializer's own way, which
explains it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import contains, itemgetter
from typing import TYPE_CHECKING, Any

from django.core.serializers.base import (
    DEFER_FIELD,
    DeserializationError,
    DeserializedObject,
)
from django.db import DatabaseError
from django.db.models import ManyToManyRel, ManyToOneRel, Model
from django.db.models.base import ModelBase, ModelState
from django.db.models.fields.files import FileDescriptor
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

from diskette.exceptions import DisketteError
from diskette.loading import sql
from diskette.loading.passthrough import quick_prep, unchanged_types

if TYPE_CHECKING:
    from diskette.loading.natural_keys import NaturalKeyCache

#: The descriptors whose ``__set__`` (if any) stores the value as it is and
#: whose ``__get__`` returns it (a FileDescriptor wraps it in a FieldFile, which
#: :func:`_file_prep` does too).
_PLAIN_DESCRIPTORS = (DeferredAttribute, ForeignKeyDeferredAttribute, FileDescriptor)


class _Missing:
    """A field the fixture leaves out (its default is taken); its type is in no
    field's unchanged types."""


_MISSING = _Missing()
#: Every type a JSON value has: a field that converts takes any in the one pass.
_JSON_TYPES: frozenset[type] = frozenset(
    {str, int, float, bool, type(None), list, dict}
)
#: A field whose values pass unchanged as one of these is checked in C.
_TAKEN: frozenset[type] = frozenset({str, int, bool})


class RowItem(DeserializedObject):  # type: ignore[misc]
    """A deserialized object with its row: the values ``insert_rows`` would
    write for it, prepared for the deserializer's database while nothing but
    the deserializer had touched the object; and its primary key."""

    def __init__(
        self, obj: Model, m2m_data: dict[str, list[Any]], row: list[Any], pk: Any
    ):
        self.object = obj
        self.m2m_data = m2m_data
        self.deferred_fields: dict[Any, Any] = {}
        self.row = row
        self.pk = pk


def _descriptor(model: type[Model], attname: str) -> Any:
    """The class attribute ``attname`` of ``model``, as an instance finds it."""
    for klass in model.__mro__:
        if attname in vars(klass):
            return vars(klass)[attname]
    return None


def why_not(model: type[Model], connection: Any) -> str | None:
    """What keeps ``model``'s objects from being made by :class:`FixtureRows`
    (their instances would differ, or their rows need their own SQL), or None."""
    if model._meta.proxy:
        return "a proxy model (the batched saver saves it exactly)"
    if type(model).__call__ is not ModelBase.__call__:
        return "its metaclass makes instances"
    if model.__init__ is not Model.__init__ or super(Model, model).__init__ is not (
        object.__init__
    ):
        return "it has an __init__() of its own"
    if model.__new__ is not object.__new__:  # type: ignore[comparison-overlap]
        return "it has a __new__() of its own"
    if model.__setattr__ is not Model.__setattr__:
        return "it has a __setattr__() of its own"
    fields = model._meta.concrete_fields
    if any(getattr(field, "generated", False) for field in fields):
        return "the database computes a field"
    for field in fields:
        descriptor = _descriptor(model, field.attname)
        if (
            type(descriptor) is not field.descriptor_class
            or type(descriptor) not in _PLAIN_DESCRIPTORS
        ):
            return f"field {field.name!r} has a descriptor of its own"
        if type(descriptor) is FileDescriptor and not unchanged_types(
            field, connection
        ):
            return f"file field {field.name!r} has a file class of its own"
        if field.remote_field is not None and not isinstance(
            field.remote_field, ManyToOneRel
        ):
            return f"field {field.name!r} is a relation of its own kind"
        if sql.own_placeholder(field, connection):
            return f"field {field.name!r} needs SQL of its own"
    return None


def _fk_converter(cache: NaturalKeyCache, field: Any) -> Callable[[Any], Any]:
    """A foreign key's attribute as the deserializer makes it (``DEFER_FIELD``
    for a natural key not loaded yet)."""
    fk_value = cache.fk_value

    def convert(value: Any) -> Any:
        return fk_value(field, value, True)

    return convert


def _file_prep(field: Any) -> Callable[[Any, Any], Any]:
    """``get_db_prep_save`` of what a FileField's descriptor gives back: the
    FieldFile of a str or None name."""
    from django.core.files.base import File

    attr_class, prep = field.attr_class, field.get_db_prep_save

    def prepare(value: Any, connection: Any) -> Any:
        if value is None or isinstance(value, str):
            value = attr_class(None, field, value)
        elif isinstance(value, File):
            raise TypeError("a File object: left to the instance's descriptor")
        return prep(value, connection)

    return prepare


class FixtureRows:
    """How one model's raw fixture objects become :class:`RowItem` objects,
    worked out once per model and load (see :func:`plan_rows`).

    Most objects take one pass in C over their fields (``getter``, then a type
    check of each value against what its field writes as it is), and Python
    only for the fields that convert; the others (a field missing, a value of
    another type) go field by field.
    """

    def __init__(self, model: type[Model], connection: Any, cache: NaturalKeyCache):
        meta = model._meta
        pk = meta.pk
        assert pk is not None
        self.model = model
        self.connection = connection
        self.cache = cache
        #: An instance is its __dict__ (Model.__init__ adds nothing else);
        #: a multi-table child's, with its parents' defaults, is built.
        self.shell = not meta.parents
        local = list(meta.local_concrete_fields)
        #: The columns of the row, as insert_rows writes them.
        self.fields = local
        self.pk_index = local.index(pk)
        self.pk_attname = pk.attname
        self.pk_types = unchanged_types(pk, connection)
        self.pk_to_python = pk.to_python
        self.pk_prep = quick_prep(pk, connection) or pk.get_db_prep_save
        #: (name, attname, unchanged types, to_python, prep, default, field)
        #: per field.
        self.columns: list[tuple[Any, ...]] = []
        #: Per field, the types of value the one pass takes; and the
        #: (index, to_python, prep, unchanged types) of the fields it converts.
        sames: list[frozenset[type]] = []
        self.converted: list[tuple[Any, ...]] = []
        for field in local:
            if field is pk:
                continue
            same = unchanged_types(field, connection)
            natural = False
            if field.remote_field is not None:
                convert = _fk_converter(cache, field)
                natural = hasattr(
                    field.remote_field.model._default_manager, "get_by_natural_key"
                )
            else:
                convert = field.to_python
            prep = (
                _file_prep(field)
                if field.descriptor_class is FileDescriptor
                else quick_prep(field, connection) or field.get_db_prep_save
            )
            if same & _TAKEN and not natural:
                sames.append(same)
            else:
                sames.append(_JSON_TYPES)
                self.converted.append((len(self.columns), convert, prep, same))
            self.columns.append(
                (
                    field.name,
                    field.attname,
                    same,
                    convert,
                    prep,
                    field.get_default,
                    field,
                )
            )
        self.sames = tuple(sames)
        self.attnames = tuple(column[1] for column in self.columns)
        names = [column[0] for column in self.columns]
        self.width = len(names)
        self.getter: Callable[[dict[str, Any]], tuple[Any, ...]]
        if len(names) > 1:
            self.getter = itemgetter(*names)
        elif names:
            name = names[0]
            self.getter = lambda fields: (fields[name],)
        else:
            self.getter = lambda fields: ()
        #: Many-to-many fields, as the deserializer reads them (the others'
        #: names, a parent's, are left to it).
        self.links = [
            (f.name, f)
            for f in meta.local_many_to_many
            if isinstance(f.remote_field, ManyToManyRel)
        ]
        #: The names an object's fields may have (its primary key is "pk").
        self.known = frozenset(names) | frozenset(name for name, _f in self.links)

    def make(self, raw: Any, plan: Any, using: str) -> DeserializedObject | None:
        """The object of ``raw`` with its row (without one when a value is
        deferred, as the deserializer defers it); None, having changed nothing
        but the natural key cache, when the deserializer's own way must make it.
        A multi-table child's instance is ``plan.build(attributes, using)``."""
        model = self.model
        if (pre_init.receivers or post_init.receivers) and (
            pre_init.has_listeners(model) or post_init.has_listeners(model)
        ):
            return None
        try:
            fields = raw["fields"]
            if type(fields) is not dict:
                return None
            try:
                values = self.getter(fields)
            except KeyError:
                values = None
            # Every field, or only fields it knows (with its many-to-many).
            if (values is None or len(fields) != self.width) and not (
                fields.keys() <= self.known
            ):
                return None
            connection = self.connection
            value = raw["pk"]
            if type(value) in self.pk_types:
                pk = db = value
            else:
                pk = self.pk_to_python(value)
                db = self.pk_prep(pk, connection)
            if pk is None:
                return None
            deferred = None
            python: Sequence[Any]
            if values is None or not all(map(contains, self.sames, map(type, values))):
                python, row, deferred = self._field_by_field(fields)
            elif self.converted:
                python, row = list(values), list(values)
                for index, to_python, prep, same in self.converted:
                    value = python[index]
                    if type(value) in same:
                        continue
                    value = to_python(value)
                    if value is DEFER_FIELD:
                        # A forward reference: the default until it is set.
                        column = self.columns[index]
                        if deferred is None:
                            deferred = {}
                        deferred[column[6]] = python[index]
                        value = column[5]()
                    python[index] = value
                    row[index] = (
                        value if type(value) in same else prep(value, connection)
                    )
            else:
                python, row = values, list(values)
            row.insert(self.pk_index, db)
            m2m_data: dict[str, list[Any]] = {}
            if self.links:
                for name, field in self.links:
                    if name in fields:
                        targets = self.cache.m2m_values(field, fields[name], True)
                        if targets is DEFER_FIELD:
                            if deferred is None:
                                deferred = {}
                            deferred[field] = fields[name]
                        else:
                            m2m_data[name] = targets
            if self.shell:
                obj = object.__new__(model)
                obj.__dict__ = data = {"_state": ModelState(), self.pk_attname: pk}
                data.update(zip(self.attnames, python, strict=True))
            else:
                data = dict(zip(self.attnames, python, strict=True))
                data[self.pk_attname] = pk
                obj = plan.build(data, using)
        except (DisketteError, DatabaseError, DeserializationError):
            # From the writes a lookup made first: not this object's to explain.
            raise
        except Exception:  # noqa: BLE001 - the deserializer's way explains it
            return None
        if deferred is not None:
            if len(deferred) > 1:
                # In the order of the fixture's fields, as the deserializer has them.
                order = list(fields)
                deferred = dict(
                    sorted(deferred.items(), key=lambda pair: order.index(pair[0].name))
                )
            return DeserializedObject(obj, m2m_data, deferred)
        item = object.__new__(RowItem)
        # RowItem(obj, m2m_data, row, pk), without a call in Python.
        item.__dict__ = {
            "object": obj,
            "m2m_data": m2m_data,
            "deferred_fields": {},
            "row": row,
            "pk": pk,
        }
        return item

    def _field_by_field(
        self, fields: dict[str, Any]
    ) -> tuple[list[Any], list[Any], dict[Any, Any] | None]:
        """The attributes and row values (primary key aside) of an object that
        leaves fields out or holds values of other types, and its deferred
        values (None when there are none)."""
        connection = self.connection
        python: list[Any] = []
        row: list[Any] = []
        deferred = None
        for name, _attname, same, to_python, prep, default, field in self.columns:
            value = fields.get(name, _MISSING)
            if type(value) in same:
                row.append(value)
            else:
                if value is _MISSING:
                    value = default()
                else:
                    converted = to_python(value)
                    if converted is DEFER_FIELD:
                        if deferred is None:
                            deferred = {}
                        deferred[field] = value
                        converted = default()
                    value = converted
                row.append(prep(value, connection))
            python.append(value)
        return python, row, deferred


def plan_rows(
    model: type[Model], connection: Any, cache: NaturalKeyCache
) -> FixtureRows | None:
    """The :class:`FixtureRows` of ``model``, or None (see :func:`why_not`)."""
    try:
        if why_not(model, connection) is not None:
            return None
        return FixtureRows(model, connection, cache)
    except Exception:  # noqa: BLE001 - a field of an unforeseen kind
        # Its objects are made the fields' own way, which is never wrong.
        return None
