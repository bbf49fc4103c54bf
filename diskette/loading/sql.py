"""How rows reach the database: the statements a load runs for many objects.

``save_object`` is ``loaddata``'s save of one object (with or without signals);
the others write many rows in one statement exactly as those saves would write
them one by one: the raw attribute values of the local concrete fields, prepared by
each field for the database. They are shared by the batched saver and by the
finish of forward references. On PostgreSQL the rows of a batch go in with one
COPY (:mod:`diskette.loading.postgres`), and each write first lets the load set
the foreign keys of its tables aside (:mod:`diskette.loading.constraints`).
"""

from __future__ import annotations

from django.core.serializers.base import DeserializedObject
from django.db import connections, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import BinaryField, CharField, Field, Model, TextField
from django.db.models.signals import post_save, pre_save

from diskette.loading import postgres
from diskette.loading.constraints import before_write

#: Objects kept per model before their rows are inserted (and rows per UPDATE
#: batch); read as ``sql.BATCH_SIZE`` so that a test may lower it.
BATCH_SIZE = 1000
#: Model methods that a batched write stands in for: a model overriding one of
#: them is saved the exact way.
SAVE_METHODS = ("save_base", "_save_table", "_do_insert", "_do_update")


def save_object(item: DeserializedObject, using: str, *, signals: bool = True) -> None:
    """Save one object as ``loaddata`` does (``save_base(raw=True)``, then each
    many-to-many ``set()``); without ``signals``, the same writes, no signal."""
    if signals:
        item.save(using=using)
        return
    obj = item.object
    cls = obj.__class__
    if cls._meta.proxy:
        cls = cls._meta.concrete_model
    with transaction.mark_for_rollback_on_error(using=using):
        obj._save_table(raw=True, cls=cls, using=using)
    obj._state.db = using
    obj._state.adding = False
    for accessor, values in (item.m2m_data or {}).items():
        _set_quietly(getattr(obj, accessor), values, using)


def _set_quietly(manager, values, using: str) -> None:
    """A many-to-many ``set()`` that sends no signal: same rows, same order."""
    through = manager.through
    source, target = manager.source_field_name, manager.target_field_name
    old = set(
        manager.using(using).values_list(
            manager.target_field.target_field.attname, flat=True
        )
    )
    new = set()
    for value in values:
        fk = manager.target_field.get_prep_value(value)
        if fk in old:
            old.remove(fk)
        else:
            new.add(fk)
    pairs = [(source, target)]
    if manager.symmetrical:
        pairs.append((target, source))
    own = manager.related_val[0]
    table = through._base_manager.using(using)
    for src, tgt in pairs:
        if old:
            table.filter(**{f"{src}_id": own, f"{tgt}_id__in": old})._raw_delete(using)
        if new:
            table.bulk_create(
                [through(**{f"{src}_id": own, f"{tgt}_id": fk}) for fk in new],
                ignore_conflicts=True,
            )


def has_receivers(model: type[Model]) -> bool:
    """Whether ``pre_save`` or ``post_save`` has a receiver for ``model``."""
    return pre_save.has_listeners(model) or post_save.has_listeners(model)


def has_db_default(item) -> bool:
    """Whether a field's value is computed by the database (``db_default``)."""
    default = getattr(item, "db_default", None)
    if default is None:
        return False
    from django.db.models import NOT_PROVIDED

    return default is not NOT_PROVIDED


def insert_rows(model: type[Model], objs: list, using: str, *, pk: bool = True) -> None:
    """INSERT ``objs`` as ``save_base(raw=True)`` inserts one: the raw attribute
    values of the local concrete fields (primary key included when ``pk``),
    prepared by each field for the database, one statement run for all rows."""
    meta = model._meta
    fields = [
        f
        for f in meta.local_concrete_fields
        if not getattr(f, "generated", False) and (pk or f is not meta.pk)
    ]
    connection = connections[using]
    own = [f for f in fields if own_placeholder(f, connection)]
    if own and not (
        postgres.copies(connection) and all(postgres.casts_to_column(f) for f in own)
    ):
        _insert_with_placeholders(model, fields, objs, using, pk=pk)
        return
    plan = preps(fields)
    rows = [row_values(obj, plan, connection) for obj in objs]
    if not own:
        insert_prepared(model, fields, rows, using)
        return
    # Placeholders that cast to the column's type: COPY does the same.
    before_write(model, using)
    if not postgres.copy_rows(
        connection, model._meta.db_table, [f.column for f in fields], rows
    ):
        _insert_with_placeholders(model, fields, objs, using, pk=pk)


def _insert_with_placeholders(
    model: type[Model], fields: list[Field], objs: list, using: str, *, pk: bool
) -> None:
    """The ORM's INSERT, for fields whose values need their own placeholders."""
    before_write(model, using)
    connection = connections[using]
    manager = model._base_manager.using(using)
    size = max(min(BATCH_SIZE, connection.ops.bulk_batch_size(fields, objs)), 1)
    for start in range(0, len(objs), size):
        manager._insert(objs[start : start + size], fields=fields, raw=pk, using=using)


def insert_prepared(
    model: type[Model], fields: list[Field], rows: list[list], using: str
) -> None:
    """INSERT rows whose values are already the database's (each field's
    ``get_db_prep_save``), in ``fields`` order: the one statement every batched
    write of model rows ends in (a COPY on PostgreSQL)."""
    connection = connections[using]
    before_write(model, using)
    table = model._meta.db_table
    if postgres.copy_rows(connection, table, [f.column for f in fields], rows):
        return
    quote = connection.ops.quote_name
    # Names are quoted by the backend; values are parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def own_placeholder(field, connection) -> bool:
    """Whether ``field`` may want another SQL placeholder than ``%s`` (a
    ``BinaryField`` does on some backends, not on those whose
    ``binary_placeholder_sql`` is the default)."""
    method = getattr(type(field), "get_placeholder", None)
    if method is None:
        return False
    return not (
        method is BinaryField.get_placeholder
        and type(connection.ops).binary_placeholder_sql
        is BaseDatabaseOperations.binary_placeholder_sql
    )


def preps(fields) -> list[tuple]:
    """(attname, ``get_db_prep_save``, whether a str or None goes to the database
    as it is) of each field."""
    return [(f.attname, f.get_db_prep_save, _passes_text(f)) for f in fields]


def _passes_text(field) -> bool:
    """Whether ``get_db_prep_save`` returns a str (or None) unchanged: a
    ``CharField`` or ``TextField`` (or a subclass) that changes none of it."""
    cls = type(field)
    return (
        cls.get_db_prep_save is Field.get_db_prep_save
        and cls.get_db_prep_value is Field.get_db_prep_value
        and any(
            cls.get_prep_value is text.get_prep_value
            and cls.to_python is text.to_python
            for text in (CharField, TextField)
        )
    )


def row_values(obj: Model, plan: list[tuple], connection) -> list:
    """The database values of ``obj``'s fields, as ``get_db_prep_save`` gives
    them (text as it is: the same value, without five calls per field)."""
    row = []
    append = row.append
    for attname, prep, text in plan:
        value = getattr(obj, attname)
        if text and (type(value) is str or value is None):
            append(value)
        else:
            append(prep(value, connection))
    return row


def insert_links(through, source, target, pairs: list, using: str) -> None:
    """INSERT many-to-many rows as ``add()`` does: the ids come from the table
    (a COPY on PostgreSQL)."""
    connection = connections[using]
    before_write(through, using)
    prep_source, prep_target = source.get_db_prep_save, target.get_db_prep_save
    rows = [(prep_source(a, connection), prep_target(b, connection)) for a, b in pairs]
    if postgres.copy_rows(
        connection, through._meta.db_table, (source.column, target.column), rows
    ):
        return
    quote = connection.ops.quote_name
    table, columns = (
        quote(through._meta.db_table),
        (quote(source.column), quote(target.column)),
    )
    sql = f"INSERT INTO {table} ({columns[0]}, {columns[1]}) VALUES (%s, %s)"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
