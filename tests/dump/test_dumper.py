"""The dumper writes exactly what dumpdata writes, and counts what it wrote."""

from __future__ import annotations

import json
import re
import threading
import uuid

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sites.models import Site
from django.core import serializers
from django.core.management import call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext

from diskette.definitions import Definition
from diskette.dumping.dumper import (
    count_fixture_objects,
    dumpdata_arguments,
    read_transaction,
    write_fixture,
)
from diskette.exceptions import DumpError
from diskette.reporter import Reporter
from sandbox.library.seeding import seed_database


@pytest.fixture(autouse=True)
def fresh_content_types():
    """Content types cached in a rolled-back test would be stale in the next one."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


def definition(name, models, fmt="json", **options) -> Definition:
    return Definition(
        name=name, models=tuple(models), filename=f"{name}.{fmt}", format=fmt, **options
    )


def labels(app_label):
    return [m._meta.label for m in apps.get_app_config(app_label).get_models()]


def dumpdata(tmp_path, models, *flags, using="default"):
    output = tmp_path / "dumpdata-output"
    call_command(
        "dumpdata",
        *models,
        *flags,
        f"--database={using}",
        f"--output={output}",
        verbosity=0,
    )
    return output.read_bytes()


SHAPES = [
    ("json", (), {}),
    ("json", ("--natural-foreign",), {"natural_foreign": True}),
    (
        "json",
        ("--natural-foreign", "--natural-primary"),
        {"natural_foreign": True, "natural_primary": True},
    ),
    ("json", ("--all",), {"use_base_manager": True}),
    ("jsonl", ("--natural-foreign",), {"natural_foreign": True}),
    ("xml", ("--natural-foreign",), {"natural_foreign": True}),
    ("yaml", (), {}),
]


@pytest.mark.filterwarnings(
    "ignore::django.core.management.commands.dumpdata.ProxyModelWarning"
)
@pytest.mark.parametrize("indent", [2, None])
@pytest.mark.parametrize(("fmt", "flags", "options"), SHAPES)
def test_every_model_shape_equals_dumpdata(
    tmp_path, seeded, fmt, flags, options, indent
):
    """Each sandbox model on its own, then the whole app, byte for byte.

    Without indent, json and jsonl go through the C encoder: still the same bytes.
    """
    indent_flags = () if indent is None else (f"--indent={indent}",)
    models = [*labels("library"), "auth.User", "auth.Group", "sites.Site"]
    models.append("library.PublishedBook")  # a proxy: dumpdata writes nothing for it
    for label in [*dict.fromkeys(models), None]:
        chosen = [label] if label else labels("library")
        item = definition("shape", chosen, fmt, **options)
        path = tmp_path / f"ours.{fmt}"
        result = write_fixture(item, path, indent=indent)
        expected = dumpdata(tmp_path, chosen, *flags, f"--format={fmt}", *indent_flags)
        assert path.read_bytes() == expected, label
        if label and apps.get_model(label)._meta.proxy:
            assert result.models == {}, "dumpdata skips proxy models"
        else:
            assert result.objects > 0, label
    # The whole app: counts match the database.
    for model in apps.get_app_config("library").get_models():
        if not model._meta.proxy:
            assert result.models[model._meta.label] == model._default_manager.count()
    assert "library.PublishedBook" not in result.models


def test_counts_per_model_and_size(tmp_path, seeded):
    item = definition("auth", ["auth.Group", "auth.User"], natural_foreign=True)
    result = write_fixture(item, tmp_path / "auth.json")
    assert result.models == {
        "auth.Group": apps.get_model("auth.Group").objects.count(),
        "auth.User": User.objects.count(),
    }
    payload = json.loads((tmp_path / "auth.json").read_text("utf-8"))
    assert len(payload) == result.objects
    assert result.size == (tmp_path / "auth.json").stat().st_size


@pytest.mark.django_db
def test_empty_definition_writes_an_empty_fixture(tmp_path):
    item = definition("sessions", ["sessions.Session"])
    result = write_fixture(item, tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text()) == []
    assert result.models == {"sessions.Session": 0}


def test_dump_command_runs_instead(tmp_path, seeded):
    item = definition(
        "library", labels("library"), natural_foreign=True, dump_command="dumpdata"
    )
    result = write_fixture(item, tmp_path / "lib.json", indent=1)
    expected = dumpdata(tmp_path, labels("library"), "--natural-foreign", "--indent=1")
    assert (tmp_path / "lib.json").read_bytes() == expected
    assert (
        result.models["library.Book"] == apps.get_model("library.Book").objects.count()
    )


@pytest.mark.django_db
def test_unknown_dump_command_is_a_dump_error(tmp_path):
    item = definition("sites", ["sites.Site"], dump_command="no_such_command")
    with pytest.raises(DumpError, match="no_such_command"):
        write_fixture(item, tmp_path / "sites.json")


def test_unserialisable_row_is_a_dump_error(tmp_path, seeded):
    with connections["default"].cursor() as cursor:
        cursor.execute("UPDATE library_book SET price = 'not a number'")
    item = definition("library", ["library.Publisher", "library.Book"])
    with pytest.raises(DumpError, match=r"'library': model library\.Book could not"):
        write_fixture(item, tmp_path / "lib.json")


@pytest.mark.parametrize("fmt", ["json", "jsonl", "xml", "yaml"])
def test_count_fixture_objects(tmp_path, seeded, fmt):
    path = tmp_path / f"f.{fmt}"
    path.write_bytes(dumpdata(tmp_path, ["auth.User", "sites.Site"], f"--format={fmt}"))
    assert count_fixture_objects(path, fmt) == {
        "auth.User": User.objects.count(),
        "sites.Site": Site.objects.count(),
    }


@pytest.mark.parametrize(
    ("fmt", "content", "words"),
    [
        ("json", b'[{"model": "nope.nothing", "pk": 1, "fields": {}}]', "nope"),
        ("json", b'[{"model": "auth.user", "pk": 1, "fields": {}', "json"),
        ("jsonl", b'{"model": "auth.user"}\n{not json\n', "jsonl"),
        ("xml", b"<django-objects><object model=", "xml"),
    ],
)
def test_a_broken_fixture_of_a_dump_command_is_one_dump_error(
    tmp_path, fmt, content, words
):
    path = tmp_path / f"f.{fmt}"
    path.write_bytes(content)
    with pytest.raises(DumpError) as caught:
        count_fixture_objects(path, fmt)
    message = str(caught.value)
    assert message.startswith(
        f"the fixture written by dump_command (f.{fmt}) is not a valid {fmt} fixture: "
    )
    assert words in message


def test_dumpdata_arguments():
    item = definition(
        "x",
        ["auth.User"],
        "xml",
        natural_foreign=True,
        natural_primary=True,
        use_base_manager=True,
    )
    assert dumpdata_arguments(item, output="o.xml", using="other", indent=2) == [
        "auth.User",
        "--natural-foreign",
        "--natural-primary",
        "--all",
        "--format=xml",
        "--indent=2",
        "--database=other",
        "--output=o.xml",
    ]


class InsertBetween(Reporter):
    """After the first definition is dumped, another connection commits a new user."""

    def __init__(self, alias):
        self.alias = alias
        self.inserted = False

    def insert(self):
        def run():
            other = connections.create_connection(self.alias)
            try:
                with other.cursor() as cursor:
                    cursor.execute(
                        "INSERT INTO auth_user (password, is_superuser, username, "
                        "first_name, last_name, email, is_staff, is_active, date_joined) "
                        "VALUES ('', false, 'late', '', '', '', false, true, now())"
                    )
            finally:
                other.close()

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        self.inserted = True


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_definitions_share_one_repeatable_read_snapshot(tmp_path, postgres_db):
    assert Site.objects.using(postgres_db).exists()  # from the sites migration
    reporter = InsertBetween(postgres_db)
    with read_transaction(postgres_db):
        write_fixture(
            definition("sites", ["sites.Site"]),
            tmp_path / "sites.json",
            using=postgres_db,
        )
        reporter.insert()
        write_fixture(
            definition("users", ["auth.User"]),
            tmp_path / "users.json",
            using=postgres_db,
        )
    assert reporter.inserted
    # Committed by another connection during the dump: not in the snapshot...
    assert "late" not in (tmp_path / "users.json").read_text()
    # ...but really committed.
    assert User.objects.using(postgres_db).filter(username="late").exists()


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_postgres_fixture_equals_dumpdata(tmp_path, postgres_db):
    seed_database(40, using=postgres_db)
    chosen = labels("library")
    item = definition("library", chosen, natural_foreign=True)
    with read_transaction(postgres_db):
        result = write_fixture(item, tmp_path / "lib.json", using=postgres_db)
    expected = dumpdata(tmp_path, chosen, "--natural-foreign", using=postgres_db)
    assert (tmp_path / "lib.json").read_bytes() == expected
    assert result.models["library.Book"] == (
        apps.get_model("library.Book").objects.using(postgres_db).count()
    )


# ---- per object, on every database, against Django's own serializer -----------

#: Every sandbox model shape, plus auth with permissions (natural keys that read
#: a foreign key) and content types.
COMPARED_MODELS = [
    "contenttypes.ContentType",
    "auth.Permission",
    "auth.Group",
    "auth.User",
    *[
        model._meta.label
        for model in apps.get_app_config("library").get_models()
        if not model._meta.proxy
    ],
]
#: (format, natural_foreign, natural_primary)
COMPARED = [
    ("json", False, False),
    ("json", True, False),
    ("json", True, True),
    ("jsonl", True, False),
    ("jsonl", False, False),
    ("xml", True, False),
    ("xml", False, False),
    ("yaml", True, False),
]


def _unordered_m2m(model) -> set[str]:
    """M2M fields whose order Django leaves to the database (no default ordering)."""
    return {
        field.name
        for field in model._meta.many_to_many
        if not field.remote_field.model._meta.ordering
    }


def _parse(fmt: str, text: str) -> list:
    """The objects of a fixture as comparable Python values."""
    if fmt == "json":
        return json.loads(text)
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line]
    if fmt == "yaml":
        import yaml

        return yaml.safe_load(text) or []
    from xml.etree import ElementTree  # noqa: S405 - written by the test itself

    objects = []
    for node in ElementTree.fromstring(text):  # noqa: S314
        fields = {}
        for field in node:
            children = [ElementTree.tostring(child, "unicode") for child in field]
            fields[field.get("name")] = [field.text, children]
        objects.append({"model": node.get("model"), "pk": node.get("pk"), **fields})
    return objects


def _normalised(fmt: str, text: str, model) -> list:
    unordered = _unordered_m2m(model)
    objects = _parse(fmt, text)
    for obj in objects:
        fields = obj.get("fields", obj)
        for name in unordered & set(fields):
            value = fields[name]
            if fmt == "xml":
                fields[name] = [value[0], sorted(value[1])]
            else:
                fields[name] = sorted(value, key=repr)
    return objects


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize(("fmt", "natural_foreign", "natural_primary"), COMPARED)
def test_objects_equal_django_serializer_on_each_database(
    tmp_path, db_alias, fmt, natural_foreign, natural_primary
):
    """Per object and per model, what Django's serializer writes for the same rows.

    M2M lists are compared in order, except for related models without a default
    ordering, where Django's order is the database's (ours is by primary key).
    """
    seed_database(40, using=db_alias)
    for label in COMPARED_MODELS:
        model = apps.get_model(label)
        item = definition(
            "shape",
            [label],
            fmt,
            natural_foreign=natural_foreign,
            natural_primary=natural_primary,
        )
        path = tmp_path / f"ours.{fmt}"
        result = write_fixture(item, path, using=db_alias)
        expected = serializers.serialize(
            fmt,
            model._default_manager.using(db_alias).order_by(model._meta.pk.name),
            use_natural_foreign_keys=natural_foreign,
            use_natural_primary_keys=natural_primary,
        )
        ours = _normalised(fmt, path.read_text("utf-8"), model)
        assert ours == _normalised(fmt, expected, model), label
        assert result.models == {label: model._default_manager.using(db_alias).count()}
        assert len(ours) == result.objects > 0, label


def _grow(using: str, start: int) -> None:
    """Add rows of every relation shape, reusing what the seed wrote."""
    from sandbox.library.models import Author, Book, Note, Review

    books = list(Book.objects.using(using).order_by("pk"))
    authors = list(Author.objects.using(using).order_by("pk"))
    groups = list(Group.objects.using(using).order_by("pk"))
    permissions = list(Permission.objects.using(using).order_by("pk")[:20])
    book_type = ContentType.objects.db_manager(using).get_for_model(Book)
    for index in range(start, start + 20):
        book = books[index % len(books)]
        copy = Book.objects.using(using).create(
            id=uuid.UUID(int=10**9 + index, version=4),
            title=f"{book.title} (2)",
            publisher=book.publisher,
            price=book.price,
            published_at=book.published_at,
            metadata=book.metadata,
            sequel=book,
        )
        copy.authors.set(authors[index % 3 :])
        copy.tags.set(book.tags.all())
        user = User.objects.db_manager(using).create_user(f"grown-{index}")
        user.groups.set(groups)
        user.user_permissions.set(permissions[index % 5 :])
        Review.objects.using(using).create(
            book=copy, reviewer=user, rating=3, created=book.published_at
        )
        Note.objects.using(using).create(
            content_type=book_type, object_id=str(copy.pk), text=f"grown {index}"
        )
        Author.objects.using(using).create(
            first_name="Grown", last_name=str(index), mentor=authors[-1]
        )
        group = Group.objects.using(using).create(name=f"grown-{index}")
        group.permissions.set(permissions[: index % 7 + 5])


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.slow
def test_queries_do_not_grow_with_the_objects(tmp_path, db_alias, fmt):
    """No query per object: more rows in every relation, the same queries."""
    seed_database(40, using=db_alias)
    _grow(db_alias, 0)  # every relation holds rows
    chosen = ["auth.Group", "auth.User", "auth.Permission", *labels("library")]
    item = definition("all", chosen, fmt, natural_foreign=True)

    def dump() -> tuple[int, int]:
        with CaptureQueriesContext(connections[db_alias]) as queries:
            result = write_fixture(item, tmp_path / f"all.{fmt}", using=db_alias)
        return len(queries), result.objects

    before, objects_before = dump()
    _grow(db_alias, 100)
    after, objects_after = dump()
    assert objects_after >= objects_before + 100
    assert after == before


def test_small_chunks_give_the_same_fixture(tmp_path, seeded, monkeypatch):
    """Related data is fetched per primary key range: chunk edges change nothing."""
    chosen = ["auth.Group", "auth.User", *labels("library")]
    item = definition("all", chosen, "jsonl", natural_foreign=True)
    write_fixture(item, tmp_path / "big.jsonl")
    monkeypatch.setattr("diskette.dumping.dumper.CHUNK_SIZE", 7)
    with CaptureQueriesContext(connections["default"]) as queries:
        write_fixture(item, tmp_path / "small.jsonl")
    assert (tmp_path / "small.jsonl").read_bytes() == (
        tmp_path / "big.jsonl"
    ).read_bytes()
    books = apps.get_model("library.Book").objects.count()
    assert len(queries) > books // 7, "several chunks were read"


def test_a_registered_serializer_is_used_as_dumpdata_would(monkeypatch):
    """Our fast classes replace Django's own only; a project's module is kept."""
    from django.core.serializers import jsonl as django_jsonl

    from diskette.dumping.serializer import (
        JSONLSerializer,
        JSONSerializer,
        get_serializer,
    )

    assert get_serializer("json") is JSONSerializer
    assert get_serializer("jsonl") is JSONLSerializer
    assert get_serializer("xml") is serializers.get_serializer("xml")
    monkeypatch.setattr(serializers, "_serializers", {})
    serializers.register_serializer("json", "django.core.serializers.jsonl")
    assert get_serializer("json") is django_jsonl.Serializer


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collector_state_is_restored(tmp_path, seeded, enabled):
    """Collection is paused while serializing, then left as the caller had it."""
    import gc

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        item = definition("library", labels("library"), natural_foreign=True)
        write_fixture(item, tmp_path / "lib.json")
        assert gc.isenabled() is enabled
        with connections["default"].cursor() as cursor:
            cursor.execute("UPDATE library_book SET price = 'not a number'")
        with pytest.raises(DumpError):
            write_fixture(item, tmp_path / "lib.json")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


# ---- rows instead of instances; natural keys cached, bounded --------------------


def test_key_cache_keeps_the_most_recently_used_within_its_size():
    from diskette.dumping.row_links import KeyCache

    cache = KeyCache(3)
    for key in "abc":
        cache.add(key, (key.upper(),))
    found, missing = cache.lookup(["a", "z"])  # "a" becomes the most recent
    assert found == {"a": ("A",)}
    assert missing == ["z"]
    cache.add("d", ("D",))  # "b", the least recently used, goes
    assert len(cache) == 3
    assert cache.lookup("abcd") == ({"a": ("A",), "c": ("C",), "d": ("D",)}, ["b"])


def test_tiny_key_cache_and_chunks_give_dumpdata_bytes(tmp_path, seeded, monkeypatch):
    """Keys dropped from the cache are fetched again, by value or by subquery."""
    chosen = ["auth.Group", "auth.User", *labels("library")]
    expected = dumpdata(tmp_path, chosen, "--natural-foreign")
    sizes = []
    original = __import__(
        "diskette.dumping.row_links", fromlist=["KeyCache"]
    ).KeyCache.add

    def add(cache, key, value):
        original(cache, key, value)
        sizes.append(len(cache))

    monkeypatch.setattr("diskette.dumping.row_links.KeyCache.add", add)
    monkeypatch.setattr("diskette.dumping.row_links.KEY_CACHE_SIZE", 4)
    monkeypatch.setattr("diskette.dumping.row_links.KEY_LIST_LIMIT", 3)
    monkeypatch.setattr("diskette.dumping.dumper.CHUNK_SIZE", 9)
    item = definition("all", chosen, natural_foreign=True)
    write_fixture(item, tmp_path / "all.json")
    assert (tmp_path / "all.json").read_bytes() == expected
    assert sizes, "natural keys went through the cache"
    assert max(sizes) == 4


@pytest.mark.django_db
@pytest.mark.parametrize("natural_foreign", [True, False])
def test_every_sandbox_model_is_written_from_rows(natural_foreign):
    """The built-in field types of the sandbox all take the row path."""
    from diskette.dumping.dumper import dump_queryset, dumped_models
    from diskette.dumping.serializer import row_plan

    item = definition("all", ["auth.Group", "auth.User", *labels("library")])
    for model in dumped_models(item):
        plan = row_plan(
            model,
            dump_queryset(item, model),
            natural_foreign=natural_foreign,
            natural_primary=False,
        )
        assert plan is not None, model._meta.label
        assert plan.columns[0] == model._meta.pk.attname


@pytest.mark.django_db
def test_natural_primary_keys_keep_instances():
    from diskette.dumping.dumper import dump_queryset
    from diskette.dumping.serializer import row_plan

    item = definition("auth", ["auth.Group"], natural_primary=True)
    plan = row_plan(
        Group,
        dump_queryset(item, Group),
        natural_foreign=True,
        natural_primary=True,
    )
    assert plan is None, "Group.natural_key() needs an instance"


def test_custom_field_falls_back_to_instances():
    """A field class that is not Django's own is never read from a row."""
    from django.db import models
    from django.test.utils import isolate_apps

    from diskette.dumping.serializer import row_plan

    class ShoutingField(models.CharField):
        def value_to_string(self, obj):
            return super().value_to_string(obj).upper()

    with isolate_apps("sandbox.library"):

        class Plain(models.Model):
            name = models.CharField(max_length=10)

            class Meta:
                app_label = "library"

            def __str__(self):
                return self.name

        class Custom(models.Model):
            name = ShoutingField(max_length=10)

            class Meta:
                app_label = "library"

            def __str__(self):
                return self.name

        for model, planned in [(Plain, True), (Custom, False)]:
            plan = row_plan(
                model,
                model._default_manager.all(),
                natural_foreign=False,
                natural_primary=False,
            )
            assert (plan is not None) is planned, model.__name__


def test_post_init_receiver_keeps_instances_and_bytes(tmp_path, seeded):
    """What runs when an instance is built could change it: instances are built."""
    from django.db.models.signals import post_init

    from diskette.dumping.dumper import dump_queryset
    from diskette.dumping.serializer import row_plan
    from sandbox.library.models import Book

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)
        instance.title = instance.title.upper()

    chosen = ["library.Book"]
    item = definition("books", chosen, natural_foreign=True)
    post_init.connect(receiver, sender=Book)
    try:
        assert (
            row_plan(
                Book,
                dump_queryset(item, Book),
                natural_foreign=True,
                natural_primary=False,
            )
            is None
        )
        write_fixture(item, tmp_path / "books.json")
        expected = dumpdata(tmp_path, chosen, "--natural-foreign")
    finally:
        post_init.disconnect(receiver, sender=Book)
    assert (tmp_path / "books.json").read_bytes() == expected
    assert seen, "the receiver ran"
    titles = [obj["fields"]["title"] for obj in json.loads(expected)]
    assert titles == [title.upper() for title in titles]


def test_dangling_natural_foreign_key_is_a_dump_error(tmp_path, seeded):
    """A key that points nowhere fails as it does in dumpdata (one query for it)."""
    from sandbox.library.models import Review

    review = Review.objects.exclude(reviewer=None).order_by("pk").first()
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "UPDATE library_review SET reviewer_id = 987654 WHERE id = %s", [review.pk]
        )
    try:
        item = definition("reviews", ["library.Review"], natural_foreign=True)
        with pytest.raises(
            DumpError, match="library.Review could not .*does not exist"
        ):
            write_fixture(item, tmp_path / "reviews.json")
        with pytest.raises(Exception, match="does not exist"):
            dumpdata(tmp_path, ["library.Review"], "--natural-foreign")
    finally:
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "UPDATE library_review SET reviewer_id = %s WHERE id = %s",
                [review.reviewer_id, review.pk],
            )


# ---- microseconds: the one difference from dumpdata ------------------------------

#: A time with six digits of fraction, as we write it where Django would cut.
_MICROSECONDS = re.compile(rb"(\d{2}:\d{2}:\d{2}\.\d{3})(\d{3})(?!\d)")


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("fmt", ["json", "jsonl", "xml", "yaml"])
@pytest.mark.parametrize("indent", [None, 2])
def test_fixture_differs_from_dumpdata_only_by_kept_microseconds(
    tmp_path, monkeypatch, db_alias, fmt, indent
):
    """json and jsonl keep the six digits Django cuts; nothing else changes."""
    from sandbox.library import seeding

    monkeypatch.setattr(seeding, "TIME_RESOLUTION_US", 1)
    seed_database(40, using=db_alias)
    chosen = ["auth.Group", "auth.User", *labels("library")]
    item = definition("all", chosen, fmt, natural_foreign=True)
    path = tmp_path / f"all.{fmt}"
    write_fixture(item, path, using=db_alias, indent=indent)
    indent_flags = () if indent is None else (f"--indent={indent}",)
    expected = dumpdata(
        tmp_path,
        chosen,
        "--natural-foreign",
        f"--format={fmt}",
        *indent_flags,
        using=db_alias,
    )
    ours = path.read_bytes()
    if fmt in ("xml", "yaml"):
        assert ours == expected, "Django's own serializers keep microseconds"
        assert _MICROSECONDS.search(ours)
        return
    kept = [match.group(2) for match in _MICROSECONDS.finditer(ours)]
    assert len(kept) > 10, "the seeded datetimes have microseconds"
    assert b"000" not in kept, "whole milliseconds are written as Django writes them"
    assert not _MICROSECONDS.search(expected), "dumpdata cuts them"
    assert ours != expected
    assert _MICROSECONDS.sub(rb"\1", ours) == expected
