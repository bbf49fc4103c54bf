"""Order never matters: a load gives the same rows whatever the order of the data
files and of the objects in them.

Every kind of reference of the sandbox is here, written by hand: natural and
surrogate keys, foreign keys that may and may not be NULL, the one-to-one parent
link of a multi-table child, many-to-many lists of natural keys and of primary
keys, a natural primary key, a generic foreign key. Each bad order is loaded on
the fast path, the exact one and a mix, and compared through the ORM with
``loaddata`` of the good order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command

from diskette import api
from diskette.exceptions import IntegrityLoadError
from diskette.loading.loader import (
    DeferredObjects,
    Fixture,
    flush_database,
    load_fixtures,
)
from diskette.reporter import Reporter
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
from tests.archives import make_archive

B1, B2, B3 = (f"00000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
WHEN = "2024-06-01T12:00:00Z"


def obj(model: str, pk: Any, **fields: Any) -> dict:
    """A fixture object; ``pk=None`` leaves it out (a natural primary key)."""
    item: dict[str, Any] = {"model": model, "fields": fields}
    if pk is not None:
        item["pk"] = pk
    return item


def book(pk: str, publisher: list, authors: list, tags: list, sequel=None) -> dict:
    return obj(
        "library.book",
        pk,
        title=f"Book {pk[-1]}",
        publisher=publisher,
        authors=authors,
        tags=tags,
        price="12.50",
        published_at=WHEN,
        metadata={"pages": int(pk[-1]) * 100},
        signature="",
        cover="",
        sequel=sequel,
    )


#: Data file → its objects, in an order ``loaddata`` loads (what each names
#: comes first), but for Ada's mentor: a forward reference loaddata finishes.
FILES: dict[str, list[dict]] = {
    "auth.json": [
        obj(
            "auth.group",
            11,
            name="editors",
            permissions=[
                ["add_book", "library", "book"],
                ["change_author", "library", "author"],
            ],
        ),
        obj(
            "auth.user",
            9,
            username="bob",
            password="!",
            first_name="Bob",
            last_name="",
            email="",
            is_staff=False,
            is_active=True,
            is_superuser=False,
            date_joined=WHEN,
            last_login=None,
            groups=[["editors"]],
            user_permissions=[["view_tag", "library", "tag"]],
        ),
    ],
    "publishers.json": [
        obj("library.publisher", 7, name="Penguin"),
        obj("library.publisher", 8, name="Folio"),
    ],
    "authors.json": [
        obj(
            "library.author",
            101,
            first_name="Ada",
            last_name="Lovelace",
            mentor=["Grace", "Hopper"],
            bio="",
        ),
        obj(
            "library.author",
            None,
            first_name="Grace",
            last_name="Hopper",
            mentor=None,
            bio="admiral",
        ),
    ],
    "tags.json": [obj("library.tag", 5, slug="classic", label="Classic")],
    "books.json": [
        book(B2, ["Folio"], [], []),
        book(
            B1,
            ["Penguin"],
            [["Ada", "Lovelace"], ["Grace", "Hopper"]],
            [["classic"]],
            B2,
        ),
        book(B3, ["Penguin"], [["Grace", "Hopper"]], [5]),
        obj("library.ebook", B3, file_format="epub", size_bytes=1234),
    ],
    "reviews.json": [
        obj(
            "library.review",
            20,
            book=B1,
            reviewer=["bob"],
            rating=5,
            body="",
            created=WHEN,
        )
    ],
    "notes.json": [
        obj(
            "library.note",
            30,
            content_type=["library", "author"],
            object_id="101",
            text="on Ada",
        ),
        obj(
            "library.note",
            31,
            content_type=["library", "book"],
            object_id=B1,
            text="on book 1",
        ),
    ],
    "shelves.json": [
        obj("library.shelf", 40, name="Favourites"),
        obj("library.shelfentry", 41, shelf=40, book=B1, position=1),
    ],
}
MODELS = (Group, User, Publisher, Author, Tag, Book, EBook, Review, Note, Shelf)
MODELS += (ShelfEntry,)


def bad_orders() -> list[tuple[str, list[tuple[str, list[dict]]]]]:
    """(what, [(data file, objects)]) of every order to load."""
    names = list(FILES)
    orders = [
        ("every file and object reversed", [(n, FILES[n][::-1]) for n in names[::-1]])
    ]
    for name in names:
        rest = [n for n in names if n != name]
        orders.append((f"{name} first", [(n, FILES[n]) for n in [name, *rest]]))
        orders.append((f"{name} last", [(n, FILES[n]) for n in [*rest, name]]))
    everything = [item for n in names for item in FILES[n]]
    orders.append(("one data file, reversed", [("all.json", everything[::-1])]))
    return orders


def write(tmp_path: Path, files: list[tuple[str, list[dict]]]) -> list[Fixture]:
    fixtures = []
    for name, objects in files:
        path = tmp_path / name
        path.write_text(json.dumps(objects), encoding="utf-8")
        fixtures.append(Fixture(name=name, path=path))
    return fixtures


def identity(item) -> Any:
    """What names an object whatever primary key the load gave it."""
    if item is None:
        return None
    if hasattr(type(item)._default_manager, "get_by_natural_key"):
        return tuple(item.natural_key())
    return str(item.pk)


def snapshot(using: str, models=MODELS) -> dict[str, list]:
    """Every row of ``models`` through the ORM: fields, the objects they name
    (by natural key where there is one) and many-to-many sets."""
    state: dict[str, list] = {}
    for model in models:
        rows = []
        for item in model._base_manager.using(using).all():
            row: dict[str, Any] = {"identity": identity(item)}
            for field in model._meta.concrete_fields:
                if field.remote_field is not None:
                    row[field.name] = identity(getattr(item, field.name))
                elif not field.primary_key:
                    value = getattr(item, field.attname)
                    row[field.name] = (
                        bytes(value) if isinstance(value, memoryview) else value
                    )
            for field in model._meta.many_to_many:
                row[field.name] = sorted(
                    identity(t) for t in getattr(item, field.name).all()
                )
            rows.append(row)
        state[model._meta.label] = sorted(rows, key=repr)
    return state


def loaddata_snapshot(tmp_path: Path, using: str) -> dict[str, list]:
    """The rows ``loaddata`` gives for the good order, after a flush."""
    good = tmp_path / "good"
    good.mkdir()
    fixtures = write(good, list(FILES.items()))
    flush_database(using)
    call_command(
        "loaddata", *[str(f.path) for f in fixtures], database=using, verbosity=0
    )
    return snapshot(using)


@pytest.fixture(autouse=True)
def forget_content_types():
    """Flushes inside a test make content types that its rollback removes."""
    yield
    ContentType.objects.clear_cache()


def test_the_data_holds_every_kind_of_reference(tmp_path, db):
    """The expected rows name what they should: the comparisons below can fail."""
    expected = loaddata_snapshot(tmp_path, "default")
    books = {row["identity"]: row for row in expected["library.Book"]}
    assert books[B1]["publisher"] == ("Penguin",)
    assert books[B1]["authors"] == [("Ada", "Lovelace"), ("Grace", "Hopper")]
    assert books[B1]["sequel"] == B2 and books[B3]["tags"] == [("classic",)]
    (ada,) = [r for r in expected["library.Author"] if r["identity"][0] == "Ada"]
    assert ada["mentor"] == ("Grace", "Hopper")
    assert expected["library.EBook"][0]["book_ptr"] == B3
    assert expected["library.Review"][0]["reviewer"] == ("bob",)
    assert {r["content_type"] for r in expected["library.Note"]} == {
        ("library", "author"),
        ("library", "book"),
    }
    assert expected["auth.User"][0]["groups"] == [("editors",)]
    assert len(expected["auth.Group"][0]["permissions"]) == 2
    assert expected["library.ShelfEntry"][0]["shelf"] == "40"


MODES = {
    "fast": {},
    "exact": {"exact": True},
    "mixed": {"exact": ["library.book", "auth.user", "library.review"]},
    "fast, no signals": {"signals": False},
}


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.slow
def test_every_order_loads_the_same_rows(tmp_path, db_alias, mode):
    expected = loaddata_snapshot(tmp_path, db_alias)
    for number, (what, files) in enumerate(
        [("good order", list(FILES.items())), *bad_orders()]
    ):
        directory = tmp_path / str(number)
        directory.mkdir()
        load_fixtures(
            write(directory, files), using=db_alias, flush=True, **MODES[mode]
        )
        assert snapshot(db_alias) == expected, what


class Details(Reporter):
    def __init__(self):
        self.details: list[str] = []

    def detail(self, message: str) -> None:
        self.details.append(message)


@pytest.mark.django_db(databases=["default", "postgres"])
def test_a_foreign_key_that_may_not_be_null_names_a_later_data_file(tmp_path, db_alias):
    """loaddata cannot insert such an object; the load keeps it for the end."""
    files = [
        (n, FILES[n])
        for n in ("books.json", "publishers.json", "authors.json", "tags.json")
    ]
    fixtures = write(tmp_path, files)
    flush_database(db_alias)
    with pytest.raises(Exception, match="publisher"):
        call_command(
            "loaddata", *[str(f.path) for f in fixtures], database=db_alias, verbosity=0
        )
    reporter = Details()
    load_fixtures(fixtures, using=db_alias, flush=True, reporter=reporter)
    assert (
        "Inserting 3 objects whose foreign keys name objects loaded after them"
        in reporter.details
    )
    # Kept for the end, then inserted like any other object: in batches.
    assert "library.Book: batched inserts" in reporter.details
    publishers = dict(Book.objects.using(db_alias).values_list("pk", "publisher__name"))
    assert {str(pk): name for pk, name in publishers.items()} == {
        B1: "Penguin",
        B2: "Folio",
        B3: "Penguin",
    }


@pytest.mark.django_db(databases=["default", "postgres"])
def test_many_postponed_objects_stay_in_flat_memory(tmp_path, db_alias, monkeypatch):
    """Postponed objects pickled to disk, several batches of them: same rows."""
    from diskette.loading import sql

    monkeypatch.setattr(DeferredObjects, "IN_MEMORY", 2)
    monkeypatch.setattr(sql, "BATCH_SIZE", 4)
    publishers = [obj("library.publisher", n, name=f"P{n}") for n in range(1, 8)]
    books = [
        book(f"00000000-0000-4000-8000-0000000001{n:02d}", [f"P{n % 7 + 1}"], [], [])
        for n in range(25)
    ]
    fixtures = write(tmp_path, [("books.json", books), ("publishers.json", publishers)])
    load_fixtures(fixtures, using=db_alias)
    rows = Book.objects.using(db_alias).values_list("title", "publisher__name")
    assert sorted(rows) == sorted(
        (f"Book {n % 10}", f"P{n % 7 + 1}") for n in range(25)
    )


@pytest.mark.django_db(databases=["default", "postgres"])
def test_an_archive_with_its_data_files_in_reverse_order(tmp_path, db_alias):
    """The archive's own order, data file after data file, as a dump writes it."""
    expected = loaddata_snapshot(tmp_path, db_alias)
    data = {name: FILES[name][::-1] for name in reversed(FILES)}
    archive = make_archive(tmp_path / "site.tar.gz", data=data)
    result = api.load(archive, with_storages=False, using=db_alias, flush=True)
    assert result.objects == sum(len(objects) for objects in FILES.values())
    assert snapshot(db_alias) == expected


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("exact", [False, True])
def test_a_postponed_object_whose_target_never_comes_is_named(
    tmp_path, db_alias, exact
):
    files = [
        ("books.json", [book(B2, ["Nowhere"], [], [])]),
        *[(n, FILES[n]) for n in ("publishers.json",)],
    ]
    with pytest.raises(IntegrityLoadError) as caught:
        load_fixtures(write(tmp_path, files), using=db_alias, exact=exact)
    assert str(caught.value) == (
        f"data file 'books.json': library.Book(pk=UUID('{B2}')) refers to an object "
        "that no data file holds and the database lacks: library.Publisher with "
        "natural key ['Nowhere'] (its field 'publisher'); the database is unchanged "
        "(dump library.Publisher too: add its definition to DISKETTE_APPS, or "
        "remove the reference)"
    )
    assert not Publisher.objects.using(db_alias).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("exact", [False, True])
def test_receivers_see_a_postponed_object_once_and_complete(tmp_path, exact):
    from django.db.models.signals import post_save

    seen = []

    def record(sender, instance, raw, created, **kwargs):
        seen.append((str(instance.pk), instance.publisher_id, raw, created))

    files = [
        (n, FILES[n])
        for n in ("books.json", "publishers.json", "authors.json", "tags.json")
    ]
    post_save.connect(record, sender=Book)
    try:
        load_fixtures(write(tmp_path, files), exact=exact)
    finally:
        post_save.disconnect(record, sender=Book)
    assert sorted(seen) == [
        (B1, 7, True, True),
        (B2, 8, True, True),
        (B3, 7, True, True),
    ]
