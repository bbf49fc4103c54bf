"""Values the database already holds as the fixture's text: read as text, not rebuilt.

A datetime read from PostgreSQL is parsed in Python (Django's time zone loader
extends psycopg's Python one), then written back by the JSON encoder with
``isoformat``; a date, decimal or UUID goes the same way, through an object
made only to be turned back into text. For a model written from rows
(:mod:`diskette.dumping.rows`), :func:`read_as_text` selects such columns as
PostgreSQL's own text (``column::text``) instead, and turns that text into the
fixture's string with a few slices, where the text provably gives the same
string:

- ``timestamptz`` in ``DateStyle`` ISO and the connection's time zone UTC (as
  Django sets it with ``USE_TZ``): ``2024-06-01 12:00:00.123+00`` is what
  ``ExactJSONEncoder`` writes as ``2024-06-01T12:00:00.123Z``;
- ``date`` in ISO: ``2024-06-01``, as ``isoformat``;
- ``numeric``: its text is ``str(Decimal(text))`` but where ``Decimal`` would
  write an exponent (below one millionth), which is then asked of ``Decimal``;
- ``uuid``: PostgreSQL writes the canonical lower case form, as ``str(UUID)``.

SQLite keeps datetimes, dates and UUIDs as the text Django wrote: ``str`` of a
naive UTC datetime (``2024-06-01 12:00:00.123000``), an ISO date, the UUID's 32
hexadecimal digits. They are read as that text (no converter builds an object)
and sliced into the fixture's string; a text of any other shape goes through
Django's own converter, so the fixture is the same either way.

On PostgreSQL a column is read so only when its type is the field's own (one query that
reads no row tells, per model: a table made by hand may hold a decimal field in
a ``float8`` column, whose value the fixture writes as a number). A text of any
other shape (a date before Christ, ``infinity``, a year past 9999) is loaded by
the connection's own loader, which gives the value (or the
error) that reading the column directly gives. Only Django's own field classes
are read so (a subclass may convert values), only on PostgreSQL with psycopg 3
and on SQLite.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import (
    DateField,
    DateTimeField,
    DecimalField,
    Field,
    TextField,
    UUIDField,
)
from django.db.models.functions import Cast

from diskette.dumping.rows import VALUE, RowPlan

_UTC_DATETIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.(\d{1,6}))?\+00")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
#: ``str`` of a naive datetime, as Django's SQLite backend stores it.
_SQLITE_DATETIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{6})?")
#: ``UUID.hex``, as Django stores a UUID where the database has no uuid type.
_HEX_UUID = re.compile(r"[0-9a-f]{32}")
#: Decimal writes an exponent below 1e-6: ``str(Decimal("0.0000001")) == "1E-7"``.
_EXPONENT_PREFIXES = ("0.000000", "-0.000000")
#: Session time zones whose text offset is always ``+00``.
_UTC_NAMES = frozenset({"UTC", "Etc/UTC"})
_NONE = frozenset({type(None)})
#: A value as the row holds it → what the fixture writes.
Convert = Callable[[Any], Any]


def _loader(connection: Any, type_name: str) -> Callable[[str], object]:
    """What the connection's own loader makes of a text of ``type_name``."""
    from psycopg import postgres, pq

    oid = postgres.types[type_name].oid
    raw = connection.connection
    loader = raw.adapters.get_loader(oid, pq.Format.TEXT)(oid, raw)

    def load(text: str) -> object:
        return loader.load(text.encode())

    return load


def _datetime_text(load: Callable[[str], object]) -> Convert:
    def convert(value: Any) -> Any:
        if type(value) is not str:
            return value
        found = _UTC_DATETIME.fullmatch(value)
        if found is None:
            return load(value)
        fraction = found.group(1)
        if fraction is None:
            return f"{value[:10]}T{value[11:19]}Z"
        # PostgreSQL drops trailing zeros; whole milliseconds keep three digits.
        digits = fraction.ljust(3 if len(fraction) <= 3 else 6, "0")
        return f"{value[:10]}T{value[11:19]}.{digits}Z"

    return convert


def _date_text(load: Callable[[str], object]) -> Convert:
    def convert(value: Any) -> Any:
        if type(value) is not str or _DATE.fullmatch(value):
            return value
        return load(value)

    return convert


def _decimal_text(value: Any) -> Any:
    if type(value) is str and value.startswith(_EXPONENT_PREFIXES):
        return str(Decimal(value))
    return value


def _uuid_text(value: Any) -> Any:
    return value


def _sqlite_datetime_text(django: Convert) -> Convert:
    def convert(value: Any) -> Any:
        if type(value) is not str or not _SQLITE_DATETIME.fullmatch(value):
            return django(value)
        if len(value) == 19:
            return f"{value[:10]}T{value[11:]}Z"
        if value[20:] == "000000":
            return django(value)  # a whole second with a fraction: Django's digits
        # Whole milliseconds keep Django's three digits.
        fraction = value[20:23] if value.endswith("000") else value[20:]
        return f"{value[:10]}T{value[11:19]}.{fraction}Z"

    return convert


def _sqlite_date_text(django: Convert) -> Convert:
    def convert(value: Any) -> Any:
        if type(value) is str and _DATE.fullmatch(value):
            return value
        return django(value)

    return convert


def _sqlite_uuid_text(django: Convert) -> Convert:
    def convert(value: Any) -> Any:
        if type(value) is str and _HEX_UUID.fullmatch(value):
            return (
                f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
            )
        return django(value)

    return convert


def _sqlite_conversions(connection: Any) -> dict[type, tuple[str, Convert]]:
    """SQLite keeps these values as the text Django wrote (``str`` of a naive
    UTC datetime, ISO dates, 32 hexadecimal digits of a UUID): a text of that
    shape becomes the fixture's string by slices, any other goes through
    Django's own converter, as reading the column directly does."""
    ops = connection.ops

    def django(name: str) -> Convert:
        converter = getattr(ops, f"convert_{name}field_value")
        return lambda value: converter(value, None, connection)

    found: dict[type, tuple[str, Convert]] = {
        DateField: ("", _sqlite_date_text(django("date"))),
        UUIDField: ("", _sqlite_uuid_text(django("uuid"))),
    }
    if settings.USE_TZ and connection.timezone_name in _UTC_NAMES:
        found[DateTimeField] = ("", _sqlite_datetime_text(django("datetime")))
    return found


def _conversions(connection: Any) -> dict[type, tuple[str, Convert]] | None:
    """``{field class: (column type, convert(text))}`` for this connection, or None
    (the column type is PostgreSQL's; SQLite has none to check)."""
    if connection.vendor == "sqlite":
        return _sqlite_conversions(connection)
    if connection.vendor != "postgresql":
        return None
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if not is_psycopg3:
        return None
    connection.ensure_connection()
    status = connection.connection.info.parameter_status
    if not (status("DateStyle") or "").startswith("ISO"):
        return None
    found: dict[type, tuple[str, Convert]] = {
        DateField: ("date", _date_text(_loader(connection, "date"))),
        DecimalField: ("numeric", _decimal_text),
        UUIDField: ("uuid", _uuid_text),
    }
    if (
        settings.USE_TZ
        and connection.timezone_name in _UTC_NAMES
        and status("TimeZone") in _UTC_NAMES
    ):
        found[DateTimeField] = (
            "timestamptz",
            _datetime_text(_loader(connection, "timestamptz")),
        )
    return found


def _value_field(field: Field[Any, Any]) -> Field[Any, Any] | None:
    """The field whose class says what the column holds, or None when not plain.

    A foreign key written as its value holds its target's column, as ``str``
    writes it (``Field.value_to_string``).
    """
    if field.remote_field is None:
        return field
    if type(field).value_to_string is not Field.value_to_string:
        return None
    return getattr(field, "target_field", None)


def _column_types(connection: Any, table: str, columns: list[str]) -> dict[str, int]:
    """``{column: type oid}`` of a table's columns, from a query that reads no row."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {names} FROM {quote(table)} LIMIT 0")  # noqa: S608
        return {
            column: item.type_code
            for column, item in zip(columns, cursor.description, strict=True)
        }


def _of_their_type(
    connection: Any, meta: Any, wanted: dict[str, tuple[str, Convert]]
) -> dict[str, Convert]:
    """``{attname: convert}`` of the wanted columns whose type is the field's own
    on PostgreSQL; all of them on SQLite, whose columns have no fixed type (each
    value's text is checked instead)."""
    if connection.vendor == "sqlite":
        return {attname: convert for attname, (_type, convert) in wanted.items()}
    from psycopg import postgres

    columns_of = {meta.get_field(attname).column: attname for attname in wanted}
    types = _column_types(connection, meta.db_table, list(columns_of))
    return {
        attname: wanted[attname][1]
        for column, attname in columns_of.items()
        if types[column] == postgres.types[wanted[attname][0]].oid
    }


def read_as_text(plan: RowPlan, using: str) -> RowPlan:
    """``plan`` with the columns PostgreSQL writes as the fixture does read as text.

    A value column is then selected as text only; the primary key stays first as
    it is, for the chunks' ranges and the M2M values, and so do the columns of
    foreign keys written as natural keys, where keys are looked up. Only columns
    whose type is the field's own are (a table made by hand may differ), which
    one query that reads no row tells, for the models that have such fields.
    """
    connection = connections[using]
    conversions = _conversions(connection)
    if not conversions:
        return plan
    model: Any = plan.model
    meta = model._meta
    candidates = [meta.pk] + [
        meta.get_field(entry[0]) for entry in plan.fields if entry[4] is VALUE
    ]
    wanted: dict[str, tuple[str, Convert]] = {}
    for field in candidates:
        target = _value_field(field)
        found = conversions.get(type(target)) if target is not None else None
        if found is not None and field.column:
            wanted[field.attname] = found
    if not wanted:
        return plan
    text = _of_their_type(connection, meta, wanted)
    if not text:
        return plan
    old = plan.selects or plan.columns
    columns: list[str] = []
    selects: list[Any] = []

    def column(name: str, select: Any) -> int:
        if name not in columns:
            columns.append(name)
            selects.append(select)
        return columns.index(name)

    def as_text(field: Field[Any, Any]) -> tuple[int, Convert] | None:
        convert = text.get(field.attname)
        if convert is None:
            return None
        cast = Cast(field.attname, output_field=TextField())
        return column(f"{field.attname}::text", cast), convert

    column(plan.columns[0], old[0])
    fields: list[tuple[Any, ...]] = []
    for name, index, convert, kept, kind in plan.fields:
        read = as_text(meta.get_field(name)) if kind is VALUE else None
        if read is None:
            fields.append(
                (name, column(plan.columns[index], old[index]), convert, kept, kind)
            )
        else:
            fields.append((name, *read, _NONE, VALUE))
    pk = plan.pk
    key = as_text(meta.pk)
    if key is not None:
        pk = (key[0], key[1], _NONE)
    return replace(
        plan,
        columns=tuple(columns),
        selects=tuple(selects),
        fields=tuple(fields),
        pk=pk,
    )
