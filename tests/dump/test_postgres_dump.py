"""The dump stays linear: index-friendly queries per chunk, nothing fetched twice.

On each database (SQLite, then PostgreSQL when present): a through table's rows
are selected by a range on its own column, and only those of the chunk's
objects when the dumped manager filters its rows; a related row's natural key
is fetched once per dump while the key cache holds it, and again past the
cache's budget, with the same bytes; the order of M2M values is read once, with
the related manager's filters, and per chunk past its budget. The fixtures are
those of ``dumpdata`` throughout.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connections, models
from django.test.utils import CaptureQueriesContext

from diskette.definitions import Definition
from diskette.dumping import row_links, target_order
from diskette.dumping.chunks import ChunkRange
from diskette.dumping.dumper import read_transaction, write_fixture
from diskette.dumping.reading import dump_queryset
from diskette.dumping.row_links import KeyCache, ManyValues
from sandbox.library.models import Author, Book
from sandbox.library.seeding import seed_database

#: What each test dumps: books and what their natural keys point to.
MODELS = ("library.Publisher", "library.Author", "library.Tag", "library.Book")
#: Small enough that a book's authors and tags recur across chunks.
CHUNK = 5
#: Rows seeded: some 40 books, 8 chunks.
SEED = 200


@pytest.fixture(autouse=True)
def fresh_content_types():
    """Content types cached in a rolled-back test would be stale in the next one."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr("diskette.dumping.dumper.CHUNK_SIZE", CHUNK)


def _definition(fmt: str = "json") -> Definition:
    return Definition(
        name="books",
        models=MODELS,
        filename=f"books.{fmt}",
        format=fmt,
        natural_foreign=True,
    )


def _dump(tmp_path, using: str, fmt: str = "json", name: str = "ours") -> tuple:
    """``(fixture bytes, SQL of every query)`` of the dump of :func:`_definition`."""
    path = tmp_path / f"{name}.{fmt}"
    with (
        CaptureQueriesContext(connections[using]) as captured,
        read_transaction(using),
    ):
        write_fixture(_definition(fmt), path, using=using)
    return path.read_bytes(), [query["sql"] for query in captured.captured_queries]


def _dumpdata(tmp_path, using: str, fmt: str = "json") -> bytes:
    output = tmp_path / f"dumpdata.{fmt}"
    call_command(
        "dumpdata",
        *MODELS,
        "--natural-foreign",
        f"--format={fmt}",
        f"--database={using}",
        f"--output={output}",
        verbosity=0,
    )
    return output.read_bytes()


def _hide(monkeypatch, model, manager_class) -> None:
    """Make an instance of ``manager_class`` the default manager of ``model``.

    As if the model declared it: the M2M managers pointing to the model, which
    Django builds once from the default manager's class, are built again.
    """
    descriptors = [
        getattr(relation.related_model, relation.field.name)
        for relation in model._meta.related_objects
        if relation.many_to_many
    ]
    for descriptor in descriptors:
        # Built now with the real manager, so that the teardown puts it back:
        # a class cached during the test would keep the hidden manager for
        # every later test of the process.
        assert descriptor.related_manager_cls is not None
    manager = manager_class()
    manager.model = model
    manager.name = "visible"
    monkeypatch.setattr(model._meta, "default_manager", manager)
    for descriptor in descriptors:
        monkeypatch.delitem(descriptor.__dict__, "related_manager_cls")


class _SomeBooks(models.Manager):
    """Books whose title sorts before "M": about half of them, spread over the keys."""

    def get_queryset(self):
        return super().get_queryset().filter(title__lt="M")


class _SomeAuthorsBackwards(models.Manager):
    """Authors without the first few, newest first: another filter and order."""

    def get_queryset(self):
        return super().get_queryset().filter(pk__gt=3).order_by("-pk")


def _ids_fetched(queries: list[str], table: str) -> list[int]:
    """The keys that natural key queries asked of ``table``, one entry per time asked.

    As a list (``IN (1, 2)``) or, on PostgreSQL, an array (``= ANY('{1,2}'...)``).
    """
    pattern = re.compile(
        rf'FROM "{table}" WHERE "{table}"\."id" '
        r"(?:IN \(([0-9, ]+)\)|= ANY\('\{([0-9,]+)\}'[^)]*\))$"
    )
    ids = []
    for sql in queries:
        found = pattern.search(sql)
        if found and re.match(rf'SELECT "{table}"\."id"(?: AS "id")?, ', sql):
            listed = found.group(1) or found.group(2)
            ids.extend(int(value) for value in listed.split(","))
    return ids


# ---- through rows: a range on their own column, the chunk's objects only ----------


@pytest.mark.django_db(databases=["default", "postgres"])
def test_a_filtered_source_keeps_only_its_through_rows(db_alias, monkeypatch):
    """The range holds hidden books too: the subquery keeps them out."""
    seed_database(SEED, using=db_alias)
    _hide(monkeypatch, Book, _SomeBooks)
    definition = _definition()
    queryset = dump_queryset(definition, Book, db_alias)
    visible = list(queryset.values_list("pk", flat=True))
    everything = list(Book._base_manager.using(db_alias).order_by("pk"))
    hidden = [book for book in everything if book.pk not in set(visible)]
    inside = [book for book in hidden if visible[0] < book.pk < visible[-1]]
    assert [book for book in inside if book.authors.exists()], "hidden books in range"
    chunk = ChunkRange(queryset, visible[0], visible[-1])
    many = ManyValues(Book._meta.get_field("authors"), db_alias, False, {})
    with CaptureQueriesContext(connections[db_alias]) as captured:
        got = many.get(chunk)
    expected = {
        book.pk: [author.pk for author in book.authors.all()]
        for book in queryset
        if book.authors.exists()
    }
    assert got == expected
    through = captured.captured_queries[0]["sql"]
    assert '"library_book_authors"."book_id" >= ' in through, through
    assert "IN (SELECT" in through, "the filter of the source is applied"


@pytest.mark.django_db(databases=["default", "postgres"])
def test_a_whole_table_source_needs_no_subquery(db_alias):
    seed_database(SEED, using=db_alias)
    queryset = dump_queryset(_definition(), Book, db_alias)
    keys = list(queryset.values_list("pk", flat=True))
    chunk = ChunkRange(queryset, keys[3], keys[12])
    many = ManyValues(Book._meta.get_field("tags"), db_alias, False, {})
    with CaptureQueriesContext(connections[db_alias]) as captured:
        got = many.get(chunk)
    assert got == {
        book.pk: [tag.pk for tag in book.tags.all()]
        for book in queryset.filter(pk__gte=keys[3], pk__lte=keys[12])
        if book.tags.exists()
    }
    through = captured.captured_queries[0]["sql"]
    assert '"library_book_tags"."book_id" <= ' in through, through
    assert "IN (SELECT" not in through, through


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.slow
def test_a_filtered_source_dumps_as_dumpdata(
    tmp_path, db_alias, monkeypatch, small_chunks, fmt
):
    seed_database(SEED, using=db_alias)
    _hide(monkeypatch, Book, _SomeBooks)
    ours, _queries = _dump(tmp_path, db_alias, fmt)
    assert ours == _dumpdata(tmp_path, db_alias, fmt)
    label = b'model="library.book"' if fmt == "xml" else b'"model": "library.book"'
    assert 0 < ours.count(label) < Book._base_manager.using(db_alias).count()


# ---- natural keys: once per related row, within the budget ------------------------


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.slow
def test_each_related_row_is_fetched_once(tmp_path, db_alias, small_chunks):
    seed_database(SEED, using=db_alias)
    ours, queries = _dump(tmp_path, db_alias)
    assert ours == _dumpdata(tmp_path, db_alias)
    referenced = set(
        Book.authors.through.objects.using(db_alias).values_list("author_id", flat=True)
    )
    referenced |= set(
        Author.objects.using(db_alias)
        .exclude(mentor=None)
        .values_list("mentor_id", flat=True)
    )
    fetched = _ids_fetched(queries, "library_author")
    assert sorted(fetched) == sorted(referenced), "each author once"
    books = Book.objects.using(db_alias).count()
    assert books > 3 * CHUNK, "the keys recur across chunks"


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.slow
def test_past_its_budget_the_cache_fetches_again_with_the_same_bytes(
    tmp_path, db_alias, small_chunks, monkeypatch
):
    seed_database(SEED, using=db_alias)
    expected, _queries = _dump(tmp_path, db_alias, name="roomy")
    sizes: list[int] = []
    add = KeyCache.add

    def recording_add(cache, key, value):
        add(cache, key, value)
        sizes.append(len(cache))

    monkeypatch.setattr(KeyCache, "add", recording_add)
    monkeypatch.setattr(row_links, "KEY_CACHE_SIZE", 3)
    ours, queries = _dump(tmp_path, db_alias, name="tight")
    assert ours == expected
    assert max(sizes) == 3
    fetched = _ids_fetched(queries, "library_author")
    assert len(fetched) > len(set(fetched)), "dropped keys were fetched again"


# ---- the order of M2M values: read once, the manager's filters kept ---------------


#: A query of the authors' keys alone (Django 5 names the column, 4.2 does not).
_AUTHOR_KEYS = re.compile(r'SELECT "library_author"\."id"(?: AS "id")? FROM ')


def _ordered_per_chunk(queries: list[str]) -> int:
    """How many queries ordered the authors of a chunk (by subquery)."""
    return sum(1 for sql in queries if _AUTHOR_KEYS.match(sql) and "IN (SELECT" in sql)


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.slow
def test_the_order_of_m2m_values_is_read_once(
    tmp_path, db_alias, small_chunks, monkeypatch
):
    seed_database(SEED, using=db_alias)
    ours, queries = _dump(tmp_path, db_alias)
    assert ours == _dumpdata(tmp_path, db_alias)
    assert _ordered_per_chunk(queries) == 1, "the first chunk only"
    whole = [sql for sql in queries if _AUTHOR_KEYS.match(sql) and " LIMIT " in sql]
    assert len(whole) == 1, queries
    assert '"library_author"."last_name" ASC' in whole[0], "the model's ordering"
    monkeypatch.setattr(target_order, "ORDER_CACHE_SIZE", 3)
    tight, queries = _dump(tmp_path, db_alias, name="tight")
    assert tight == ours
    keys = list(Book.objects.using(db_alias).order_by("pk"))
    linked = sum(
        1
        for start in range(0, len(keys), CHUNK)
        if any(book.authors.exists() for book in keys[start : start + CHUNK])
    )
    assert linked > 2
    assert _ordered_per_chunk(queries) == linked, "past the budget: per chunk"


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("budget", [target_order.ORDER_CACHE_SIZE, 3])
@pytest.mark.slow
def test_the_related_managers_filter_and_order_are_kept(
    tmp_path, db_alias, small_chunks, monkeypatch, budget
):
    seed_database(SEED, using=db_alias)
    _hide(monkeypatch, Author, _SomeAuthorsBackwards)
    monkeypatch.setattr(target_order, "ORDER_CACHE_SIZE", budget)
    ours, _queries = _dump(tmp_path, db_alias)
    assert ours == _dumpdata(tmp_path, db_alias)


# ---- encoding in batches ----------------------------------------------------------


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.slow
def test_objects_encoded_in_batches_write_dumpdata_bytes(
    tmp_path, db_alias, monkeypatch
):
    seed_database(SEED, using=db_alias)
    expected = _dumpdata(tmp_path, db_alias)
    for batch in (1, 7, 10_000):
        monkeypatch.setattr("diskette.dumping.serializer.ENCODE_BATCH", batch)
        ours, _queries = _dump(tmp_path, db_alias, name=f"batch-{batch}")
        assert ours == expected, batch
