"""Foreign keys checked once per constraint at the end of a load, on PostgreSQL.

Django's foreign keys are ``DEFERRABLE INITIALLY DEFERRED``: every row written
queues one trigger event per foreign key, and the check at the end
(``SET CONSTRAINTS ALL IMMEDIATE``) runs one lookup per event, a million for a
million rows. ``pg_restore`` adds the constraints after the data instead, and
PostgreSQL validates each with one set-based query. A load does the same, in
its own transaction: before the first row of a table is written, the table's
foreign keys are dropped (:meth:`ForeignKeys.before_write`); at the end they
are added again with their exact definitions (``pg_get_constraintdef``), which
validates them (:meth:`ForeignKeys.restore`). A rollback puts them back as they
were; a broken reference fails the ``ADD CONSTRAINT`` with the message the
deferred check gives (the key and the table it is missing from).

Only constraints that the deferred check would have checked at the end are set
aside: deferrable, validated, ``NO ACTION`` ones of plain tables, without a
comment, that the role may drop and add again (it owns the table and may
reference the other one). Any other constraint, or a table whose constraints
cannot be dropped (rows already queued checks, a lock not granted within
:data:`LOCK_TIMEOUT`), keeps its triggers: those rows are checked the usual way.

Locks: dropping a foreign key takes an ``ACCESS EXCLUSIVE`` lock on its table
and on the table it references, held until the load commits or rolls back
(a dry run's rollback too): other sessions can neither read nor write those
tables meanwhile (a load replaces their content anyway). A lock that another
session holds is waited for at most :data:`LOCK_TIMEOUT`, once: the tables
whose foreign keys need it then keep their triggers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Model

#: How long a drop waits for the locks it needs before it gives up (the
#: table then keeps its triggers, and so do the tables that need the same
#: locks: the load waits that long once per busy table, not once per table).
LOCK_TIMEOUT = "1s"
#: PostgreSQL's error code of a lock not granted within ``lock_timeout``.
_LOCK_NOT_AVAILABLE = "55P03"

#: The foreign keys of one table that the load may set aside.
_DROPPABLE = """
SELECT con.conrelid::bigint, con.confrelid::bigint, con.conname,
  pg_get_constraintdef(con.oid)
FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
WHERE con.conrelid = to_regclass(%s) AND con.contype = 'f'
  AND con.condeferrable AND con.convalidated
  AND con.conparentid = 0 AND con.coninhcount = 0 AND rel.relkind = 'r'
  AND con.confupdtype = 'a' AND con.confdeltype = 'a'
  AND pg_has_role(rel.relowner, 'USAGE')
  AND has_table_privilege(con.confrelid, 'REFERENCES')
  AND NOT EXISTS (
    SELECT 1 FROM pg_description d
    WHERE d.classoid = 'pg_constraint'::regclass AND d.objoid = con.oid
  )
ORDER BY con.conname
"""

_local = threading.local()


@dataclass
class SetAside:
    """The foreign keys dropped from one table: (name, definition) each."""

    table: str
    oid: int
    constraints: list[tuple[str, str]] = field(default_factory=list)


class ForeignKeys:
    """The foreign keys one load has set aside, to add again at its end."""

    def __init__(self, connection: Any, *, check_pending: bool):
        self.connection = connection
        #: Whether checks queued before the load are run before the first drop
        #: (a table with queued checks cannot be altered): only when they are
        #: the load's own (after its flush) or its transaction's.
        self.check_pending = check_pending
        self.models: set[type[Model]] = set()
        self.tables: set[str] = set()
        self.set_aside: list[SetAside] = []
        #: Tables whose foreign keys stay, with their triggers.
        self.kept: set[str] = set()
        #: Tables (oids) another session holds a lock on: not waited for twice.
        self.busy: set[int] = set()

    def before_write(self, model: type[Model]) -> None:
        """Drop the foreign keys of the tables ``model`` writes (its own, its
        parents', its many-to-many tables) that no row of this load is in yet."""
        if model in self.models:
            return
        self.models.add(model)
        tables = [name for name in written_tables(model) if name not in self.tables]
        if not tables:
            return
        self.tables.update(tables)
        if self.check_pending:
            self.check_pending = False
            self.connection.check_constraints()
        for table in tables:
            self._drop(table)

    def _drop(self, table: str) -> None:
        """Drop the foreign keys of ``table`` that may be set aside, all or none."""
        connection = self.connection
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(_DROPPABLE, [quote(table)])
            constraints = cursor.fetchall()
        if not constraints:
            return
        needs = {oid for row in constraints for oid in row[:2]}
        if needs & self.busy:
            self.kept.add(table)
            return
        try:
            with (
                transaction.atomic(using=connection.alias),
                connection.cursor() as cursor,
            ):
                cursor.execute("SHOW lock_timeout")
                (before,) = cursor.fetchone()
                cursor.execute("SET LOCAL lock_timeout = %s", [LOCK_TIMEOUT])
                cursor.execute(
                    "ALTER TABLE {} {}".format(
                        quote(table),
                        ", ".join(
                            f"DROP CONSTRAINT {quote(name)}"
                            for *_, name, _ in constraints
                        ),
                    )
                )
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [before])
        except DatabaseError as error:
            # Checks already queued, a lock not granted, no right: its rows
            # are checked by the triggers, as without this.
            if getattr(error.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                self.busy |= self._held_elsewhere(needs)
            self.kept.add(table)
            return
        self.set_aside.append(
            SetAside(
                table,
                constraints[0][0],
                [(name, definition) for *_, name, definition in constraints],
            )
        )

    def _held_elsewhere(self, tables: set[int]) -> set[int]:
        """Which of ``tables`` (oids) another session holds a lock on."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT relation::bigint FROM pg_locks WHERE granted "
                "AND pid <> pg_backend_pid() AND relation::bigint = ANY(%s::bigint[])",
                [sorted(tables)],
            )
            return {oid for (oid,) in cursor.fetchall()}

    def restore(self) -> None:
        """Add every foreign key set aside again, validated: ``IntegrityError``
        names the first row that breaks one. Constraints that a rolled back
        savepoint put back already are left as they are."""
        if not self.set_aside:
            return
        connection = self.connection
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conrelid::bigint, conname FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid::bigint = ANY(%s::bigint[])",
                [[entry.oid for entry in self.set_aside]],
            )
            present = set(cursor.fetchall())
            for entry in self.set_aside:
                missing = [
                    (name, definition)
                    for name, definition in entry.constraints
                    if (entry.oid, name) not in present
                ]
                if missing:
                    cursor.execute(
                        "ALTER TABLE {} {}".format(
                            quote(entry.table),
                            ", ".join(
                                f"ADD CONSTRAINT {quote(name)} {definition}"
                                for name, definition in missing
                            ),
                        )
                    )
        self.set_aside = []


def written_tables(model: type[Model]) -> list[str]:
    """The tables a save of ``model`` may write: its concrete model's, its
    parents', and their auto-created many-to-many tables."""
    concrete = model._meta.concrete_model or model
    models = [concrete, *concrete._meta.get_parent_list()]
    tables = [each._meta.db_table for each in models]
    for each in models:
        for m2m in each._meta.local_many_to_many:
            through = m2m.remote_field.through
            if through is not None and through._meta.auto_created:
                tables.append(through._meta.db_table)
    return tables


def _loads() -> dict[str, ForeignKeys]:
    loads = getattr(_local, "loads", None)
    if loads is None:
        loads = _local.loads = {}
    return loads


def before_write(model: type[Model], using: str) -> None:
    """Called before a load writes rows of ``model``: set its tables' foreign
    keys aside when a load on ``using`` does so (:func:`set_aside`)."""
    keys = _loads().get(using)
    if keys is not None:
        keys.before_write(model)


@contextmanager
def set_aside(connection: Any, *, flushed: bool) -> Iterator[ForeignKeys | None]:
    """While a load writes: foreign keys of the tables it writes are dropped
    before their first row (PostgreSQL only; None elsewhere). The caller adds
    them again with :meth:`ForeignKeys.restore` at the end of the load; on an
    error, the transaction's rollback restores them."""
    if connection.vendor != "postgresql":
        yield None
        return
    loads = _loads()
    previous = loads.get(connection.alias)
    keys = ForeignKeys(
        connection, check_pending=flushed or not connection.savepoint_ids
    )
    loads[connection.alias] = keys
    try:
        yield keys
    finally:
        if previous is None:
            loads.pop(connection.alias, None)
        else:
            loads[connection.alias] = previous
