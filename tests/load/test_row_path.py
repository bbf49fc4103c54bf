"""Loads whose rows are made without instances give loaddata's rows.

The batched saver inserts the rows that came with their objects
(:mod:`diskette.loading.rows`); these tests read every loaded row back through
the ORM, model by model in primary key order, and compare it with what plain
``loaddata`` and the exact path wrote from the same data files, and check that
the rows were indeed made that way (a saver that counts them).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.apps import apps
from django.db.models.signals import pre_save

from diskette.loading.batch import BatchSaver
from diskette.loading.loader import Fixture, flush_database, load_fixtures
from diskette.loading.rows import RowItem
from sandbox.library.models import Author, Book, Publisher, Tag
from tests.load.test_loader import COMPARED_APPS, dump_fixtures, loaddata_state


class CountingSaver(BatchSaver):
    """The batched saver, counting per model the rows inserted as they came."""

    made: Counter = Counter()

    def _insert_rows(self, model, items):
        CountingSaver.made[model._meta.label] += sum(
            type(item) is RowItem for item in items
        )
        super()._insert_rows(model, items)


@pytest.fixture
def counting():
    CountingSaver.made = Counter()
    return CountingSaver


def orm_rows(using: str) -> dict[str, list]:
    """Every row of the compared models (link tables included) as the ORM reads
    it back: each concrete field's attribute, in primary key order."""
    rows = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.app_label not in COMPARED_APPS or meta.proxy or not meta.managed:
            continue
        names = [field.attname for field in meta.concrete_fields]
        rows[meta.label] = [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
            for row in model._base_manager.using(using)
            .order_by("pk")
            .values_list(*names)
        ]
    return rows


def loaddata_rows(fixtures: list[Fixture], using: str) -> dict[str, list]:
    loaddata_state(fixtures, using)
    return orm_rows(using)


def _mentored_before_their_mentor(path) -> int:
    """Authors of a data file whose mentor's natural key comes after them."""
    seen, later = set(), 0
    for item in json.loads(path.read_text("utf-8")):
        if item["model"] != "library.author":
            continue
        fields = item["fields"]
        mentor = fields["mentor"]
        later += mentor is not None and tuple(mentor) not in seen
        seen.add((fields["first_name"], fields["last_name"]))
    return later


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.slow
def test_made_rows_read_back_as_loaddata_and_the_exact_path_wrote_them(
    db_alias, tmp_path, counting
):
    from sandbox.library.seeding import seed_database

    seed_database(80, using=db_alias)
    seeded = orm_rows(db_alias)
    fixtures = dump_fixtures(tmp_path, db_alias)
    expected = loaddata_rows(fixtures, db_alias)
    for label in ("library.Book", "library.EBook", "library.Review", "auth.User"):
        assert expected[label] == seeded[label]

    load_fixtures(fixtures, using=db_alias, flush=True, exact=True)
    assert orm_rows(db_alias) == expected

    load_fixtures(fixtures, using=db_alias, flush=True, saver=counting)
    assert orm_rows(db_alias) == expected
    # Every object batched here had its row made without its instance, but
    # authors whose mentor comes later in the file (a forward reference).
    later = _mentored_before_their_mentor(fixtures[-1].path)
    assert later
    assert counting.made["library.Author"] == len(expected["library.Author"]) - later
    for label in (
        "library.Publisher",
        "library.Tag",
        "library.Book",
        "library.EBook",
        "library.Review",
        "library.Note",
        "library.Shelf",
        "library.ShelfEntry",
        "auth.User",
        "auth.Group",
    ):
        assert counting.made[label] == len(expected[label]), label


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.slow
def test_forward_references_mix_built_objects_into_batches_of_made_rows(
    db_alias, tmp_path, counting
):
    """Books naming tags that come after them are built (their tags deferred),
    the others come with their rows, in the same batches: loaddata's rows."""
    from sandbox.library.seeding import seed_database

    seed_database(60, using=db_alias)
    fixtures = dump_fixtures(tmp_path, db_alias)
    library = fixtures[-1].path
    objects = json.loads(library.read_text("utf-8"))
    # The tags after the books: their natural keys are forward references.
    tags = [o for o in objects if o["model"] == "library.tag"]
    objects = [o for o in objects if o["model"] != "library.tag"] + tags
    tagged = sum(
        1 for o in objects if o["model"] == "library.book" and o["fields"]["tags"]
    )
    assert tagged and tagged < Book.objects.using(db_alias).count()
    library.write_text(json.dumps(objects), "utf-8")
    expected = loaddata_rows(fixtures, db_alias)

    load_fixtures(fixtures, using=db_alias, flush=True, saver=counting)
    assert orm_rows(db_alias) == expected
    books = len(expected["library.Book"])
    assert counting.made["library.Book"] == books - tagged


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.slow
def test_a_pre_save_receiver_changing_objects_is_obeyed(db_alias, tmp_path, counting):
    """A receiver may change the object before it is saved: the row written is
    the changed object's, not the one made with it."""
    from sandbox.library.seeding import seed_database

    def shout(sender, instance, raw, **kwargs):
        instance.label = instance.label.upper()

    seed_database(30, using=db_alias)
    fixtures = dump_fixtures(tmp_path, db_alias)
    pre_save.connect(shout, sender=Tag)
    try:
        expected = loaddata_rows(fixtures, db_alias)
        load_fixtures(fixtures, using=db_alias, flush=True, saver=counting)
    finally:
        pre_save.disconnect(shout, sender=Tag)
    assert orm_rows(db_alias) == expected
    labels = [row[2] for row in expected["library.Tag"]]
    assert labels and all(label == label.upper() for label in labels)
    assert counting.made["library.Tag"] == 0
    assert (
        counting.made["library.Publisher"] == Publisher.objects.using(db_alias).count()
    )


@pytest.mark.django_db(databases=["default", "postgres"])
def test_values_loaddata_converts_are_written_converted(db_alias, tmp_path, counting):
    """Numbers as text, a missing field, a file field left empty: what the
    instance would hold, prepared as it would be."""
    path = tmp_path / "odd.json"
    objects = [
        {"model": "library.publisher", "pk": "7", "fields": {"name": 1234}},
        {
            "model": "library.author",
            "pk": 3,
            "fields": {"first_name": "Ada", "last_name": "L", "mentor": None},
        },
        {
            "model": "library.book",
            "pk": "0012fb0d-e337-4816-974a-8c023d02aeb1",
            "fields": {
                "title": "T",
                "publisher": "7",
                "price": 12,
                "published_at": "2021-06-23T07:38:04.161+02:00",
                "metadata": [],
                "signature": "",
                "cover": None,
                "sequel": None,
                "authors": ["3"],
                "tags": [],
            },
        },
    ]
    path.write_text(json.dumps(objects), "utf-8")
    fixtures = [Fixture(name=path.name, path=path)]
    expected = loaddata_rows(fixtures, db_alias)
    flush_database(db_alias)
    load_fixtures(fixtures, using=db_alias, saver=counting)
    assert orm_rows(db_alias) == expected
    assert counting.made == Counter(
        {"library.Publisher": 1, "library.Author": 1, "library.Book": 1}
    )
    book = Book.objects.using(db_alias).get()
    assert book.cover.name == "" and book.metadata == []


@pytest.mark.django_db
def test_forward_references_are_deferred_as_the_deserializer_defers_them():
    """A natural key not loaded yet (a mentor, a tag) is deferred, the object
    made as Django's way makes it (its default meanwhile), without its row."""
    from tests.load.test_row_values import _outcome

    Author.objects.create(pk=1, first_name="Mentor", last_name="One")
    Publisher.objects.create(pk=1, name="P")
    cases = [
        (
            Author,
            {
                "model": "library.author",
                "pk": 5,
                "fields": {
                    "first_name": "A",
                    "last_name": "B",
                    "mentor": ["Not", "Yet"],
                    "bio": "",
                },
            },
        ),
        (
            Author,
            {
                "model": "library.author",
                "pk": 6,
                "fields": {
                    "first_name": "A",
                    "last_name": "C",
                    "mentor": ["Mentor", "One"],
                },
            },
        ),
        (
            Book,
            {
                "model": "library.book",
                "pk": "0012fb0d-e337-4816-974a-8c023d02aeb1",
                "fields": {
                    "title": "T",
                    "publisher": ["P"],
                    "price": "1.00",
                    "published_at": "2021-06-23T07:38:04.161Z",
                    "metadata": {},
                    "signature": "",
                    "cover": "",
                    "sequel": None,
                    "tags": [["not-yet"], ["nor-this"]],
                    "authors": [["Mentor", "One"]],
                },
            },
        ),
    ]
    deferred = []
    for model, raw in cases:
        made, came_with_row = _outcome(model, raw, "default", rows=True)
        built, _ = _outcome(model, raw, "default", rows=False)
        assert made == built
        assert came_with_row == (not made[3]), raw
        deferred.append(sorted(field.name for field in made[3]))
    assert deferred == [["mentor"], [], ["tags"]]


@pytest.mark.django_db
def test_a_post_save_receiver_sees_the_saved_objects_of_made_rows(tmp_path, counting):
    """Only pre_save receivers may change an object before its row is written:
    with post_save ones alone, the made rows are written and the receivers get
    the objects, saved (raw, created), as loaddata gives them."""
    from django.db.models.signals import post_save

    seen = []

    def record(sender, instance, created, raw, **kwargs):
        seen.append((instance.pk, instance.name, created, raw, instance._state.adding))

    path = tmp_path / "publishers.json"
    path.write_text(
        json.dumps(
            [
                {"model": "library.publisher", "pk": n, "fields": {"name": f"P{n}"}}
                for n in (1, 2, 3)
            ]
        ),
        "utf-8",
    )
    post_save.connect(record, sender=Publisher)
    try:
        load_fixtures([Fixture(name=path.name, path=path)], saver=counting)
    finally:
        post_save.disconnect(record, sender=Publisher)
    assert seen == [(n, f"P{n}", True, True, False) for n in (1, 2, 3)]
    assert counting.made["library.Publisher"] == 3
    assert list(Publisher.objects.order_by("pk").values_list("pk", "name")) == [
        (1, "P1"),
        (2, "P2"),
        (3, "P3"),
    ]


@pytest.mark.django_db
def test_a_proxy_model_s_objects_are_built_and_saved_exactly(tmp_path, counting):
    from django.db import connection

    from diskette.loading.rows import why_not
    from sandbox.library.models import PublishedBook

    assert why_not(PublishedBook, connection).startswith("a proxy model")
    path = tmp_path / "proxy.json"
    path.write_text(
        json.dumps(
            [
                {"model": "library.publisher", "pk": 1, "fields": {"name": "P"}},
                {
                    "model": "library.publishedbook",
                    "pk": "0012fb0d-e337-4816-974a-8c023d02aeb1",
                    "fields": {
                        "title": "T",
                        "publisher": 1,
                        "price": "1.50",
                        "published_at": "2021-06-23T07:38:04.161Z",
                        "metadata": {},
                        "signature": "",
                        "cover": "",
                        "sequel": None,
                        "authors": [],
                        "tags": [],
                    },
                },
            ]
        ),
        "utf-8",
    )
    fixtures = [Fixture(name=path.name, path=path)]
    expected = loaddata_rows(fixtures, "default")
    flush_database("default")
    load_fixtures(fixtures, saver=counting)
    assert orm_rows("default") == expected
    assert counting.made == Counter({"library.Publisher": 1})
    assert len(expected["library.Book"]) == 1
