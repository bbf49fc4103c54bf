"""Every fixture format loads on the fast path as ``loaddata`` loads it.

The same objects (natural foreign keys, natural primary keys, many-to-many lists
of natural keys, forward references within and across data files) are written by
Django's serializer in each format; the fast path, the exact path and
``loaddata`` must give the same rows, and data in dependency order must need no
forward reference on the fast path (its natural keys found in rows the load has
written, batched or not).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.management import call_command

from diskette.loading.loader import Fixture, flush_database, load_fixtures
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
from tests.load.test_load_order import FILES, Details, snapshot, write
from tests.load.test_loader import database_state

FORMATS = ("json", "jsonl", "xml", "yaml")
#: Data files → models, in an order loaddata loads with forward references:
#: books name authors of the second file, Ada's mentor comes after her, the
#: user's group after the user.
FORWARD = {
    "first": (Publisher, Tag, User, Group, Book, EBook),
    "second": (Author, Review, Note, Shelf, ShelfEntry),
}
#: Everything after what it names.
IN_ORDER = {
    "first": (Publisher, Tag, Group, User),
    "second": (Author, Book, EBook, Review, Note, Shelf, ShelfEntry),
}


@pytest.fixture(autouse=True)
def forget_content_types():
    yield
    ContentType.objects.clear_cache()


def objects_of(model, using: str, *, forward: bool) -> list:
    """``model``'s rows, Ada before her mentor when ``forward``, after otherwise;
    book 1 before its sequel (a primary key: never deferred)."""
    rows = list(model._base_manager.using(using).all())
    if model is Author:
        rows.sort(key=lambda a: (a.first_name == "Ada") != forward)
    if model is Book:
        rows.sort(key=lambda b: str(b.pk))
    return rows


def write_format(
    tmp_path: Path,
    using: str,
    format: str,  # noqa: A002
    files: dict[str, tuple],
    *,
    natural_primary: bool,
) -> list[Fixture]:
    """The hand-made objects, loaded by loaddata, then written by Django's
    serializer in ``format``, one data file per entry of ``files``."""
    write(tmp_path, [("seed.json", [o for objects in FILES.values() for o in objects])])
    flush_database(using)
    call_command("loaddata", str(tmp_path / "seed.json"), database=using, verbosity=0)
    fixtures = []
    for name, models in files.items():
        objects = [
            item
            for model in models
            for item in objects_of(model, using, forward=files is FORWARD)
        ]
        path = tmp_path / f"{name}.{format}"
        with open(path, "w", encoding="utf-8") as stream:
            serializers.serialize(
                format,
                objects,
                stream=stream,
                use_natural_foreign_keys=True,
                use_natural_primary_keys=natural_primary,
            )
        fixtures.append(Fixture(name=path.name, path=path, format=format))
    return fixtures


def loaddata(fixtures: list[Fixture], using: str) -> tuple[dict, dict]:
    flush_database(using)
    call_command(
        "loaddata", *[str(f.path) for f in fixtures], database=using, verbosity=0
    )
    return snapshot(using), database_state(using)


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("natural_primary", [False, True], ids=["pk", "natural-pk"])
@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.slow
def test_each_format_loads_the_rows_loaddata_loads(
    tmp_path,
    db_alias,
    format,  # noqa: A002
    natural_primary,
):
    fixtures = write_format(
        tmp_path, db_alias, format, FORWARD, natural_primary=natural_primary
    )
    expected = loaddata(fixtures, db_alias)
    books = {row["identity"]: row for row in expected[0]["library.Book"]}
    assert len(books) == 3 and all(row["publisher"] for row in books.values())
    assert sum(len(row["authors"]) for row in books.values()) == 3
    for options in ({}, {"exact": True}, {"exact": ["library.author"]}):
        load_fixtures(fixtures, using=db_alias, flush=True, **options)
        assert (snapshot(db_alias), database_state(db_alias)) == expected, options


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("natural_primary", [False, True], ids=["pk", "natural-pk"])
@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.slow
def test_natural_keys_of_rows_loaded_before_need_no_forward_reference(
    tmp_path,
    db_alias,
    format,  # noqa: A002
    natural_primary,
):
    """What a natural key names comes first: found at once, batched or not."""
    fixtures = write_format(
        tmp_path, db_alias, format, IN_ORDER, natural_primary=natural_primary
    )
    expected = loaddata(fixtures, db_alias)
    reporter = Details()
    load_fixtures(fixtures, using=db_alias, flush=True, reporter=reporter)
    assert (snapshot(db_alias), database_state(db_alias)) == expected
    assert not [
        line for line in reporter.details if "forward" in line or "after them" in line
    ]
    assert "library.Book: batched inserts" in reporter.details
