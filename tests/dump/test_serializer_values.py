"""Values come back exactly: microseconds, time zones, decimals, binary, JSON.

Django's JSON encoder cuts datetimes and times to milliseconds; ours keeps all
six digits where Django would cut, and writes Django's bytes everywhere else. Both
the instance path and the row path of :mod:`diskette.dumping.serializer` are checked
against Django's own deserializer (what ``loaddata`` runs), then the sandbox goes
through ``diskette.api`` dump and load, and through plain ``loaddata``, on each
database, in every format.
"""

from __future__ import annotations

import datetime
import json
import tarfile
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.management import call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, models
from django.test.utils import isolate_apps
from django.utils.functional import lazy

from diskette import api
from diskette.dumping.encoder import ExactJSONEncoder
from diskette.dumping.serializer import (
    JSONLSerializer,
    JSONSerializer,
    RowChunk,
    row_plan,
)
from sandbox.library import seeding
from sandbox.library.models import Book, Publisher, Review

UTC = datetime.timezone.utc
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30: an offset that is not whole hours


@pytest.fixture(autouse=True)
def fresh_content_types():
    """Content types cached in a rolled-back test would be stale in the next one."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


# ---- the encoder ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (
            datetime.datetime(2024, 3, 1, 12, 30, 58, 604096, UTC),
            "2024-03-01T12:30:58.604096Z",
        ),
        (
            datetime.datetime(2024, 3, 1, 12, 30, 58, 1, UTC),
            "2024-03-01T12:30:58.000001Z",
        ),
        (
            datetime.datetime(2024, 3, 1, 12, 30, 58, 604096),
            "2024-03-01T12:30:58.604096",
        ),
        (
            datetime.datetime(2024, 3, 1, 12, 30, 58, 604096, KOLKATA),
            "2024-03-01T12:30:58.604096+05:30",
        ),
        (datetime.time(23, 59, 59, 999999), "23:59:59.999999"),
        (datetime.time(0, 0, 0, 10), "00:00:00.000010"),
    ],
)
def test_microseconds_are_kept(value, text):
    assert json.loads(json.dumps(value, cls=DjangoJSONEncoder)) != text, "Django cuts"
    assert json.dumps(value, cls=ExactJSONEncoder) == json.dumps(text)


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2024, 3, 1, 12, 30, 58, tzinfo=UTC),
        datetime.datetime(2024, 3, 1, 12, 30, 58, 604000, tzinfo=UTC),
        datetime.datetime(2024, 3, 1, 12, 30, 58, 604000, tzinfo=KOLKATA),
        datetime.datetime(2024, 3, 1, 12, 30, 58),
        datetime.time(12, 30),
        datetime.time(12, 30, 1, 5000),
        datetime.date(2024, 2, 29),
        datetime.timedelta(days=-1, microseconds=7),
        Decimal("-0.000001"),
        Decimal("1E+3"),
        uuid.UUID(int=7),
        lazy(lambda: "lazy text", str)(),
        {"nested": [1.5, None, True, "é"]},
    ],
)
def test_every_other_value_is_written_as_django_writes_it(value):
    """Whole milliseconds and all other types: Django's encoder, byte for byte."""
    assert json.dumps(value, cls=ExactJSONEncoder) == json.dumps(
        value, cls=DjangoJSONEncoder
    )


def test_aware_times_are_refused_as_django_refuses_them():
    value = datetime.time(12, 0, 0, 1, tzinfo=UTC)
    for encoder in (DjangoJSONEncoder, ExactJSONEncoder):
        with pytest.raises(ValueError, match="timezone-aware times"):
            json.dumps(value, cls=encoder)


# ---- the serializer: instances and rows, read back by Django's deserializer ------


@pytest.fixture
def timed_model(monkeypatch):
    """A model with every value type that needs care; no table is needed.

    Django's deserializer finds it in the isolated registry.
    """
    with isolate_apps("sandbox.library") as registry:

        class Timed(models.Model):
            at = models.DateTimeField()
            at_null = models.DateTimeField(null=True)
            clock = models.TimeField()
            day = models.DateField()
            span = models.DurationField()
            amount = models.DecimalField(max_digits=20, decimal_places=6)
            blob = models.BinaryField()
            data = models.JSONField()
            ratio = models.FloatField()

            class Meta:
                app_label = "library"

            def __str__(self):
                return str(self.pk)

        monkeypatch.setattr("django.core.serializers.python.apps", registry)
        yield Timed


def _values(number: int) -> dict:
    """Field values as a database returns them (aware datetimes in UTC)."""
    return {
        "at": datetime.datetime(2024, 3, 1, 12, 30, 58, 604096 + number, UTC),
        "at_null": None
        if number % 2
        else datetime.datetime(1999, 12, 31, 23, 0, 0, 1, UTC),
        "clock": datetime.time(8, 15, 0, 999999 - number),
        "day": datetime.date(2024, 2, 29),
        "span": datetime.timedelta(days=3, seconds=1, microseconds=123456),
        "amount": Decimal("-12345678901234.123456"),
        "blob": bytes(range(256)),
        "data": {"é": [1, 2.5, None, {"deep": "ünïcode"}], "big": 2**62},
        "ratio": 0.1 + 0.2,
    }


def _written(model, fmt: str, *, rows: bool) -> str:
    serializer = {"json": JSONSerializer, "jsonl": JSONLSerializer}[fmt]()
    values = [_values(number) for number in range(3)]
    if rows:
        plan = row_plan(
            model, model.objects.all(), natural_foreign=False, natural_primary=False
        )
        assert plan is not None, "every field here is read from rows"
        data = [{"id": pk, **item} for pk, item in enumerate(values, 1)]
        objects = [
            RowChunk(
                plan=plan,
                rows=[tuple(item[name] for name in plan.columns) for item in data],
                foreign={},
                many={},
                fetch_one=None,
            )
        ]
    else:
        objects = [model(pk=pk, **item) for pk, item in enumerate(values, 1)]
    return serializer.serialize(objects)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
@pytest.mark.parametrize("rows", [False, True], ids=["instances", "rows"])
def test_serializer_values_come_back_exactly(timed_model, fmt, rows):
    """What we write, Django's deserializer (loaddata) reads back as it was."""
    text = _written(timed_model, fmt, rows=rows)
    assert "12:30:58.604096Z" in text
    assert "08:15:00.999999" in text
    loaded = [item.object for item in serializers.deserialize(fmt, text)]
    assert len(loaded) == 3
    for number, obj in enumerate(loaded):
        expected = _values(number)
        got = {name: getattr(obj, name) for name in expected}
        got["blob"] = bytes(got["blob"])
        assert got == expected
    # Apart from the six digits, the bytes of Django's own serializer.
    django = serializers.serialize(
        fmt, [timed_model(pk=pk, **_values(pk - 1)) for pk in (1, 2, 3)]
    )
    ours = text
    for number in range(3):
        item = _values(number)
        for name in ("at", "clock", "at_null"):
            value = item[name]
            if value is not None:
                ours = ours.replace(
                    json.dumps(value, cls=ExactJSONEncoder),
                    json.dumps(value, cls=DjangoJSONEncoder),
                )
    assert ours == django


# ---- the sandbox, dumped and loaded on each database ------------------------------


def _edge_books(using: str) -> list[Book]:
    """Books whose values are hard to keep: zones, microseconds, extremes."""
    publisher = Publisher.objects.using(using).order_by("pk").first()
    books = []
    for number, (at, price, metadata) in enumerate(
        [
            (
                datetime.datetime(
                    2024, 3, 31, 3, 30, 0, 1, tzinfo=ZoneInfo("Europe/Paris")
                ),
                Decimal("999999.99"),
                {"float": 1e-7, "big": 10**18, "text": "naïve ☃\u2028", "none": None},
            ),
            (
                datetime.datetime(1970, 1, 1, 5, 29, 59, 999999, tzinfo=KOLKATA),
                Decimal("-999999.99"),
                [[], {}, [None], "", 0, -0.5, True],
            ),
            (
                datetime.datetime(
                    2038, 1, 19, 3, 14, 7, 654321, tzinfo=ZoneInfo("America/St_Johns")
                ),
                Decimal("0.01"),
                "a JSON string",
            ),
        ]
    ):
        books.append(
            Book.objects.using(using).create(
                id=uuid.UUID(int=5 * 10**9 + number, version=4),
                title=f"edge {number}",
                publisher=publisher,
                price=price,
                published_at=at,
                metadata=metadata,
                signature=bytes(range(256))[number:],
            )
        )
    return books


def _rows(using: str) -> dict:
    """Every concrete value of the sandbox's rows, by model and primary key."""
    found = {}
    for model in (Book, Review, User):
        names = [field.attname for field in model._meta.concrete_fields]
        found[model._meta.label] = [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
            for row in model._base_manager.using(using)
            .order_by("pk")
            .values_list(*names)
        ]
    return found


def _sub_millisecond(rows: dict) -> int:
    return sum(
        1
        for table in rows.values()
        for row in table
        for value in row
        if isinstance(value, datetime.datetime) and value.microsecond % 1000
    )


@pytest.fixture
def microsecond_site(db_alias, monkeypatch):
    """The seeded sandbox with microseconds in every datetime, plus edge books."""
    monkeypatch.setattr(seeding, "TIME_RESOLUTION_US", 1)
    seeding.seed_database(30, using=db_alias)
    _edge_books(db_alias)
    return db_alias


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("fmt", ["json", "jsonl", "xml", "yaml"])
def test_values_survive_dump_and_load(tmp_path, microsecond_site, fmt):
    using = microsecond_site
    before = _rows(using)
    assert _sub_millisecond(before) > 10, "the data really has microseconds"
    edge = Book.objects.using(using).get(title="edge 0")
    assert edge.published_at.microsecond == 1
    result = api.dump(
        destination=tmp_path / "dumps", format=fmt, with_storages=False, using=using
    )
    Book.objects.using(using).update(
        published_at=datetime.datetime(2000, 1, 1, tzinfo=UTC), price=0, signature=b""
    )
    api.load(result.path, using=using, flush=True, with_storages=False)
    assert _rows(using) == before


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("fmt", ["json", "jsonl", "xml", "yaml"])
@pytest.mark.filterwarnings("ignore:No fixture data found for 'everything-else'")
def test_loaddata_reads_our_fixtures_exactly(tmp_path, microsecond_site, fmt):
    """Plain loaddata, not only diskette's loader, reads the six digits."""
    using = microsecond_site
    before = _rows(using)
    result = api.dump(
        destination=tmp_path / "dumps", format=fmt, with_storages=False, using=using
    )
    with tarfile.open(result.path) as tar:
        tar.extractall(tmp_path / "archive", filter="data")
    fixtures = sorted((tmp_path / "archive" / "data").iterdir())
    if fmt in ("json", "jsonl"):
        text = "".join(path.read_text("utf-8") for path in fixtures)
        assert "2024-03-31T01:30:00.000001Z" in text, "the edge book, in UTC"
    postgres = connections[using].vendor == "postgresql"
    if postgres:
        # TRUNCATE refuses tables with pending deferred constraint checks.
        with connections[using].cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("flush", database=using, interactive=False, verbosity=0)
    if postgres:
        with connections[using].cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    ContentType.objects.clear_cache()
    call_command("loaddata", *map(str, fixtures), database=using, verbosity=0)
    assert _rows(using) == before
