"""Columns read as PostgreSQL's text give the bytes their Python values give.

The row path selects datetimes, dates, decimals and UUIDs as text on PostgreSQL
(:mod:`diskette.dumping.text_values`); each edge of each type is written here
both ways, from rows read as text and from instances read as Python values,
and the fixtures must be the same bytes. A text of another shape is loaded as
the column would be, and a session whose text differs turns the path off.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.core import serializers
from django.db import connections, models
from django.test.utils import isolate_apps

from diskette.definitions import Definition
from diskette.dumping.dumper import write_fixture
from diskette.dumping.rows import row_plan
from diskette.dumping.serializer import JSONSerializer
from diskette.dumping.text_values import read_as_text
from diskette.exceptions import DumpError
from tests.dump.value_edges import (
    DAYS,
    MOMENTS,
    both_ways,
    cast_columns,
    text_plan,
    valued_model,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(databases=["default", "postgres"]),
]

AMOUNTS = [
    Decimal("0.0000001"),
    Decimal("-0.0000000001"),
    Decimal("0E-10"),
    Decimal("0.000001"),
    Decimal("-12.5000000000"),
    Decimal("12345678901234567890.1234567890"),
    Decimal("100"),
]


@pytest.fixture
def valued(postgres_db):
    """A table of every converted type on PostgreSQL, with each edge once."""
    with isolate_apps("sandbox.library") as registry:
        Valued = valued_model()

        with connections[postgres_db].schema_editor() as editor:
            editor.create_model(Valued)
        count = max(len(MOMENTS), len(DAYS), len(AMOUNTS)) + 1
        keys = [uuid.UUID(int=number * 7919 + 1) for number in range(count)]
        for number, key in enumerate(keys):
            Valued.objects.using(postgres_db).create(
                id=key,
                at=(MOMENTS + [None] * count)[number],
                day=(DAYS + [None] * count)[number],
                amount=(AMOUNTS + [None] * count)[number],
                other=uuid.uuid5(key, "other") if number % 2 else None,
                parent_id=keys[number - 1] if number else None,
            )
        yield registry, Valued


def test_every_edge_gives_the_bytes_of_its_value(tmp_path, valued, postgres_db):
    _registry, model = valued
    plan = text_plan(model, postgres_db)
    assert cast_columns(plan) == {"id", "at", "day", "amount", "other", "parent_id"}
    assert plan.columns[0] == "id", "the key stays as it is, for the ranges"
    ours, expected = both_ways(tmp_path, valued, postgres_db)
    assert ours == expected
    for text in ('"1.000E-7"', '"0E-10"', '"-1E-10"', '.000100Z"', ':58.120Z"'):
        assert text.encode() in ours, text


@pytest.mark.parametrize(
    "statement",
    ["SET DateStyle = 'German'", "SET TIME ZONE 'Asia/Kolkata'"],
)
def test_a_session_that_writes_otherwise_reads_values(
    tmp_path, valued, postgres_db, statement
):
    """Not ISO, or not UTC: those columns are read as values, as without the path.

    (A session in another time zone makes Django's loader misread datetimes,
    whichever path reads them: the bytes are still those of the values.)
    """
    _registry, model = valued
    with connections[postgres_db].cursor() as cursor:
        cursor.execute(statement)
    try:
        plan = text_plan(model, postgres_db)
        names = set(plan.columns)
        assert "at::text" not in names
        if "DateStyle" in statement:
            # psycopg itself reads ISO datetimes only: nothing more to compare.
            assert not {name for name in names if name.endswith("::text")}
        else:
            assert "day::text" in names, "dates do not depend on the time zone"
            # Years 1 and 9999 in UTC are out of Python's range at +05:30.
            model.objects.using(postgres_db).filter(at__year__in=[1, 9999]).delete()
            ours, expected = both_ways(tmp_path, valued, postgres_db)
            assert ours == expected
    finally:
        with connections[postgres_db].cursor() as cursor:
            cursor.execute("RESET ALL")


@pytest.mark.parametrize(
    ("column", "text"),
    [("at", "infinity"), ("at", "0044-03-15 12:00:00+00 BC"), ("day", "-infinity")],
)
def test_a_text_python_cannot_hold_fails_as_the_value_would(
    tmp_path, valued, postgres_db, column, text
):
    registry, model = valued
    table = model._meta.db_table
    with connections[postgres_db].cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s", [text])  # noqa: S608
    with pytest.raises(DumpError, match="DataError"):
        both_ways(tmp_path, valued, postgres_db)
    with pytest.raises(Exception, match="BC|infinity|too|range"):
        serializers.serialize("json", model.objects.using(postgres_db).all())


def test_a_column_of_another_type_is_read_as_its_value(tmp_path, postgres_db):
    """A table made by hand: a decimal in ``float8``, a UUID in ``varchar``."""
    with isolate_apps("sandbox.library") as registry:

        class Handmade(models.Model):
            amount = models.DecimalField(max_digits=10, decimal_places=2)
            code = models.UUIDField()
            day = models.DateField()

            class Meta:
                app_label = "library"
                managed = False
                db_table = "library_handmade"

            def __str__(self):
                return str(self.pk)

        with connections[postgres_db].cursor() as cursor:
            cursor.execute(
                "CREATE TABLE library_handmade (id serial PRIMARY KEY, "
                "amount float8, code varchar(40), day date)"
            )
            cursor.execute(
                "INSERT INTO library_handmade (amount, code, day) VALUES "
                "(1.5, 'ABCDEF', '2024-02-29'), (2, '0123', '2024-03-01')"
            )
        plan = read_as_text(
            row_plan(
                Handmade,
                Handmade.objects.using(postgres_db).order_by("pk"),
                natural_foreign=False,
                natural_primary=False,
            ),
            postgres_db,
        )
        assert set(plan.columns) == {"id", "amount", "code", "day::text"}
        definition = Definition(
            name="handmade",
            models=("library.Handmade",),
            filename="handmade.json",
            format="json",
        )
        path = tmp_path / "handmade.json"
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("diskette.dumping.reading.django_apps", registry)
            write_fixture(definition, path, using=postgres_db)
        instances = list(Handmade.objects.using(postgres_db).order_by("pk"))
        assert path.read_bytes() == JSONSerializer().serialize(instances).encode()
        assert b'"amount": 1.5' in path.read_bytes(), "a number, as the value"
