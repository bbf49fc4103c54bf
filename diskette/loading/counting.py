"""Rows and collisions: what the archive's objects would meet in the target.

:func:`count_rows` counts, per model, the objects a plan's fixtures hold, the
target's rows and the primary keys both share (the rows a load would replace).
The fixtures are streamed by :func:`diskette.readers.read_raw_objects`, the one
reader of every format: memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.apps import apps as django_apps
from django.db import DatabaseError, transaction

from diskette.loading.loader import Fixture
from diskette.readers import read_raw_objects

#: Primary keys looked up per query when counting collisions.
PK_CHUNK = 500


@dataclass
class ModelRows:
    """One model of the archive: objects in it, rows in the target, shared keys.

    ``collisions`` is the number of the archive's primary keys already in the
    target (their rows would be replaced); objects without a primary key
    (natural primary keys) are counted in ``unknown``. ``model`` is the model's
    ``Model._meta.label``, the form :func:`diskette.manifest.model_label` gives
    every shown label: the dump's, the manifest's and the load's.
    """

    model: str
    objects: int = 0
    rows: int | None = None
    collisions: int | None = 0
    unknown: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _model(label: Any):
    if not isinstance(label, str):
        return None
    try:
        return django_apps.get_model(label)
    except (LookupError, ValueError):
        return None


def _raw_objects(fixture: Fixture) -> Iterator[tuple[Any, Any, bool]]:
    """(model label, primary key, has a primary key) of each object of a fixture."""
    with open(fixture.path, "rb") as stream:
        for raw in read_raw_objects(stream, fixture.format):
            if isinstance(raw, dict):
                yield raw.get("model"), raw.get("pk"), "pk" in raw


class _Counter:
    """Looks up the archive's primary keys in the target, ``PK_CHUNK`` at a time."""

    def __init__(self, using: str):
        self.using = using
        self.models: dict[str, ModelRows] = {}
        self.pending: dict[Any, list] = {}

    def add(self, label: Any, pk: Any, has_pk: bool) -> None:
        model = _model(label)
        if model is None:
            return  # the rehearsal names a model that does not exist
        rows = self.row(model)
        rows.objects += 1
        if not has_pk or pk is None:
            rows.unknown += 1
            return
        try:
            value = model._meta.pk.to_python(pk)
        except Exception:  # noqa: BLE001 - the rehearsal reports a bad value
            return
        chunk = self.pending.setdefault(model, [])
        chunk.append(value)
        if len(chunk) >= PK_CHUNK:
            self.flush(model)

    def _count(self, queryset) -> int | None:
        """A count, or None when the table cannot be read (not migrated)."""
        try:
            with transaction.atomic(using=self.using):
                return queryset.count()
        except DatabaseError:
            return None

    def row(self, model) -> ModelRows:
        label = model._meta.label
        if label not in self.models:
            rows = self._count(model._base_manager.using(self.using))
            self.models[label] = ModelRows(
                model=label, rows=rows, collisions=0 if rows is not None else None
            )
        return self.models[label]

    def flush(self, model) -> None:
        chunk = self.pending.pop(model, [])
        rows = self.row(model)
        if chunk and rows.collisions is not None:
            manager = model._base_manager.using(self.using)
            found = self._count(manager.filter(pk__in=set(chunk)))
            rows.collisions = None if found is None else rows.collisions + found


def count_rows(fixtures: Sequence[Fixture], using: str) -> list[ModelRows]:
    """Per model: objects in the fixtures (never the manifest's figures), rows in
    the target and colliding primary keys; streams the fixtures, memory stays flat."""
    counter = _Counter(using)
    for fixture in fixtures:
        try:
            with transaction.atomic(using=using):
                for label, pk, has_pk in _raw_objects(fixture):
                    counter.add(label, pk, has_pk)
        except Exception:  # noqa: BLE001, S112 - unreadable: the rehearsal says why
            continue
    for model in list(counter.pending):
        counter.flush(model)
    return sorted(counter.models.values(), key=lambda item: item.model)
