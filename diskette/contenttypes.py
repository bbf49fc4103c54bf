"""Content types and permissions that mean the same model after a load as before.

Natural keys protect foreign keys that diskette writes, but real apps store
content type ids as data: a primary key that is a content type (Wagtail's
``WorkflowContentType``), integers inside JSON (Wagtail revisions,
django-reversion's serialized versions), polymorphic ``polymorphic_ctype``
columns dumped by id. A target numbers its content types in the order its
migrations (or ``flush``) created them, so the same id names another model.

The dump records the source's content types and permissions by id and natural
key in the manifest (:func:`recorded_identities`); an archive of the original
diskette gives them through its own ``contenttypes``/``auth`` fixtures, when it
has them (:func:`archive_identities`). Inside the load's transaction, before the
first fixture, :func:`align` renumbers the target's rows to the archive's ids and
rewrites every foreign key of the target's own rows that points at them, so that
each id in the archive's data names the same model (or permission) in the target
as in the source. Target-only content types that sit on an id the source used for
another model move to fresh ids; the archive's ids that the target lacks stay
free.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management.color import no_style
from django.core.serializers.base import DeserializationError
from django.db import connections
from django.db.models import Model

from diskette.exceptions import LoadError
from diskette.manifest import Manifest
from diskette.readers import read_objects

CONTENT_TYPES = "contenttypes.contenttype"
PERMISSIONS = "auth.permission"

#: Models known to store content type ids as plain data (not a foreign key), which
#: no renumbering can rewrite: a target holding their rows is not aligned in place.
CONTENT_TYPE_DATA = ("reversion.Version", "wagtailcore.Revision")

#: Ids per UPDATE statement: keeps the SQL small on every backend.
_BATCH = 500

ContentTypeKey = tuple[str, str]
PermissionKey = tuple[str, str, str]


@dataclass(frozen=True)
class Identities:
    """The source's content types and permissions by id and natural key."""

    content_types: dict[int, ContentTypeKey] = field(default_factory=dict)
    permissions: dict[int, PermissionKey] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.content_types or self.permissions)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> Identities:
        """What the manifest records (nothing for the original diskette's)."""
        return cls(
            content_types={pk: (a, m) for pk, a, m in manifest.content_types},
            permissions={pk: (a, m, c) for pk, a, m, c in manifest.permissions},
        )


@dataclass
class Alignment:
    """What :func:`align` renumbered: old target id → new id, per kind."""

    content_types: dict[int, int] = field(default_factory=dict)
    permissions: dict[int, int] = field(default_factory=dict)

    def summary(self) -> str | None:
        """One line for the reporter and the plan, or None when nothing moved."""
        if not (self.content_types or self.permissions):
            return None
        return (
            f"{len(self.content_types)} content type(s) and "
            f"{len(self.permissions)} permission(s) of the target renumbered to the "
            "archive's ids"
        )


def _model(label: str) -> type[Model] | None:
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def recorded_identities(using: str) -> Identities:
    """The content types and permissions of database ``using``, for the manifest."""
    content_type, permission = _model(CONTENT_TYPES), _model(PERMISSIONS)
    if content_type is None:
        return Identities()
    types = {
        pk: (app_label, model)
        for pk, app_label, model in content_type._base_manager.using(using)
        .order_by("pk")
        .values_list("pk", "app_label", "model")
    }
    perms = {}
    if permission is not None:
        perms = {
            pk: (app_label, model, codename)
            for pk, app_label, model, codename in permission._base_manager.using(using)
            .order_by("pk")
            .values_list(
                "pk", "content_type__app_label", "content_type__model", "codename"
            )
        }
    return Identities(content_types=types, permissions=perms)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def identities_from_objects(objects: Iterable[Any]) -> Identities:
    """The identities that raw fixture objects give, for archives whose manifest
    records none (the original diskette's): content types with a primary key, and
    permissions with a primary key and a content type (by natural key or by id)."""
    types: dict[int, ContentTypeKey] = {}
    pending: list[tuple[int, Any, str]] = []
    for raw in objects:
        if not isinstance(raw, dict) or not isinstance(raw.get("fields"), dict):
            continue
        label, pk, fields = (
            str(raw.get("model", "")).lower(),
            raw.get("pk"),
            raw["fields"],
        )
        if not _int(pk):
            continue
        if label == CONTENT_TYPES:
            app_label, model = fields.get("app_label"), fields.get("model")
            if isinstance(app_label, str) and isinstance(model, str):
                types[pk] = (app_label, model)
        elif label == PERMISSIONS and isinstance(fields.get("codename"), str):
            pending.append((pk, fields.get("content_type"), fields["codename"]))
    perms: dict[int, PermissionKey] = {}
    for pk, owner, codename in pending:
        if _int(owner):
            owner = types.get(owner)
        if (
            isinstance(owner, list | tuple)
            and len(owner) == 2
            and all(isinstance(part, str) for part in owner)
        ):
            perms[pk] = (owner[0], owner[1], codename)
    return Identities(content_types=types, permissions=perms)


def _moves(
    source: dict[int, Any], target: dict[Any, int], fresh: int
) -> dict[int, int]:
    """Old target id → new id, so that each shared natural key takes the source's id
    and no target-only row keeps an id the source used for something else."""
    wanted = {key: pk for pk, key in source.items()}
    moves: dict[int, int] = {}
    for key, pk in sorted(target.items(), key=lambda item: item[1]):
        if key in wanted:
            if wanted[key] != pk:
                moves[pk] = wanted[key]
        elif pk in source:
            moves[pk] = fresh
            fresh += 1
    return moves


def _references(model: type[Model]) -> list[tuple[str, str]]:
    """``(table, column)`` of every concrete foreign key to ``model``'s primary key,
    the auto-created M2M tables included."""
    found = []
    for candidate in apps.get_models(include_auto_created=True):
        meta = candidate._meta
        if meta.proxy or not meta.managed:
            continue
        for item in meta.local_fields:
            remote = getattr(item, "remote_field", None)
            if (
                remote is not None
                and (item.many_to_one or item.one_to_one)
                and remote.model is model
                and item.target_field.primary_key
            ):
                found.append((meta.db_table, item.column))
    return found


def _renumber(cursor, quote, table: str, column: str, moves: dict[int, int]) -> None:
    """Apply ``moves`` to one column through negative ids, so that no unique
    constraint sees two rows with one value half way through."""
    items = sorted(moves.items())
    name, col = quote(table), quote(column)
    for start in range(0, len(items), _BATCH):
        batch = items[start : start + _BATCH]
        cases = " ".join(f"WHEN {int(old)} THEN {-int(new)}" for old, new in batch)
        olds = ", ".join(str(int(old)) for old, _ in batch)
        cursor.execute(
            f"UPDATE {name} SET {col} = CASE {col} {cases} END WHERE {col} IN ({olds})"  # noqa: S608
        )
    cursor.execute(f"UPDATE {name} SET {col} = -{col} WHERE {col} < 0")  # noqa: S608


def _apply(
    model: type[Model], moves: dict[int, int], using: str, tables: set[str]
) -> None:
    """Renumber ``model``'s rows and every foreign key to them."""
    if not moves:
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, column in _references(model):
            if table in tables:
                _renumber(cursor, quote, table, column, moves)
        _renumber(cursor, quote, model._meta.db_table, model._meta.pk.column, moves)
        for statement in connection.ops.sequence_reset_sql(no_style(), [model]):
            cursor.execute(statement)


def _fresh(source: Iterable[int], target: Iterable[int]) -> int:
    return max([0, *source, *target]) + 1


def _held(using: str, tables: set[str]) -> list[str]:
    """Models of :data:`CONTENT_TYPE_DATA` the target holds rows of, counted."""
    held = []
    for label in CONTENT_TYPE_DATA:
        model = _model(label)
        if model is not None and model._meta.db_table in tables:
            count = model._base_manager.using(using).count()
            if count:
                held.append(f"{count} {label} row(s)")
    return held


def align(identities: Identities, using: str) -> Alignment:
    """Renumber the target's content types and permissions to the archive's ids.

    Runs inside the load's transaction with constraint checks deferred. Raise
    :class:`LoadError` (the transaction then rolls back: nothing changed) when
    the target holds rows that store content type ids as data and would keep
    pointing at the old numbers.
    """
    alignment = Alignment()
    content_type, permission = _model(CONTENT_TYPES), _model(PERMISSIONS)
    if content_type is None or not identities:
        return alignment
    tables = set(connections[using].introspection.table_names())
    types = {
        (app_label, model): pk
        for pk, app_label, model in content_type._base_manager.using(using).values_list(
            "pk", "app_label", "model"
        )
    }
    alignment.content_types = _moves(
        identities.content_types,
        types,
        _fresh(identities.content_types, types.values()),
    )
    if alignment.content_types:
        held = _held(using, tables)
        if held:
            raise LoadError(
                "the target numbers its content types differently from the archive "
                f"and holds {', '.join(held)}, which store content type ids as data "
                "and cannot be renumbered: load with flush=True or into a "
                "freshly migrated database; the database is unchanged"
            )
    _apply(content_type, alignment.content_types, using, tables)
    if permission is not None and identities.permissions:
        perms = {
            (app_label, model, codename): pk
            for pk, app_label, model, codename in permission._base_manager.using(
                using
            ).values_list(
                "pk", "content_type__app_label", "content_type__model", "codename"
            )
        }
        alignment.permissions = _moves(
            identities.permissions,
            perms,
            _fresh(identities.permissions, perms.values()),
        )
        _apply(permission, alignment.permissions, using, tables)
    content_type.objects.clear_cache()
    return alignment


def archive_identities(manifest: Manifest, fixtures: Iterable[Any]) -> Identities:
    """The source's identities: the manifest's record, or, for an archive of the
    original diskette, what its JSON fixtures say (``fixtures`` have ``path`` and
    ``format``; only content types and permissions are kept while reading)."""
    if manifest.content_types or not manifest.is_legacy:
        return Identities.from_manifest(manifest)
    wanted = (CONTENT_TYPES, PERMISSIONS)
    kept: list[Any] = []
    for fixture in fixtures:
        try:
            with open(fixture.path, "rb") as stream:
                for raw in read_objects(stream, fixture.format) or ():
                    if (
                        isinstance(raw, dict)
                        and str(raw.get("model", "")).lower() in wanted
                    ):
                        kept.append(raw)
        except (DeserializationError, OSError, ValueError):
            continue  # the load reads the file again and reports what is wrong
    return identities_from_objects(kept)
