"""Rows made straight from fixtures are the rows of the instances Django builds.

For every field type of the sandbox, the test models and the realsite project,
and for each value a fixture may hold for it (the ones dumpdata writes, and the
odd ones: None, empty text, numbers as text, booleans where integers go...), the
object and the row that :mod:`diskette.loading.rows` makes are compared with the
instance Django's own way builds (``Model(*values)``) and the row ``insert_rows``
reads back from it: every attribute and every prepared value, type included. A
value that fails must fail with the same message.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.serializers.base import DeserializationError
from django.db import connections, models
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init
from django.test.utils import isolate_apps

from diskette.loading import sql
from diskette.loading.fixtures import Deserializer, _ModelPlan
from diskette.loading.natural_keys import NaturalKeyCache
from diskette.loading.passthrough import unchanged_types
from diskette.loading.rows import RowItem, why_not

UUID = "0012fb0d-e337-4816-974a-8c023d02aeb1"


@pytest.fixture(scope="module")
def shapes():
    """Models with every field type, in an isolated registry (no table needed:
    nothing here queries)."""
    with isolate_apps("sandbox.library"):

        class Shape(models.Model):
            class Meta:
                abstract = True
                app_label = "library"

            def __str__(self):
                return str(self.pk)

        class Target(Shape):
            name = models.CharField(max_length=20)

        class Coded(Shape):
            code = models.CharField(primary_key=True, max_length=12)

        class Keyed(Shape):
            id = models.UUIDField(primary_key=True, default=uuid.uuid4)

        class Every(Shape):
            char = models.CharField(max_length=50)
            char_null = models.CharField(max_length=50, null=True)  # noqa: DJ001
            text = models.TextField(blank=True)
            slug = models.SlugField()
            email = models.EmailField()
            url = models.URLField()
            integer = models.IntegerField()
            big = models.BigIntegerField()
            small = models.SmallIntegerField(default=3)
            positive = models.PositiveIntegerField(null=True)
            positive_small = models.PositiveSmallIntegerField()
            positive_big = models.PositiveBigIntegerField()
            flag = models.BooleanField(default=False)
            flag_null = models.BooleanField(null=True)
            ratio = models.FloatField()
            amount = models.DecimalField(max_digits=12, decimal_places=3)
            at = models.DateTimeField()
            at_null = models.DateTimeField(null=True)
            day = models.DateField()
            clock = models.TimeField()
            span = models.DurationField()
            uid = models.UUIDField(default=uuid.uuid4)
            data = models.JSONField(default=dict)
            blob = models.BinaryField(default=b"")
            upload = models.FileField(blank=True)
            ip = models.GenericIPAddressField(null=True)
            target = models.ForeignKey(Target, null=True, on_delete=models.CASCADE)
            coded = models.ForeignKey(Coded, null=True, on_delete=models.CASCADE)
            keyed = models.ForeignKey(Keyed, null=True, on_delete=models.CASCADE)
            tags = models.ManyToManyField(Target, related_name="+")

        class Child(Every):
            extra = models.CharField(max_length=10)

        class Profile(Shape):
            target = models.OneToOneField(
                Target, primary_key=True, on_delete=models.CASCADE
            )
            note = models.TextField(blank=True)

        class SmallKey(Shape):
            id = models.SmallAutoField(primary_key=True)
            number = models.IntegerField()

        yield {
            model.__name__: model
            for model in (Target, Coded, Keyed, Every, Child, Profile, SmallKey)
        }


EVERY = {
    "char": "Quiet café",
    "char_null": None,
    "text": 'mirror "quoted"\nline two',
    "slug": "tag-00001",
    "email": "user1@example.org",
    "url": "https://example.org/a?b=c",
    "integer": -42,
    "big": 366736477613,
    "small": 7,
    "positive": 12,
    "positive_small": 3,
    "positive_big": 2**62,
    "flag": True,
    "flag_null": None,
    "ratio": 0.1,
    "amount": "368242.800",
    "at": "2021-06-23T07:38:04.161Z",
    "at_null": None,
    "day": "2024-02-29",
    "clock": "08:15:00.999999",
    "span": "3 00:00:01.123456",
    "uid": UUID,
    "data": {"é": [1, 2.5, None, {"deep": "ünïcode"}], "big": 2**62},
    "blob": "AGMdafw4E2jkqJJ/QmrIH8vKmY9rg0Ge/wA=",
    "upload": "covers/cover-001.png",
    "ip": "192.0.2.1",
    "target": 5,
    "coded": "WH-01",
    "keyed": UUID,
    "tags": [1, 2, 3],
}

#: Odd values a fixture may hold, per field; the instance's way decides.
ODD = {
    "char": ["", None, 12, 1.5, True, ["a"]],
    "char_null": ["", "x"],
    "text": ["", 0],
    "integer": [0, True, False, "12", " 7", 1.0, 1.5, None, "x", 2**70],
    "big": ["-3", None],
    "small": [None],
    "positive": [None, 0],
    "flag": [False, 1, 0, "t", "False", "1", None, "yes", 2],
    "flag_null": [True, False, "", "t"],
    "ratio": [1, "2.5", None, True],
    "amount": [1, "1.23456", 2.5, None, "x"],
    "at": ["2021-06-23T07:38:04Z", "2021-06-23", None, "x"],
    "at_null": ["2021-06-23T07:38:04.161+02:00"],
    "day": ["2024-02-30", None],
    "clock": ["08:15", None],
    "span": [3600, "P3DT1S", None],
    "uid": [UUID.replace("-", ""), 12345, "x", None],
    "data": [None, [], "text", 3, True],
    "blob": ["", None],
    "upload": ["", None, 5, ["a"]],
    "ip": ["::ffff:192.0.2.1", "", None, "x"],
    "target": [None, "5", True, 0, "x", [1]],
    "coded": [None, "", 5],
    "keyed": [None, "", UUID.replace("-", ""), "x"],
    "tags": [[], ["1", 2], [None], 5],
}


def _typed(value):
    """A value as the database driver sees it: its type and what it holds."""
    if isinstance(value, memoryview):
        return (memoryview, bytes(value))
    if type(value).__module__.startswith("psycopg") and hasattr(value, "obj"):
        # psycopg's Binary and Jsonb wrappers: what they wrap.
        return (type(value), _typed(value.obj))
    return (type(value), repr(value))


def _outcome(model, raw: dict, alias: str, *, rows: bool):
    """What deserializing ``raw`` gives: the error, or the instance's attributes,
    its row (or the error preparing it), its many-to-many data, and whether it
    came with its row."""
    plan = _ModelPlan(model)
    if not rows:
        plan.rows = False
    deserializer = Deserializer([raw], using=alias, cache=NaturalKeyCache(alias))
    deserializer.plans[raw["model"]] = plan
    try:
        (item,) = list(deserializer)
    except DeserializationError as error:
        return ("error", str(error)), False
    obj = item.object
    attributes = {
        name: (value.db, value.adding) if name == "_state" else _typed(value)
        for name, value in obj.__dict__.items()
    }
    fields = list(model._meta.local_concrete_fields)
    connection = connections[alias]
    try:
        row = [_typed(v) for v in sql.row_values(obj, sql.preps(fields), connection)]
    except Exception as error:  # noqa: BLE001 - the saver then saves it exactly
        row = ("error", type(error))
    made = type(item) is RowItem
    if made:
        # The row made with the object is the one read back from it.
        assert [_typed(v) for v in item.row] == row
    return (attributes, row, item.m2m_data, item.deferred_fields), made


def _attributes_without_parents(result, model):
    """A multi-table child's parents' attributes are defaults (a new UUID)."""
    if result[0] == "error":
        return result
    local = {f.attname for f in model._meta.local_concrete_fields} | {"_state"}
    attributes, *rest = result
    return ({k: v for k, v in attributes.items() if k in local}, *rest)


def _cases():
    yield "every", None, None
    for name, values in ODD.items():
        for value in values:
            yield "every", name, value
    yield "every", "unknown field", 1
    yield "every", "id", 3


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize(("shape", "name", "value"), list(_cases()))
def test_a_made_row_is_the_row_of_the_built_instance(
    shapes, db_alias, shape, name, value
):
    fields = dict(EVERY)
    if name is not None:
        fields[name] = value
    raw = {"model": "library.every", "pk": 9, "fields": fields}
    made, came_with_row = _outcome(shapes["Every"], raw, db_alias, rows=True)
    built, _ = _outcome(shapes["Every"], raw, db_alias, rows=False)
    assert made == built
    if name is None:
        assert came_with_row, "a plain object comes with its row"


@pytest.mark.django_db(databases=["default", "postgres"])
def test_missing_fields_take_their_defaults_as_the_instance_does(shapes, db_alias):
    raw = {
        "model": "library.every",
        "pk": 2,
        "fields": {k: v for k, v in EVERY.items() if k not in {"small", "flag"}},
    }
    made, came_with_row = _outcome(shapes["Every"], raw, db_alias, rows=True)
    built, _ = _outcome(shapes["Every"], raw, db_alias, rows=False)
    assert came_with_row
    assert made == built
    assert made[0]["small"] == (int, "3")


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize(
    ("shape", "pk", "fields", "with_row"),
    [
        ("Target", 1, {"name": "a"}, True),
        ("Target", "1", {"name": "a"}, True),
        ("Target", True, {"name": "a"}, True),
        ("Target", None, {"name": "a"}, False),
        ("Coded", "WH-01", {}, True),
        ("Coded", 5, {}, True),
        ("Keyed", UUID, {}, True),
        ("Keyed", UUID.replace("-", ""), {}, True),
        ("Profile", 4, {"note": "n"}, True),
        ("Profile", "4", {"note": "n"}, True),
        ("SmallKey", 3, {"number": 1}, True),
        ("SmallKey", "x", {"number": 1}, False),
        # A multi-table child: its own fields, as dumpdata writes it.
        ("Child", 9, {"extra": "x"}, True),
        ("Child", "9", {"extra": "x"}, True),
        # Its parents' fields too (the instance has them, its row does not),
        # or a parent's many-to-many: the deserializer's own way.
        ("Child", 9, {**EVERY, "extra": "x"}, False),
        ("Child", 9, {"extra": "x", "tags": [1]}, False),
    ],
)
def test_primary_keys_of_every_kind(shapes, db_alias, shape, pk, fields, with_row):
    model = shapes[shape]
    raw = {"model": f"library.{shape.lower()}", "pk": pk, "fields": fields}
    made, came_with_row = _outcome(model, raw, db_alias, rows=True)
    built, _ = _outcome(model, raw, db_alias, rows=False)
    if shape == "Child":
        made = _attributes_without_parents(made, model)
        built = _attributes_without_parents(built, model)
    assert made == built
    assert came_with_row is with_row


@pytest.mark.django_db
def test_receivers_of_post_init_get_built_instances(shapes):
    seen = []

    def record(sender, instance, **kwargs):
        seen.append(instance.pk)

    raw = {"model": "library.target", "pk": 1, "fields": {"name": "a"}}
    post_init.connect(record, sender=shapes["Target"])
    try:
        _made, came_with_row = _outcome(shapes["Target"], raw, "default", rows=True)
    finally:
        post_init.disconnect(record, sender=shapes["Target"])
    assert not came_with_row
    assert seen == [1]


def test_models_whose_instances_add_to_their_values_are_built():
    with isolate_apps("sandbox.library"):

        class Initialised(models.Model):
            name = models.CharField(max_length=10)

            class Meta:
                app_label = "library"

            def __str__(self):
                return self.name

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.name = self.name.upper()

        class Prop(DeferredAttribute):
            def __set__(self, instance, value):
                instance.__dict__[self.field.attname] = value.strip()

        class Custom(models.CharField):
            descriptor_class = Prop

        class Described(models.Model):
            name = Custom(max_length=10)

            class Meta:
                app_label = "library"

            def __str__(self):
                return self.name

        connection = connections["default"]
        assert why_not(Initialised, connection) == "it has an __init__() of its own"
        assert why_not(Described, connection) == (
            "field 'name' has a descriptor of its own"
        )


# ---- the proofs of values that pass unchanged --------------------------------

SAMPLES = {
    str: ["", "x", "é" * 3, " 7 ", "None"],
    int: [0, 1, -1, 2**31, -(2**63), 2**70],
    bool: [True, False],
    type(None): [None],
}


@pytest.mark.django_db(databases=["default", "postgres"])
def test_unchanged_types_do_pass_unchanged(shapes, db_alias):
    """Each type a field claims to write as it is, does: value and type."""
    connection = connections[db_alias]
    claimed = 0
    for model in shapes.values():
        for field in model._meta.local_concrete_fields:
            for kind in unchanged_types(field, connection):
                for value in SAMPLES[kind]:
                    if field.remote_field is not None:
                        python = field.target_field.to_python(value)
                    else:
                        python = field.to_python(value)
                    if field.get_internal_type() == "FileField":
                        python = field.attr_class(None, field, python)
                    db = field.get_db_prep_save(python, connection)
                    assert type(db) is kind and db == value, (field, value, db)
                    claimed += 1
    assert claimed > 50


@pytest.mark.django_db(databases=["default", "postgres"])
def test_a_field_that_converts_of_its_own_claims_nothing(db_alias):
    class Upper(models.CharField):
        def to_python(self, value):
            return value.upper() if isinstance(value, str) else value

    class Doubled(models.IntegerField):
        def get_prep_value(self, value):
            return super().get_prep_value(value) * 2

    connection = connections[db_alias]
    for field in (Upper(max_length=3), Doubled(), models.FloatField()):
        assert unchanged_types(field, connection) == frozenset()
    assert unchanged_types(models.IntegerField(), connection) in (
        frozenset({int, type(None)}),
        # psycopg 3 binds integers by their column's size: not as they are.
        frozenset(),
    )


@pytest.mark.django_db(databases=["default", "postgres"])
def test_quick_preps_are_the_field_s_own(shapes, db_alias):
    """The cut-short ``get_db_prep_save`` gives what the field's gives, for the
    values it takes and for the others, which it passes on."""
    import datetime

    from diskette.loading.passthrough import quick_prep

    connection = connections[db_alias]
    utc = datetime.timezone.utc
    values = [
        None,
        "",
        uuid.UUID(UUID),
        UUID,
        datetime.datetime(2021, 6, 23, 7, 38, 4, 161000, tzinfo=utc),
        datetime.datetime(
            1999, 12, 31, 23, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
        ),
        datetime.datetime(2024, 2, 29, 12, 0, 0, 1, tzinfo=utc),
    ]
    quick = 0
    for model in shapes.values():
        for field in model._meta.local_concrete_fields:
            prep = quick_prep(field, connection)
            if prep is None:
                continue
            quick += 1
            for value in values:
                try:
                    expected = _typed(field.get_db_prep_save(value, connection))
                except Exception as error:  # noqa: BLE001 - both must fail alike
                    expected = ("error", type(error))
                try:
                    got = _typed(prep(value, connection))
                except Exception as error:  # noqa: BLE001
                    got = ("error", type(error))
                assert got == expected, (field, value)
    # Every.at, at_null, uid, keyed; Keyed.id.
    assert quick >= 5
