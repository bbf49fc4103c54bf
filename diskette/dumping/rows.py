"""The row path: a model's fixture written from ``values_list`` rows.

For a model whose serialized fields are all Django's own, read through Django's
own descriptors, with nothing running when an instance is built, the
serializers of :mod:`diskette.dumping.serializer` write objects from rows instead
of instances (the backend's converters applied, as for instances). Whether a
model qualifies is decided once (:func:`row_plan`), and each value then goes
through what ``value_to_string`` would do with it: proven per field class here,
so that anything not provably the same keeps the instance path.
"""

from __future__ import annotations

import datetime
import inspect
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import BinaryField, Field, FileField, JSONField
from django.db.models.fields.files import FieldFile, FileDescriptor
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query import ModelIterable
from django.db.models.query_utils import DeferredAttribute
from django.utils.encoding import is_protected_type

from diskette.dumping.row_links import plain_instances

#: What a row plan's field is: a plain value, a natural foreign key, an M2M field.
VALUE, NATURAL, MANY = "value", "natural", "many"
ABSENT = object()


@dataclass(frozen=True)
class RowPlan:
    """How to write a model's objects from ``values_list`` rows.

    ``columns`` are the attnames to select (or the expressions of ``selects``,
    see :mod:`diskette.dumping.text_values`); ``pk`` is ``(index, convert, kept)``;
    ``fields`` holds ``(name, index, convert, kept, kind)`` in Django's field order
    (``kept``: the value types that ``convert`` returns unchanged);
    ``kind`` is a plain value (``convert(value)``), a foreign key written as a
    natural key (looked up in the chunk's ``foreign[name]``), or an M2M field
    (``convert`` applied to each value of the chunk's ``many[name][row key]``).
    """

    model: type
    label: str
    columns: tuple[str, ...]
    pk: tuple[int, Callable, frozenset]
    fields: tuple[tuple, ...]
    foreign: tuple  # the foreign key fields written as natural keys
    many: tuple  # (M2M field, natural) pairs
    #: What to select for ``columns`` (a name or an expression), when not the names.
    selects: tuple = ()


@dataclass
class RowChunk:
    """A chunk of rows of one model with what their links serialize to."""

    plan: RowPlan
    rows: list
    foreign: dict  # {field name: {value: natural key}}
    many: dict  # {field name: {source key: [values]}}
    fetch_one: Callable  # (field name, value) -> natural key, or raise

    def __len__(self) -> int:
        return len(self.rows)


def _identity(value):
    return value


#: Types that ``is_protected_type`` keeps as they are (exact types only).
_PROTECTED = frozenset(
    {type(None), bool, int, float, Decimal}
    | {datetime.datetime, datetime.date, datetime.time}
)
_TEXT = _PROTECTED | {str}
_ANY = frozenset()  # for ``_identity``: calling it is as good as keeping


def _file_name(value):
    # str(FieldFile(instance, field, value)), which is ``value or ""``.
    return value or ""


class _Stub:
    """Stands for an instance where a built-in field only reads its own attribute."""


def _to_string(field) -> tuple[Callable, frozenset] | None:
    """``field.value_to_string`` as a function of the value, for Django's own fields.

    With the value types it returns unchanged (besides the protected ones).
    """
    method = type(field).value_to_string
    if method is Field.value_to_string:
        return str, _TEXT  # str() of a str is itself
    if method is BinaryField.value_to_string:
        return (lambda value: b64encode(value).decode("ascii")), _PROTECTED
    if method is JSONField.value_to_string:
        return _identity, _ANY
    if not getattr(method, "__module__", "").startswith("django.db.models.fields"):
        return None
    attname = field.attname

    def convert(value):
        stub = _Stub()
        stub.__dict__[attname] = value
        return field.value_to_string(stub)

    return convert, _PROTECTED


def _converter(model, field) -> tuple[Callable, frozenset] | None:
    """What ``_value_from_field`` makes of a row's value, or None if not provable.

    ``(convert, kept)``: ``kept`` are the value types that ``convert`` returns
    unchanged. Only Django's own field classes, read through Django's own
    descriptors: a custom field, descriptor or ``value_from_object`` keeps the
    instance path.
    """
    field_class = type(field)
    if not field_class.__module__.startswith("django.db.models.fields"):
        return None
    if field_class.value_from_object is not Field.value_from_object:
        return None
    descriptor = inspect.getattr_static(model, field.attname, None)
    if type(descriptor) is FileDescriptor:
        if field_class is FileField and field.attr_class is FieldFile:
            return _file_name, frozenset({str})
        return None
    if type(descriptor) not in (DeferredAttribute, ForeignKeyDeferredAttribute):
        return None
    found = _to_string(field)
    if found is None:
        return None
    to_string, kept = found
    if to_string is _identity:
        return found

    def convert(value):
        return value if is_protected_type(value) else to_string(value)

    return convert, kept


def _many_converter(field, natural: bool) -> tuple[Callable, frozenset] | None:
    """What an M2M field's values become: natural keys as they are, or primary keys."""
    if natural:
        return _identity, _ANY
    target = field.remote_field.model
    return _converter(target, target._meta.pk)


def _rows_may_serve(model, queryset, *, natural_primary: bool) -> bool:
    """Whether the model as a whole can be written from rows, before its fields.

    A proxy, a primary key without a column, a queryset that yields other than
    instances, or instances that run code when built need the instance path; so
    does a primary key the fixture leaves out for a natural key (or parent link).
    """
    meta = model._meta
    pk = meta.pk
    if (
        meta.proxy
        or getattr(pk, "column", None) is None
        or queryset._iterable_class is not ModelIterable
        or not plain_instances(model)
    ):
        return False
    return not (
        natural_primary
        and (
            hasattr(model, "natural_key")
            or (pk.remote_field and pk.remote_field.parent_link)
        )
    )


def _links_to_natural_key(field: Field) -> bool:
    """Whether ``field`` points to a model with natural keys (which a fixture may use)."""
    return field.remote_field is not None and hasattr(
        field.remote_field.model, "natural_key"
    )


def row_plan(
    model, queryset, *, natural_foreign: bool, natural_primary: bool
) -> RowPlan | None:
    """The :class:`RowPlan` for ``model``, or None when instances are needed.

    Decided once per model: every serialized field must be a Django field whose
    serialized value provably depends on the row's value alone.
    """
    if not _rows_may_serve(model, queryset, natural_primary=natural_primary):
        return None
    meta = model._meta
    pk = meta.pk
    columns: list[str] = [pk.attname]

    def index(attname: str) -> int:
        if attname not in columns:
            columns.append(attname)
        return columns.index(attname)

    pk_convert = _converter(model, pk)
    if pk_convert is None:
        return None
    fields = []
    foreign = []
    many = []
    for field in meta.local_fields:
        if not field.serialize:
            continue
        if natural_foreign and _links_to_natural_key(field):
            if len(field.foreign_related_fields) != 1:
                return None
            fields.append((field.name, index(field.attname), None, None, NATURAL))
            foreign.append(field)
            continue
        convert = _converter(model, field)
        if convert is None:
            return None
        fields.append((field.name, index(field.attname), *convert, VALUE))
    for field in meta.local_many_to_many:
        if not field.serialize or not field.remote_field.through._meta.auto_created:
            continue
        natural = natural_foreign and _links_to_natural_key(field)
        convert = _many_converter(field, natural)
        if convert is None:
            return None
        through = field.remote_field.through
        source = through._meta.get_field(field.m2m_field_name())
        fields.append((field.name, index(source.target_field.attname), *convert, MANY))
        many.append((field, natural))
    return RowPlan(
        model=model,
        label=str(meta),
        columns=tuple(columns),
        pk=(0, *pk_convert),
        fields=tuple(fields),
        foreign=tuple(foreign),
        many=tuple(many),
    )
