"""Every row of every model, read through the ORM and written down by meaning.

Two databases hold the same data when each model's rows have the same concrete
field values, where a value that names a content type (a foreign key to it, an id
inside a JSON document, a field of a reversion version's serialized object) is
written as the content type's natural key ``(app_label, model)``, and a
permission as ``(codename, app_label, model)``: their ids differ from database
to database, what they name must not. Rows are read with plain querysets, past
any custom or polymorphic manager.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import models

#: Models whose rows ``migrate`` creates in every database, under other ids.
MIGRATED = (ContentType, Permission)
#: JSON fields whose documents hold content type ids, and how to read them.
JSON_CONTENT_TYPES: dict[str, Callable[[Any, Meaning], Any]] = {}


@dataclass
class Meaning:
    """How one database's ids read: content types and permissions by natural key."""

    content_types: dict[int, tuple[str, str]]
    permissions: dict[int, tuple[str, str, str]]

    @classmethod
    def of(cls, using: str) -> Meaning:
        content_types = {
            pk: (app_label, model)
            for pk, app_label, model in models.QuerySet(
                ContentType, using=using
            ).values_list("pk", "app_label", "model")
        }
        permissions = {
            pk: (codename, *content_types.get(ct, ("?", str(ct))))
            for pk, codename, ct in models.QuerySet(
                Permission, using=using
            ).values_list("pk", "codename", "content_type_id")
        }
        return cls(content_types, permissions)

    def content_type(self, pk: Any) -> Any:
        if pk is None:
            return None
        return self.content_types.get(pk, ("no such content type", pk))

    def permission(self, pk: Any) -> Any:
        return self.permissions.get(pk, ("no such permission", pk))


def json_document(field_label: str):
    """Register how a JSON field's documents name content types."""

    def register(function):
        JSON_CONTENT_TYPES[field_label] = function
        return function

    return register


@json_document("catalog.Dashboard.layout")
def dashboard_layout(document: Any, meaning: Meaning) -> Any:
    if isinstance(document, str):
        document = json.loads(document)
    document = dict(document)
    document["models"] = [meaning.content_type(pk) for pk in document["models"]]
    document["pinned"] = [
        {**entry, "content_type": meaning.content_type(entry["content_type"])}
        for entry in document["pinned"]
    ]
    return document


def field_meaning(
    model: type[models.Model], field, value: Any, meaning: Meaning
) -> Any:
    """One stored value, with content types and permissions by natural key."""
    related = field.related_model if field.is_relation else None
    if related is ContentType:
        if field.many_to_many:
            return sorted(meaning.content_type(pk) for pk in value)
        return meaning.content_type(value)
    if related is Permission:
        if field.many_to_many:
            return sorted(meaning.permission(pk) for pk in value)
        return meaning.permission(value)
    if field.many_to_many and isinstance(value, list):
        return sorted(value, key=repr)
    if isinstance(value, memoryview):
        return bytes(value)
    label = f"{model._meta.label}.{field.name}"
    if label in JSON_CONTENT_TYPES and value is not None:
        return JSON_CONTENT_TYPES[label](value, meaning)
    if label == "reversion.Version.serialized_data":
        return serialized_meaning(value, meaning)
    return value


def serialized_meaning(text: str, meaning: Meaning) -> Any:
    """A reversion version's serialized objects, their fields read by meaning."""
    objects = []
    for item in json.loads(text):
        model = apps.get_model(item["model"])
        fields = {
            name: field_meaning(model, model._meta.get_field(name), value, meaning)
            for name, value in item["fields"].items()
        }
        objects.append((item["model"], item["pk"], fields))
    return objects


def row_key(model: type[models.Model], raw: dict, row: dict, meaning: Meaning) -> Any:
    """What identifies a row across databases: its primary key, except for the
    rows ``migrate`` creates (their natural key) and automatic many-to-many rows
    (the pair they link, by meaning)."""
    if model is ContentType:
        return (raw["app_label"], raw["model"])
    if model is Permission:
        return meaning.permission(raw["id"])
    if model._meta.auto_created:
        return tuple(sorted(row.items(), key=repr))
    return raw[model._meta.pk.attname]


def table(
    model: type[models.Model], using: str, meaning: Meaning, **lookups: Any
) -> dict[Any, dict]:
    """One model's rows (its own table's columns; those ``lookups`` select), by
    key, read by meaning.

    The ids of content types, permissions and automatic many-to-many rows are
    left out: nothing keeps them across databases.
    """
    fields = [
        f
        for f in model._meta.local_concrete_fields
        if not (f.primary_key and (model._meta.auto_created or model in MIGRATED))
    ]
    names = [f.attname for f in fields]
    rows = {}
    queryset = models.QuerySet(model, using=using).filter(**lookups)
    for values in queryset.values_list("pk", *names):
        raw = dict(zip(names, values[1:], strict=True))
        row = {
            f.attname: field_meaning(model, f, raw[f.attname], meaning) for f in fields
        }
        rows[row_key(model, {**raw, "id": values[0]}, row, meaning)] = row
    return rows


def every_model() -> list[type[models.Model]]:
    """Every concrete model of the project, automatic many-to-many tables too."""
    return [
        m
        for m in apps.get_models(include_auto_created=True)
        if not m._meta.proxy and m._meta.managed
    ]


def snapshot(using: str) -> dict[str, dict[Any, dict]]:
    """Every model's rows on ``using``, by meaning."""
    meaning = Meaning.of(using)
    return {m._meta.label: table(m, using, meaning) for m in every_model()}


def differences(
    source: dict[str, dict], target: dict[str, dict], limit: int = 3
) -> list[str]:
    """Readable differences between two snapshots, a few per model."""
    found = []
    for label in sorted(source.keys() | target.keys()):
        before, after = source.get(label, {}), target.get(label, {})
        problems = []
        missing = [k for k in before if k not in after]
        extra = [k for k in after if k not in before]
        if missing:
            problems.append(f"{len(missing)} rows missing, e.g. {missing[:limit]}")
        if extra:
            problems.append(
                f"{len(extra)} rows not in the source, e.g. {extra[:limit]}"
            )
        changed = [k for k in before if k in after and before[k] != after[k]]
        for key in changed[:limit]:
            fields = {
                name: (value, after[key].get(name))
                for name, value in before[key].items()
                if after[key].get(name) != value
            }
            problems.append(f"row {key!r}: {_short(fields)}")
        if len(changed) > limit:
            problems.append(f"... {len(changed) - limit} more rows differ")
        found.extend(f"{label}: {problem}" for problem in problems)
    return found


def changed_fields(source: dict[str, dict], target: dict[str, dict]) -> set[str]:
    """``label.field`` of every field that differs in some row, and ``label.*``
    for models with rows on one side only."""
    found = set()
    for label in source.keys() | target.keys():
        before, after = source.get(label, {}), target.get(label, {})
        if before.keys() != after.keys():
            found.add(f"{label}.*")
        for key in before.keys() & after.keys():
            found.update(
                f"{label}.{name}"
                for name, value in before[key].items()
                if after[key].get(name) != value
            )
    return found


def _short(fields: dict[str, tuple]) -> str:
    parts = []
    for name, (was, now) in fields.items():
        was_text, now_text = repr(was), repr(now)
        if len(was_text) > 160 or len(now_text) > 160:
            was_text, now_text = _around_first_difference(was_text, now_text)
        parts.append(f"{name}: {was_text} -> {now_text}")
    return "; ".join(parts)


def _around_first_difference(a: str, b: str, width: int = 70) -> tuple[str, str]:
    index = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
        min(len(a), len(b)),
    )
    start = max(0, index - width)
    return f"...{a[start : index + width]}...", f"...{b[start : index + width]}..."
