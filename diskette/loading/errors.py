"""Load errors that name the model, the object and the likely fix.

A database says "UNIQUE constraint failed: auth_permission.content_type_id,
auth_permission.codename" or "Key (mentor_id)=(999) is not present"; a user needs
to know which object of which data file, which object it collides with or misses,
and what to change. The backends' messages (SQLite's and PostgreSQL's) are read
here into those terms; a message that cannot be read is passed on as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.core.serializers.base import DeserializationError, DeserializedObject
from django.db import IntegrityError, connections
from django.db.models import Model

from diskette.exceptions import DisketteError, IntegrityLoadError, LoadError

if TYPE_CHECKING:
    from diskette.loading.savers import LoadState

#: SQLite: "UNIQUE constraint failed: table.a, table.b".
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w., ]+)")
#: PostgreSQL: "Key (a, b)=(1, x) already exists."
_PG_UNIQUE = re.compile(r"Key \((?P<columns>[^)]*)\)=\((?P<values>.*)\) already exists")
_SQLITE_NULL = re.compile(r"NOT NULL constraint failed: \w+\.(?P<column>\w+)")
_PG_NULL = re.compile(r'null value in column "(?P<column>\w+)"')
#: Django's SQLite ``check_constraints``.
_SQLITE_FK = re.compile(
    r"The row in table '(?P<table>[^']+)' with primary key '(?P<pk>[^']*)' has an "
    r"invalid foreign key: [^.]+\.(?P<column>\S+) contains a value '(?P<value>[^']*)'"
)
#: PostgreSQL's deferred foreign key check.
_PG_FK = re.compile(
    r'on table "(?P<table>[^"]+)" violates foreign key constraint .*'
    r"Key \((?P<column>[^)]+)\)=\((?P<value>.*)\) is not present"
)


class Missing(LookupError):
    """A deferred value names an object that the database does not hold (yet)."""

    def __init__(self, field: Any, value: Any):
        super().__init__(f"{field.remote_field.model._meta.label} {value!r}")
        self.field = field
        self.value = value


def _block(execute, sql, params, many, context):
    raise LookupError("no query while an error is described")


def natural_key_of(obj: Model) -> tuple | None:
    """``obj.natural_key()`` when it needs no query (the transaction may be
    broken by the error being described), else None."""
    method = getattr(obj, "natural_key", None)
    if not callable(method):
        return None
    with ExitStack() as stack:
        for connection in connections.all():
            stack.enter_context(connection.execute_wrapper(_block))
        try:
            return tuple(method())
        except Exception:  # noqa: BLE001 - a label without the key then
            return None


def label(obj: Model) -> str:
    """``app.Model(pk=…)``, or its natural key when it has no primary key."""
    meta = obj._meta
    if obj.pk is None:
        natural = natural_key_of(obj)
        if natural is not None:
            return f"{meta.label}(natural key {natural!r})"
    return f"{meta.label}(pk={obj.pk!r})"


def one_line(error: BaseException) -> str:
    """An error's message on one line, with its cause when Django hid it."""
    text = str(error) or type(error).__name__
    cause = error.__cause__
    if (
        isinstance(error, DeserializationError)
        and cause is not None
        and str(cause)
        and str(cause) not in text
    ):
        text = f"{text} {cause}".strip()
    return " ".join(text.split())


@contextmanager
def naming(item: DeserializedObject, fixture: str, state: LoadState | None = None):
    """Turn an error saving ``item`` into a LoadError naming it and its file."""
    try:
        yield
    except IntegrityError as error:
        raise IntegrityLoadError(
            f"data file {fixture!r}: could not load {label(item.object)}: "
            f"{integrity_reason(error, item.object, state)}; the database is unchanged"
        ) from error
    except (DisketteError, Missing):
        raise
    except Exception as error:
        # DatabaseError, ValueError, or whatever a pre_save/post_save receiver
        # raised: name the object; --traceback shows the chain.
        raise LoadError(
            f"data file {fixture!r}: could not load {label(item.object)}: "
            f"{one_line(error)}; the database is unchanged"
        ) from error


def _columns(model: type[Model], names: Iterator[str]) -> list:
    by_column = {f.column: f for f in model._meta.concrete_fields}
    return [by_column.get(name.strip().split(".")[-1].strip('"')) for name in names]


def integrity_reason(
    error: IntegrityError, obj: Model, state: LoadState | None = None
) -> str:
    """What an IntegrityError saving ``obj`` means, and what to do about it."""
    text = one_line(error)
    model = type(obj)
    meta = model._meta
    match = _SQLITE_UNIQUE.search(text) or _PG_UNIQUE.search(text)
    if match is not None:
        fields = _columns(model, iter(match["columns"].split(",")))
        if fields and all(fields):
            values = ", ".join(f"{f.name}={getattr(obj, f.attname)!r}" for f in fields)
            return (
                f"another {meta.label} with {values} already exists; "
                f"{_collision_fix(model, state)}"
            )
    match = _SQLITE_NULL.search(text) or _PG_NULL.search(text)
    if match is not None:
        (field,) = _columns(model, iter([match["column"]]))
        if field is not None:
            # PostgreSQL's DETAIL repeats the whole row: the message names it.
            reason = text.split(" DETAIL:")[0]
            return (
                f"its field {field.name!r} is empty and may not be ({reason}): the "
                f"data holds no value for it; fix the data, or make {meta.label}."
                f"{field.name} nullable"
            )
    return text


def _collision_fix(model: type[Model], state: LoadState | None) -> str:
    """The fix of a unique collision: the target made the rows, or the data
    repeats a value."""
    name = model._meta.label
    held = None if state is None else state.held.get(model)
    if held is False:
        return (
            f"the data files hold both (its table was empty before the load): "
            f"remove one of them from the data, or dump {name} again"
        )
    fix = (
        f"leave {name} out of DISKETTE_APPS (the target creates it), dump it with "
        "natural_primary (its rows are then found by natural key)"
    )
    if state is not None and state.flushed:
        return f"the target made {name} rows again after the flush: {fix}"
    return f"the target database already holds {name} rows: {fix} or load with flush"


def missing_target(
    fixture: str, obj: Model, field: Any, value: Any
) -> IntegrityLoadError:
    """The error of a natural key that names an object neither the data nor
    the database holds."""
    target = field.remote_field.model._meta.label
    return IntegrityLoadError(
        f"data file {fixture!r}: {label(obj)} refers to an object that no data file "
        f"holds and the database lacks: {target} with natural key {value!r} (its field "
        f"{field.name!r}); the database is unchanged (dump {target} too: add its "
        "definition to DISKETTE_APPS, or remove the reference)"
    )


@contextmanager
def missing(item: DeserializedObject, fixture: str):
    """Say so when a forward reference names an object that no fixture held."""
    try:
        yield
    except Missing as error:
        raise missing_target(fixture, item.object, error.field, error.value) from None


def table_fixtures(state: LoadState, message: str) -> list[str]:
    """The fixtures that wrote the tables a constraint error names."""
    names: set[str] = set()
    for table, fixtures in state.tables.items():
        if re.search(rf"\b{re.escape(table)}\b", message):
            names.update(fixtures)
    return sorted(names)


def broken_reference(error: IntegrityError, using: str, state: LoadState) -> str:
    """The message of a foreign key check that failed at the end of the load:
    the object, its field and the missing object, with the data file."""
    text = one_line(error)
    match = _SQLITE_FK.search(text) or _PG_FK.search(text)
    where = (
        sorted(state.tables[match["table"]])
        if match is not None and match["table"] in state.tables
        else table_fixtures(state, text)
    )
    source = f"data file {', '.join(repr(n) for n in where)}: " if where else ""
    models = {
        m._meta.db_table: m
        for m in apps.get_models(include_auto_created=True)
        if not m._meta.proxy
    }
    model = models.get(match["table"]) if match is not None else None
    field = None
    if model is not None:
        (field,) = _columns(model, iter([match["column"]]))
    if field is None or field.remote_field is None:
        return (
            f"{source}the loaded data breaks a database constraint: {text}; the "
            "database is unchanged (a referenced object is missing: add its "
            "definition to the dump)"
        )
    target = field.remote_field.model
    value = _python(field.target_field, match["value"])
    pk = match.groupdict().get("pk")
    if pk is None:
        pk = _row_pk(model, field, value, using)
    pk = _python(model._meta.pk, pk)
    name = field.name
    if model._meta.auto_created:
        # A link row: named by the object that holds the many-to-many.
        model, name, pk = _link_owner(model, field, pk, using)
    who = f"{model._meta.label}(pk={pk!r})"
    target_name = target._meta.label
    key = "pk" if field.target_field.primary_key else field.target_field.name
    return (
        f"{source}{who} refers by its field {name!r} to {target_name}"
        f"({key}={value!r}), which no data file holds and the database lacks "
        f"({match['table']}.{field.column}); the "
        f"database is unchanged (dump {target_name} too: add its definition to "
        "DISKETTE_APPS, or remove the reference)"
    )


def _python(field, text: Any) -> Any:
    """A value read from a database message, as the field's Python value."""
    if text is None:
        return None
    try:
        return field.to_python(text)
    except Exception:  # noqa: BLE001 - shown as the database wrote it
        return text


def _link_owner(through: type[Model], field, pk: Any, using: str) -> tuple:
    """(model, many-to-many name, primary key) of the object whose link row
    ``pk`` of ``through`` names a missing object through ``field``."""
    source = next(
        f for f in through._meta.concrete_fields if f.remote_field and f is not field
    )
    owner = source.remote_field.model
    m2m = next(
        (m for m in owner._meta.many_to_many if m.remote_field.through is through),
        None,
    )
    try:
        owner_pk = (
            through._base_manager.using(using)
            .filter(pk=pk)
            .values_list(source.attname, flat=True)
            .first()
        )
    except Exception:  # noqa: BLE001 - the message goes without it
        owner_pk = None
    return owner, field.name if m2m is None else m2m.name, owner_pk


def _row_pk(model: type[Model], field, value: Any, using: str) -> Any:
    """The primary key of a row whose ``field`` holds ``value`` (PostgreSQL
    names the value, not the row)."""
    try:
        return (
            model._base_manager.using(using)
            .filter(**{field.attname: value})
            .values_list("pk", flat=True)
            .first()
        )
    except Exception:  # noqa: BLE001 - the message goes without it
        return None
