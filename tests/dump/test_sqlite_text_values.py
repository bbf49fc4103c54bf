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
from django.db.models.functions import Cast
from django.test.utils import isolate_apps

from diskette.definitions import Definition
from diskette.dumping.dumper import write_fixture
from diskette.dumping.reading import dump_queryset
from diskette.dumping.rows import row_plan
from diskette.dumping.serializer import JSONSerializer
from diskette.dumping.text_values import read_as_text
from tests.dump.value_edges import DAYS, MOMENTS, valued_model

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


DEFINITION = Definition(
    name="valued", models=("library.Valued",), filename="valued.json", format="json"
)


def _both_ways(tmp_path, valued) -> tuple[bytes, bytes]:
    registry, model = valued
    path = tmp_path / "rows.json"
    definition = DEFINITION
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("diskette.dumping.reading.django_apps", registry)
        write_fixture(definition, path)
    instances = list(model.objects.order_by("pk"))
    return path.read_bytes(), JSONSerializer().serialize(instances).encode()


def test_every_edge_gives_the_bytes_of_its_value(tmp_path, valued):
    _registry, model = valued
    definition = DEFINITION
    plan = read_as_text(
        row_plan(
            model,
            dump_queryset(definition, model, "default"),
            natural_foreign=False,
            natural_primary=False,
        ),
        "default",
    )
    cast = {
        select.source_expressions[0].name
        for select in plan.selects
        if isinstance(select, Cast)
    }
    assert cast == {"id", "at", "day", "other", "parent_id"}
    assert plan.columns[0] == "id", "the key stays as it is, for the ranges"
    ours, expected = _both_ways(tmp_path, valued)
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
    ours, expected = _both_ways(tmp_path, valued)
    assert ours == expected
