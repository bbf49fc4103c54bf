"""The edges of the values that the row path reads as text, on every database."""

from __future__ import annotations

import datetime

from django.db import models

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
