"""The edges of the values that the row path reads as text, on every database."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import models
from django.db.models.functions import Cast

from diskette.definitions import Definition
from diskette.dumping.dumper import write_fixture
from diskette.dumping.reading import dump_queryset
from diskette.dumping.rows import RowPlan, row_plan
from diskette.dumping.serializer import JSONSerializer
from diskette.dumping.text_values import read_as_text

UTC = datetime.timezone.utc
MOMENTS = [
    datetime.datetime(2024, 3, 1, 12, 30, 58, 604096, UTC),
    datetime.datetime(2024, 3, 1, 12, 30, 58, 1, UTC),
    datetime.datetime(2024, 3, 1, 12, 30, 58, 120000, UTC),
    datetime.datetime(2024, 3, 1, 12, 30, 58, 123000, UTC),
    datetime.datetime(2024, 3, 1, 12, 30, 58, 100, UTC),
    datetime.datetime(2024, 3, 1, 12, 30, 58, tzinfo=UTC),
    datetime.datetime(1, 1, 1, tzinfo=UTC),
    datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, UTC),
]
DAYS = [datetime.date(2024, 2, 29), datetime.date(1, 1, 1), datetime.date(9999, 12, 31)]


def valued_model() -> type[models.Model]:
    """A model of every type the row path may read as text, made in the caller's
    ``isolate_apps`` registry (its table is the caller's to create)."""

    class Valued(models.Model):
        id = models.UUIDField(primary_key=True)
        at = models.DateTimeField(null=True)
        day = models.DateField(null=True)
        amount = models.DecimalField(max_digits=30, decimal_places=10, null=True)
        other = models.UUIDField(null=True)
        parent = models.ForeignKey("self", models.CASCADE, null=True)

        class Meta:
            app_label = "library"

        def __str__(self) -> str:
            return str(self.pk)

    return Valued


VALUED = Definition(
    name="valued", models=("library.Valued",), filename="valued.json", format="json"
)


def text_plan(model: Any, using: str) -> RowPlan:
    """The row plan of ``model`` once :func:`read_as_text` has chosen its columns."""
    return read_as_text(
        row_plan(
            model,
            dump_queryset(VALUED, model, using),
            natural_foreign=False,
            natural_primary=False,
        ),
        using,
    )


def cast_columns(plan: RowPlan) -> set[str]:
    """The fields ``plan`` selects as text."""
    return {
        select.source_expressions[0].name
        for select in plan.selects
        if isinstance(select, Cast)
    }


def both_ways(
    tmp_path: Path, valued: tuple[Any, Any], using: str
) -> tuple[bytes, bytes]:
    """``(from rows read as text, from instances)`` of the whole table."""
    registry, model = valued
    path = tmp_path / "rows.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("diskette.dumping.reading.django_apps", registry)
        write_fixture(VALUED, path, using=using)
    instances = list(model.objects.using(using).order_by("pk"))
    return path.read_bytes(), JSONSerializer().serialize(instances).encode()
