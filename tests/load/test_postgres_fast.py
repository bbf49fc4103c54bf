"""PostgreSQL's fast load: rows by COPY, forward references in few UPDATEs.

Rows go in with COPY and must be exactly the rows an INSERT writes, for every
field type; a value COPY does not know takes the INSERT; the forward references
of a batch are set by one ``UPDATE ... FROM (VALUES ...)`` that checks values as
an UPDATE does. The seeded site goes back exactly, its foreign keys too
(:mod:`tests.load.test_postgres_foreign_keys` has the rest about them).
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.sites.models import Site
from django.core.management import call_command
from django.db import DataError, connections, models, transaction
from django.test.utils import CaptureQueriesContext, isolate_apps

from diskette.loading import postgres, sql
from diskette.loading.loader import Fixture, load_fixtures
from sandbox.library.models import (
    Author,
    Book,
    EBook,
    Note,
    Publisher,
    Review,
    Shelf,
    ShelfEntry,
    Tag,
)
from sandbox.library.seeding import seed_database
from tests.load.postgres_tools import (
    containing,
    foreign_keys,
    forget_content_types,  # noqa: F401  (fixture)
    write,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(databases=["default", "postgres"]),
]

DUMPED = ["library", "auth.user", "auth.group", "sites"]
MODELS = (Group, User, Site, Publisher, Tag, Author, Book, EBook, Review, Note)
MODELS += (Shelf, ShelfEntry)


def rows(using: str) -> dict[str, list]:
    """Every row of the dumped models and of their many-to-many tables, as
    the ORM reads them back; content types and permissions (made again by a
    flush, under other ids) by natural key."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    natural = {
        model: {obj.pk: obj.natural_key() for obj in model.objects.using(using)}
        for model in (ContentType, Permission)
    }

    def value(field, found):
        if isinstance(found, memoryview):
            return bytes(found)
        related = field.related_model if field.is_relation else None
        return natural[related].get(found) if related in natural else found

    seen: dict[str, list] = {}
    for model in MODELS:
        fields = model._meta.concrete_fields
        seen[model._meta.label] = [
            tuple(value(f, v) for f, v in zip(fields, row, strict=True))
            for row in model._base_manager.using(using)
            .order_by("pk")
            .values_list(*[f.attname for f in fields])
        ]
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            if through._meta.auto_created:
                pair = [
                    through._meta.get_field(m2m.m2m_field_name()),
                    through._meta.get_field(m2m.m2m_reverse_field_name()),
                ]
                seen[through._meta.label] = sorted(
                    tuple(value(f, v) for f, v in zip(pair, row, strict=True))
                    for row in through._base_manager.using(using).values_list(
                        *[f.attname for f in pair]
                    )
                )
    return seen


@pytest.mark.slow
def test_a_seeded_site_goes_back_exactly_with_copy_and_its_foreign_keys(
    postgres_db, tmp_path
):
    """Every table of the seeded site is written with COPY, row for row as
    dumped; its foreign keys are set aside and come back identical."""
    seed_database(60, using=postgres_db)
    out = tmp_path / "all.json"
    call_command(
        "dumpdata", *DUMPED, natural_foreign=True, database=postgres_db, output=str(out)
    )
    before, keys = rows(postgres_db), foreign_keys(postgres_db)
    connection = connections[postgres_db]
    with CaptureQueriesContext(connection) as queries:
        load_fixtures(
            [Fixture(name="all.json", path=out)], using=postgres_db, flush=True
        )
    assert rows(postgres_db) == before
    assert foreign_keys(postgres_db) == keys
    copied = {q.split('"')[1] for q in containing(queries, "COPY ")}
    assert copied >= {
        "library_publisher",
        "library_author",
        "library_book",
        "library_book_authors",
        "library_book_tags",
        "library_ebook",
        "library_review",
        "library_note",
        "library_shelfentry",
        "auth_user",
        "auth_user_groups",
        "auth_group_permissions",
    }
    assert not [q for q in containing(queries, "INSERT INTO ") if "library_" in q]
    dropped = "".join(containing(queries, "DROP CONSTRAINT"))
    added = "".join(containing(queries, "ADD CONSTRAINT"))
    for table, name, *_ in keys:
        if table.startswith("library_"):
            assert f'DROP CONSTRAINT "{name}"' in dropped
            assert f'ADD CONSTRAINT "{name}"' in added


@isolate_apps("sandbox.library")
def _every_field_model():
    from django.contrib.postgres.fields import (
        ArrayField,
        DateTimeRangeField,
        IntegerRangeField,
    )

    class Every(models.Model):
        char = models.CharField(max_length=40)
        text = models.TextField()
        slug = models.SlugField()
        small = models.SmallIntegerField()
        integer = models.IntegerField()
        big = models.BigIntegerField()
        positive = models.PositiveIntegerField()
        flag = models.BooleanField()
        maybe = models.BooleanField(null=True)
        ratio = models.FloatField()
        amount = models.DecimalField(max_digits=20, decimal_places=6)
        day = models.DateField()
        at = models.DateTimeField(null=True)
        clock = models.TimeField()
        span = models.DurationField()
        uid = models.UUIDField()
        blob = models.BinaryField()
        data = models.JSONField(null=True)
        ip = models.GenericIPAddressField()
        document = models.FileField()
        numbers = ArrayField(models.IntegerField(null=True))
        words = ArrayField(models.CharField(max_length=10))
        bounds = IntegerRangeField(null=True)
        period = DateTimeRangeField(null=True)

        class Meta:
            app_label = "library"

        def __str__(self):
            return self.char

    return Every


def _values(number: int) -> dict:
    from django.db.backends.postgresql.psycopg_any import DateTimeTZRange, NumericRange

    paris = ZoneInfo("Europe/Paris")
    return {
        "char": ["tab\there", "back\\slash \\N", "", "\\.", "naïve ☃ 北風"][number % 5],
        "text": "line\nbreak\r\n\u2028 and \x01 control" * (number + 1),
        "slug": f"slug-{number}",
        "small": -32768 + number,
        "integer": 2**31 - 1 - number,
        "big": -(2**63) + number,
        "positive": number,
        "flag": bool(number % 2),
        "maybe": [None, True, False][number % 3],
        "ratio": [0.1 + 0.2, -0.0, 1e300, float("inf"), -1e-300][number % 5],
        "amount": [
            decimal.Decimal("-12345678901234.123456"),
            decimal.Decimal("1E+3"),
            decimal.Decimal("0.0000005"),
        ][number % 3],
        "day": datetime.date(2024, 2, 29) + datetime.timedelta(days=number),
        "at": None
        if number == 3
        else datetime.datetime(2024, 3, 31, 3, 30, 0, number, tzinfo=paris),
        "clock": datetime.time(8, 15, 0, 999999 - number),
        "span": datetime.timedelta(days=-1, microseconds=7 + number),
        "uid": uuid.UUID(int=number),
        "blob": bytes(range(256))[number:],
        "data": [
            {"nested": [1.5, None, True, "é\t\\"], "big": 2**62},
            [[], {}, [None], "", 0, -0.5],
            "a JSON string",
            None,
            {"float": 1e-7},
        ][number % 5],
        "ip": ["192.0.2.1", "::1", "2001:db8::ff00:42:8329"][number % 3],
        "document": f"docs/file {number}.pdf",
        "numbers": [1, None, -3] if number % 2 else [],
        "words": ["a,b", '"q"', "", "NULL", "{x}"],
        "bounds": None if number == 2 else NumericRange(number, 10 + number),
        "period": DateTimeTZRange(
            datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
            datetime.datetime(2024, 1, 2, number, tzinfo=datetime.timezone.utc),
        ),
    }


def _read(model, using: str, pks) -> list[dict]:
    fields = [f.attname for f in model._meta.concrete_fields if not f.primary_key]
    found = []
    for row in (
        model.objects.using(using).filter(pk__in=pks).order_by("pk").values(*fields)
    ):
        row["blob"] = bytes(row["blob"])
        found.append(row)
    return found


def test_copy_writes_every_field_type_as_an_insert_does(postgres_db):
    """The same values through COPY (the batched insert) and through the ORM's
    INSERT, read back through the ORM: the same rows."""
    model = _every_field_model()
    connection = connections[postgres_db]
    with connection.schema_editor() as editor:
        editor.create_model(model)
    count = 15
    copied = [model(pk=n + 1, **_values(n)) for n in range(count)]
    with CaptureQueriesContext(connection) as queries:
        sql.insert_rows(model, copied, postgres_db)
    assert len(containing(queries, "COPY ")) == 1
    assert not containing(queries, "INSERT")
    for n in range(count):
        model(pk=101 + n, **_values(n)).save(using=postgres_db)
    by_copy = _read(model, postgres_db, range(1, count + 1))
    by_insert = _read(model, postgres_db, range(101, 101 + count))
    assert len(by_copy) == count
    assert by_copy == by_insert
    # And what was given, where the database keeps it as it is.
    for n, row in enumerate(by_copy):
        expected = _values(n)
        for name in ("char", "text", "big", "ratio", "clock", "span", "blob", "data"):
            assert row[name] == expected[name], name


def test_a_value_copy_does_not_know_falls_back_to_insert(postgres_db):
    """A str subclass (a field's own wrapper would be the same): that batch is
    INSERTed, the rows are the same."""
    from django.utils.safestring import mark_safe

    objs = [Publisher(pk=1, name=mark_safe("<b>safe</b>")), Publisher(pk=2, name="p")]
    assert not postgres.copyable([[obj.name] for obj in objs])
    connection = connections[postgres_db]
    with CaptureQueriesContext(connection) as queries:
        sql.insert_rows(Publisher, objs, postgres_db)
    assert not containing(queries, "COPY ")
    assert containing(queries, "INSERT INTO")
    assert list(
        Publisher.objects.using(postgres_db).order_by("pk").values_list("name")
    ) == [("<b>safe</b>",), ("p",)]


def _chain(count: int) -> list[dict]:
    """Authors each mentored by the next one, named by natural key: every
    mentor is a forward reference."""
    return [
        {
            "model": "library.author",
            "pk": n,
            "fields": {
                "first_name": f"F{n}",
                "last_name": "L",
                "mentor": None if n == count else [f"F{n + 1}", "L"],
                "bio": f"bio {n}",
            },
        }
        for n in range(1, count + 1)
    ]


def test_forward_references_are_set_in_one_update_per_batch(
    postgres_db, tmp_path, monkeypatch
):
    monkeypatch.setattr(sql, "BATCH_SIZE", 10)
    connection = connections[postgres_db]
    with CaptureQueriesContext(connection) as queries:
        load_fixtures([write(tmp_path / "chain.json", _chain(25))], using=postgres_db)
    updates = containing(queries, 'UPDATE "library_author"')
    assert len(updates) == 3
    assert all("FROM (VALUES" in update for update in updates)
    assert list(
        Author.objects.using(postgres_db)
        .order_by("pk")
        .values_list("pk", "mentor_id", "bio")
    ) == [(n, None if n == 25 else n + 1, f"bio {n}") for n in range(1, 26)]


def test_an_update_from_values_checks_values_as_an_update_does(postgres_db):
    """The cast to the column's type keeps the value whole: too long is
    refused and numbers are rounded by the column, as by an UPDATE."""
    connection = connections[postgres_db]
    publisher = Publisher.objects.using(postgres_db).create(pk=1, name="P")
    books = [
        Book.objects.using(postgres_db).create(
            title=f"T{n}",
            publisher=publisher,
            price=decimal.Decimal("1.00"),
            published_at=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
        )
        for n in range(2)
    ]
    columns = ["title", "price", "id"]
    types = postgres.column_types(connection, "library_book", columns)
    postgres.update_from_values(
        connection,
        "library_book",
        columns,
        types,
        [["x" * 300, decimal.Decimal("1.005"), books[0].pk]],
    )
    with connection.cursor() as cursor:
        # What the batches ran before: one UPDATE per row.
        cursor.executemany(
            'UPDATE "library_book" SET "title" = %s, "price" = %s WHERE "id" = %s',
            [["x" * 300, decimal.Decimal("1.005"), books[1].pk]],
        )
    found = (
        Book.objects.using(postgres_db).order_by("title").values_list("title", "price")
    )
    assert {tuple(row) for row in found} == {("x" * 300, decimal.Decimal("1.01"))}
    with pytest.raises(DataError), transaction.atomic(using=postgres_db):
        postgres.update_from_values(
            connection,
            "library_publisher",
            ["name", "id"],
            postgres.column_types(connection, "library_publisher", ["name", "id"]),
            [["x" * 201, 1]],
        )
    assert Publisher.objects.using(postgres_db).get().name == "P"
