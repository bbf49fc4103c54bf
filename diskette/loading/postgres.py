"""PostgreSQL's bulk statements for the rows a load writes: COPY and UPDATE ... FROM.

``INSERT`` run once per row (``executemany``) costs the server a statement per
row; ``COPY ... FROM STDIN`` sends every row of a batch in one statement, as
``pg_restore`` does. The values are those the fields prepared for the database
(``get_db_prep_save``), written by psycopg's own text dumpers, the ones the
client-side binding of an ``INSERT`` uses: the server reads the same text into
the same column, so the rows are the same. A batch holding a value of a type
outside :data:`COPYABLE` (a custom field's own wrapper, say) is not copied: the
caller runs its ``INSERT`` instead.

Errors are the database's as Django raises them (``IntegrityError`` for a
duplicate key, ...): a caller's savepoint rolls the batch back and saves it
again object by object, as after a failed ``INSERT``.
"""

from __future__ import annotations

import datetime
import decimal
import ipaddress
import time
import uuid
from collections.abc import Sequence
from itertools import chain
from typing import Any

try:  # psycopg 3: COPY through the cursor Django wraps.
    import psycopg
    from psycopg.types.json import Json, Jsonb
    from psycopg.types.numeric import Float4, Float8, Int2, Int4, Int8, IntNumeric
    from psycopg.types.range import Range
except ImportError:  # pragma: no cover - psycopg2 or no PostgreSQL driver
    psycopg = None  # type: ignore[assignment]

_PLAIN: set[type] = {
    type(None),
    str,
    int,
    float,
    bool,
    decimal.Decimal,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    bytes,
    bytearray,
    memoryview,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
}
#: Django's own wrappers: Binary, Jsonb, and the ints of integer fields.
_WRAPPERS: set[type] = (
    set()
    if psycopg is None
    else {psycopg.Binary, Json, Jsonb, Range, Int2, Int4, Int8, IntNumeric}
    | {Float4, Float8}
)
#: Types whose psycopg text form COPY reads exactly as an INSERT's parameter.
COPYABLE: frozenset[type] = frozenset(_PLAIN | _WRAPPERS)


def copies(connection: Any) -> bool:
    """Whether ``connection`` loads rows with COPY: PostgreSQL through psycopg 3
    (through psycopg2, the INSERTs are kept)."""
    if psycopg is None or connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return bool(is_psycopg3)


def casts_to_column(field: Any) -> bool:
    """Whether ``field``'s own placeholder only casts its value to the
    column's type (``%s::integer[]``: an array's, a range's): COPY reads the
    text into the column alike."""
    try:
        from django.contrib.postgres.fields import ArrayField, RangeField
    except ImportError:  # pragma: no cover - no PostgreSQL driver
        return False
    method = getattr(type(field), "get_placeholder", None)
    return method is ArrayField.get_placeholder or method is RangeField.get_placeholder


def copyable(rows: Sequence[Sequence[Any]]) -> bool:
    """Whether every value of ``rows`` is of a type COPY takes as an INSERT
    does (arrays: lists of such values)."""
    types = set(map(type, chain.from_iterable(rows)))
    if types <= COPYABLE:
        return True
    if not types - {list} <= COPYABLE:
        return False
    return all(
        _copyable_list(value)
        for value in chain.from_iterable(rows)
        if type(value) is list
    )


def _copyable_list(values: list[Any]) -> bool:
    return all(
        type(value) in COPYABLE or (type(value) is list and _copyable_list(value))
        for value in values
    )


def copy_rows(
    connection: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> bool:
    """Write ``rows`` into ``table`` (``columns`` in that order) with one COPY;
    False, writing nothing, when the connection or a value cannot take it."""
    if not rows:
        return True
    if not copies(connection) or not copyable(rows):
        return False
    quote = connection.ops.quote_name
    statement = "COPY {} ({}) FROM STDIN".format(
        quote(table), ", ".join(quote(column) for column in columns)
    )
    started = time.monotonic()
    with connection.cursor() as cursor:
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
    if connection.queries_logged:
        # As CursorDebugWrapper logs an executemany: the statement, once.
        connection.queries_log.append(
            {
                "sql": f"{len(rows)} rows: {statement}",
                "time": f"{time.monotonic() - started:.3f}",
            }
        )
    return True


def column_types(connection: Any, table: str, columns: Sequence[str]) -> list[str]:
    """The type of each of ``columns`` of ``table``, named without its modifier
    (``pg_catalog.varchar``, not ``varchar(300)``): a cast to it keeps the
    value whole, and the assignment to the column then checks, rounds or
    refuses it exactly as an INSERT's would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname, quote_ident(n.nspname) || '.' || quote_ident(t.typname) "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 "
            "AND NOT a.attisdropped",
            [connection.ops.quote_name(table)],
        )
        types = dict(cursor.fetchall())
    return [types[column] for column in columns]


def update_from_values(
    connection: Any,
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """``UPDATE table SET column = value`` of many rows in few statements.

    Each row holds a value per column of ``columns``, the last one the key that
    finds its row (rows name distinct keys); ``types`` are their SQL types
    (:func:`column_types`): the first row is cast to them, and VALUES reads the
    others alike.
    """
    quote = connection.ops.quote_name
    names = [quote(f"v{index}") for index in range(len(columns))]
    first = "({})".format(", ".join(f"%s::{kind}" for kind in types))
    other = "({})".format(", ".join(["%s"] * len(types)))
    sets = ", ".join(
        f"{quote(column)} = v.{name}"
        for column, name in zip(columns[:-1], names, strict=False)
    )
    # PostgreSQL takes at most 65535 parameters in one statement.
    size = max(1, min(len(rows), 65535 // len(types)))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            # Names are quoted by the backend, types come from the catalog;
            # values are parameters.
            statement = (
                f"UPDATE {quote(table)} SET {sets} FROM (VALUES "  # noqa: S608
                f"{', '.join([first] + [other] * (len(chunk) - 1))}) AS v "
                f"({', '.join(names)}) WHERE {quote(table)}.{quote(columns[-1])} "
                f"= v.{names[-1]}"
            )
            cursor.execute(statement, list(chain.from_iterable(chunk)))
