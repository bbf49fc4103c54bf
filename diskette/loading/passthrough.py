"""Which fixture values a field writes to the database exactly as they are.

A row made straight from a fixture (:mod:`diskette.loading.rows`) prepares each
value as ``save_base(raw=True)`` does: ``get_db_prep_save(to_python(value))``.
For the commonest values (text, integers, booleans, integer foreign keys) that
chain of calls gives back the value itself, and most of a load's Python would go
to finding that out again for every field of every row.

:func:`unchanged_types` says for which types of value the chain is the identity,
and only when that is proven by the code that runs: the field's conversion
methods are Django's own (the class resolves them to the very functions of the
Django field whose code was read for this, with that field's method resolution
order, so that their ``super()`` calls land where they did), and so are the
backend operations those methods call. Anything else (a subclass that changes a
conversion, a backend that adapts integers, a value of another type) takes the
full chain.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import (
    AutoField,
    BooleanField,
    DateTimeField,
    Field,
    FileField,
    ForeignKey,
    IntegerField,
    UUIDField,
)
from django.db.models.fields import AutoFieldMixin

from diskette.loading.sql import _passes_text

#: The conversions a value goes through on its way from a fixture to a row.
CONVERSIONS = ("to_python", "get_prep_value", "get_db_prep_value", "get_db_prep_save")

_NONE: type = type(None)
NOTHING: frozenset[type] = frozenset()
_TEXT: frozenset[type] = frozenset({str, _NONE})
_INTEGER: frozenset[type] = frozenset({int, _NONE})


def _behaves_as(cls: type, reference: type, *, except_: tuple[str, ...] = ()) -> bool:
    """Whether ``cls`` converts as ``reference`` does: the same functions for
    every conversion (but ``except_``), and ``reference``'s method resolution
    order after it, so that each ``super()`` call in them resolves as in
    ``reference``."""
    tail = reference.__mro__
    return cls.__mro__[-len(tail) :] == tail and all(
        getattr(cls, name) is getattr(reference, name)
        for name in CONVERSIONS
        if name not in except_
    )


def _ops_default(connection: Any, name: str) -> bool:
    """Whether the backend's operation ``name`` is the base one (the identity
    for the operations used here); True when this Django has no such operation."""
    base = getattr(BaseDatabaseOperations, name, None)
    return base is None or getattr(type(connection.ops), name) is base


def unchanged_types(field: Field, connection: Any) -> frozenset[type]:
    """The exact types ``t`` for which a fixture value ``v`` of type ``t``
    becomes ``v`` itself (an equal value of the same type) on its way to the
    row: ``field.get_db_prep_save(to_python(v), connection)``, where
    ``to_python`` is the field's own, or, for a foreign key, that of the field it
    points to (what the natural key cache applies to a value that is not a
    natural key). Each step returns it as it is: ``to_python``,
    ``get_prep_value`` and ``get_db_prep_value`` too."""
    cls = type(field)
    if _passes_text(field):
        # CharField/TextField: str and None pass their to_python and the
        # base get_db_prep_value untouched.
        return _TEXT
    if issubclass(cls, IntegerField):
        return _integer(field, connection)
    if issubclass(cls, BooleanField):
        if not _behaves_as(cls, BooleanField):
            return NOTHING
        # to_python keeps True/False (bool() of a bool); None only where null.
        return frozenset({bool, _NONE}) if field.null else frozenset({bool})
    if issubclass(cls, ForeignKey):
        return _foreign_key(field, connection)
    if issubclass(cls, FileField):
        return _file(field)
    return NOTHING


def _integer(field: Field, connection: Any) -> frozenset[type]:
    """IntegerField and its subclasses: int() of an int is that int; the
    backend's adapt_integerfield_value (validate_autopk_value for an auto
    field, which does not call it) must be the base one, which returns it."""
    cls = type(field)
    if _behaves_as(cls, IntegerField):
        return (
            _INTEGER
            if _ops_default(connection, "adapt_integerfield_value")
            else NOTHING
        )
    if (
        issubclass(cls, AutoFieldMixin)
        and _behaves_as(cls, IntegerField, except_=("get_db_prep_value",))
        and cls.get_db_prep_value is AutoField.get_db_prep_value
        and AutoField.get_db_prep_value is AutoFieldMixin.get_db_prep_value
        and _ops_default(connection, "validate_autopk_value")
    ):
        return _INTEGER
    return NOTHING


def _foreign_key(field: Any, connection: Any) -> frozenset[type]:
    """A foreign key converts with its target field, and writes None for None
    (and for "" where the target does not allow empty strings or the backend
    stores them as NULL: then str is left out)."""
    if not _behaves_as(type(field), ForeignKey):
        return NOTHING
    target = field.target_field
    types = set(unchanged_types(target, connection)) | {_NONE}
    if str in types and (
        not target.empty_strings_allowed
        or connection.features.interprets_empty_strings_as_nulls
    ):
        types.discard(str)
    return frozenset(types)


def _file(field: Any) -> frozenset[type]:
    """A FileField's attribute is read back as a FieldFile whose str() is its
    name (or ""): a str name is written as it is."""
    from django.core.files.base import File
    from django.db.models.fields.files import FieldFile, FileDescriptor

    attr_class = field.attr_class
    if (
        _behaves_as(type(field), FileField)
        and field.descriptor_class is FileDescriptor
        and issubclass(attr_class, FieldFile)
        and attr_class.__init__ is FieldFile.__init__
        and attr_class.__str__ is File.__str__
    ):
        return frozenset({str})
    return NOTHING


def quick_prep(field: Field, connection: Any) -> Callable[[Any, Any], Any] | None:
    """``get_db_prep_save`` of a field whose conversions are Django's, with the
    chain cut short for the common value where its code shows what it comes
    to; None for fields without one. A uuid.UUID for a UUIDField (or a foreign
    key to one) is its hex (itself where the backend stores UUIDs); an aware
    datetime for a DateTimeField is what the backend's
    ``adapt_datetimefield_value`` makes of it (``get_prep_value`` returns it
    as it is: ``to_python`` keeps a datetime, and only a naive one is changed).
    Any other value takes the full chain."""
    full = field.get_db_prep_save
    if isinstance(field, DateTimeField):
        if not _behaves_as(type(field), DateTimeField):
            return None
        adapt = connection.ops.adapt_datetimefield_value
        exact_datetime = datetime.datetime

        def prep_datetime(value: Any, connection: Any) -> Any:
            if type(value) is exact_datetime and value.utcoffset() is not None:
                return adapt(value)
            return full(value, connection)

        return prep_datetime
    target = field
    if isinstance(field, ForeignKey):
        # None aside, ForeignKey.get_db_prep_save is its target's (a UUID is
        # not "").
        if not _behaves_as(type(field), ForeignKey):
            return None
        target = field.target_field
    if not isinstance(target, UUIDField) or not _behaves_as(type(target), UUIDField):
        return None
    native = connection.features.has_native_uuid_field
    exact_uuid = uuid.UUID

    def prep_uuid(value: Any, connection: Any) -> Any:
        if type(value) is exact_uuid:
            return value if native else value.hex
        return full(value, connection)

    return prep_uuid
