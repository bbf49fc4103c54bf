"""Columns read as SQLite's text give the bytes their Python values give.

SQLite keeps datetimes, dates and UUIDs as the text Django wrote; the row path
reads that text and slices it into the fixture's string
(:mod:`diskette.dumping.text_values`). Each edge is written both ways, from rows
read as text and from instances, and the fixtures must be the same bytes; a
text of another shape (written by hand, by another program) goes through
Django's converter and still gives the bytes of its value.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import isolate_apps

from tests.dump.value_edges import (
    DAYS,
    MOMENTS,
    both_ways,
    cast_columns,
    text_plan,
    valued_model,
)

pytestmark = pytest.mark.django_db(transaction=True)

#: Texts Django never writes but reads: each must give its value's bytes.
ODD_TEXTS = [
    ("at", "2024-03-01T12:30:58"),
    ("at", "2024-03-01 12:30:58.5"),
    ("at", "2024-03-01 12:30:58.000000"),
    ("at", "2024-03-01 12:30"),
    ("day", "2024-3-1"),
    ("other", "6F9619FF8B86D011B42D00C04FC964FF"),
    ("other", "6f9619ff-8b86-d011-b42d-00c04fc964ff"),
]


@pytest.fixture
def valued():
    with isolate_apps("sandbox.library") as registry:
        Valued = valued_model()

        with connection.schema_editor() as editor:
            editor.create_model(Valued)
        count = max(len(MOMENTS), len(DAYS)) + 1
        keys = [uuid.UUID(int=number * 7919 + 1) for number in range(count)]
        for number, key in enumerate(keys):
            Valued.objects.create(
                id=key,
                at=(MOMENTS + [None] * count)[number],
                day=(DAYS + [None] * count)[number],
                other=uuid.uuid5(key, "other") if number % 2 else None,
                parent_id=keys[number - 1] if number else None,
            )
        try:
            yield registry, Valued
        finally:
            with connection.schema_editor() as editor:
                editor.delete_model(Valued)


def test_every_edge_gives_the_bytes_of_its_value(tmp_path, valued):
    _registry, model = valued
    plan = text_plan(model, "default")
    assert cast_columns(plan) == {"id", "at", "day", "other", "parent_id"}
    assert plan.columns[0] == "id", "the key stays as it is, for the ranges"
    ours, expected = both_ways(tmp_path, valued, "default")
    assert ours == expected
    for text in (':58.604096Z"', ':58.120Z"', ':58Z"', '"2024-02-29"', "-0000-0000-"):
        assert text.encode() in ours, text


@pytest.mark.parametrize(("column", "text"), ODD_TEXTS)
def test_a_text_of_another_shape_gives_the_bytes_of_its_value(
    tmp_path, valued, column, text
):
    _registry, model = valued
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} SET {column} = %s",  # noqa: S608
            [text],
        )
    ours, expected = both_ways(tmp_path, valued, "default")
    assert ours == expected
