"""diskette.dumping.serializer writes Django's serializer's bytes, field kind by field kind.

For each kind of field Django ships, the same objects are written by Django's
own ``json``/``jsonl`` serializers and by ours, from instances and from rows
(:func:`diskette.dumping.rows.row_plan`), with and without indent: the bytes must
be the same. The values have whole milliseconds, where Django's encoder keeps
every digit, so no difference is expected anywhere.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core import serializers
from django.db import models
from django.test.utils import isolate_apps

from diskette.dumping.rows import RowChunk, row_plan
from diskette.dumping.serializer import JSONLSerializer, JSONSerializer, get_serializer

UTC = datetime.timezone.utc

#: (field, values as a database returns them); ``None`` checks the null path.
KINDS = {
    "char": (models.CharField(max_length=20, null=True), ['é "q" \\', "", None]),
    "text": (models.TextField(), ["line\nnext\ttab", "\u2028 \x00"]),
    "slug": (models.SlugField(), ["a-slug"]),
    "email": (models.EmailField(), ["a@example.com"]),
    "integer": (models.IntegerField(null=True), [0, -(2**31), None]),
    "big": (models.BigIntegerField(), [2**62, -(2**62)]),
    "small": (models.PositiveSmallIntegerField(), [0, 32767]),
    "boolean": (models.BooleanField(null=True), [True, False, None]),
    "float": (models.FloatField(), [0.1 + 0.2, -0.0, 1e300]),
    "decimal": (
        models.DecimalField(max_digits=20, decimal_places=6),
        [Decimal("-12345678901234.123456"), Decimal("0.000000")],
    ),
    "date": (models.DateField(), [datetime.date(2024, 2, 29)]),
    "datetime": (
        models.DateTimeField(null=True),
        [datetime.datetime(2024, 3, 1, 12, 30, 58, 604000, UTC), None],
    ),
    "time": (models.TimeField(), [datetime.time(8, 15, 0, 250000)]),
    "duration": (
        models.DurationField(),
        [datetime.timedelta(days=3, seconds=1, microseconds=123456)],
    ),
    "uuid": (models.UUIDField(), [uuid.UUID(int=2**100 + 7)]),
    "json": (
        models.JSONField(null=True),
        [{"é": [1, 2.5, None, {"deep": "ü"}]}, [], "text", None],
    ),
    "binary": (models.BinaryField(), [bytes(range(256)), b""]),
    "file": (models.FileField(upload_to="x/"), ["x/a b.jpg", ""]),
    "ip": (models.GenericIPAddressField(), ["::1", "192.0.2.1"]),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request):
    """A one-field model of the kind, with its values; no table is needed."""
    name = request.param
    field, values = KINDS[name]
    with isolate_apps("sandbox.library"):
        model = type(
            f"Kind{name.title()}",
            (models.Model,),
            {
                "value": field.clone(),
                "__module__": __name__,
                "__str__": lambda self: str(self.pk),
                "Meta": type("Meta", (), {"app_label": "library"}),
            },
        )
        yield model, values


def _instances(model, values) -> list:
    objects = []
    for pk, value in enumerate(values, 1):
        obj = model(pk=pk)
        obj.__dict__["value"] = value
        objects.append(obj)
    return objects


def _rows(model, values) -> list:
    plan = row_plan(
        model, model.objects.all(), natural_foreign=False, natural_primary=False
    )
    assert plan is not None, "Django's own field: written from rows"
    assert plan.columns == ("id", "value")
    rows = [(pk, value) for pk, value in enumerate(values, 1)]
    return [RowChunk(plan=plan, rows=rows, foreign={}, many={}, fetch_one=None)]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("path", ["instances", "rows"])
def test_same_bytes_as_django_for_each_field_kind(kind, fmt, indent, path):
    model, values = kind
    expected = serializers.serialize(fmt, _instances(model, values), indent=indent)
    objects = (_rows if path == "rows" else _instances)(model, values)
    ours = get_serializer(fmt)().serialize(objects, indent=indent)
    assert ours == expected


@pytest.mark.parametrize("serializer", [JSONSerializer, JSONLSerializer])
def test_chunks_and_instances_mixed_write_one_document(serializer):
    """Row chunks and instances in one stream: Django's separators between all."""
    model, values = KINDS["integer"][0], [1, 2, 3, 4]
    with isolate_apps("sandbox.library"):

        class Mixed(models.Model):
            value = model.clone()

            class Meta:
                app_label = "library"

            def __str__(self):
                return str(self.pk)

        objects = _instances(Mixed, values)
        plan = _rows(Mixed, values)[0].plan

        def chunk(rows):
            return RowChunk(plan=plan, rows=rows, foreign={}, many={}, fetch_one=None)

        fmt = "json" if serializer is JSONSerializer else "jsonl"
        expected = serializers.serialize(fmt, objects)
        mixed = [chunk([(1, 1), (2, 2)]), objects[2], chunk([]), chunk([(4, 4)])]
        assert serializer().serialize(mixed) == expected


def test_natural_keys_and_m2m_values_come_from_the_chunk():
    """A row chunk's links are written from what the prefetcher gave it."""
    with isolate_apps("sandbox.library"):

        class Target(models.Model):
            code = models.CharField(max_length=5, unique=True)

            class Meta:
                app_label = "library"

            def __str__(self):
                return self.code

            def natural_key(self):
                return (self.code,)

        class Source(models.Model):
            target = models.ForeignKey(Target, models.CASCADE, null=True)
            links = models.ManyToManyField(Target, related_name="+")

            class Meta:
                app_label = "library"

            def __str__(self):
                return str(self.pk)

        plan = row_plan(
            Source,
            Source.objects.all(),
            natural_foreign=True,
            natural_primary=False,
        )
        assert plan is not None
        chunk = RowChunk(
            plan=plan,
            rows=[(1, 10), (2, None)],
            foreign={"target": {10: ("ten",)}},
            many={"links": {1: [("ten",), ("six",)]}},
            fetch_one=None,
        )
        text = JSONLSerializer().serialize([chunk], use_natural_foreign_keys=True)
    # Django's jsonl separators: "," between items, ": " after keys.
    assert text.splitlines() == [
        '{"model": "library.source","pk": 1,"fields": {"target": ["ten"],'
        '"links": [["ten"],["six"]]}}',
        '{"model": "library.source","pk": 2,"fields": {"target": null,"links": []}}',
    ]
