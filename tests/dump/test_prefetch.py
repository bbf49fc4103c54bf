"""What the prefetchers guarantee: per-chunk queries, Django's values, bounded caches.

:mod:`diskette.dumping.prefetch` (instances) and :mod:`diskette.dumping.row_links`
(rows) fetch once per chunk what Django's serializer fetches once per object:
the number of queries must not grow with the chunk, the values must be those
of Django's related managers, and the natural key cache must stay in its bounds.
"""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connections
from django.test.utils import CaptureQueriesContext

from diskette.dumping import row_links
from diskette.dumping.chunks import ChunkRange
from diskette.dumping.prefetch import M2M_ATTRIBUTE, RelatedLoader
from diskette.dumping.row_links import KeyCache, ManyValues
from sandbox.library.models import Book


@pytest.fixture(autouse=True)
def fresh_content_types():
    """Content types cached in a rolled-back test would be stale in the next one."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


def _queries(function):
    with CaptureQueriesContext(connections["default"]) as captured:
        result = function()
    return result, [query["sql"] for query in captured.captured_queries]


def _books():
    return Book.objects.order_by("pk")


def _expected_m2m(books) -> dict:
    """What Django's related managers give, per book: authors and tags."""
    return {
        book.pk: {
            "authors": [author.pk for author in book.authors.all()],
            "tags": [tag.pk for tag in book.tags.all()],
        }
        for book in books
    }


@pytest.mark.parametrize("count", [1, 7, None])
def test_m2m_values_are_fetched_once_per_chunk(seeded, count):
    """Two queries per M2M field whatever the chunk's size, with Django's values."""
    books = list(_books()[:count] if count else _books())
    last = books[-1].pk
    source = _books().filter(pk__lte=last)
    loader = RelatedLoader.for_serializer(
        Book, "default", natural_foreign=False, natural_primary=False
    )
    _none, queries = _queries(lambda: loader.attach(books, source))
    # Through table, then targets (none without links): per field, not per book.
    assert len(queries) <= 2 * 2
    got = {
        book.pk: {
            name: [item.pk for item in values]
            for name, values in book.__dict__[M2M_ATTRIBUTE].items()
        }
        for book in books
    }
    assert got == _expected_m2m(_books().filter(pk__lte=last))
    assert any(values["authors"] for values in got.values()), "the seed has links"


def test_chunks_attach_per_primary_key_range(seeded):
    """Related data is fetched per chunk: queries follow the chunks, not the objects."""
    loader = RelatedLoader.for_serializer(
        Book, "default", natural_foreign=True, natural_primary=False
    )
    total = _books().count()
    chunks, queries = _queries(lambda: list(loader.chunks(_books(), 10)))
    assert [len(chunk) for chunk in chunks][:-1] == [10] * (len(chunks) - 1)
    assert sum(map(len, chunks)) == total
    per_chunk = len(queries) / len(chunks)
    assert per_chunk <= 8, "publisher + two M2M fields (+ nested keys), not per book"
    for chunk in chunks:
        for book in chunk:
            assert Book.publisher.is_cached(book)
            fetched = book.__dict__[M2M_ATTRIBUTE]
            assert [a.pk for a in fetched["authors"]] == [
                a.pk for a in book.authors.all()
            ]


def _whole_range() -> ChunkRange:
    books = list(_books().values_list("pk", flat=True))
    return ChunkRange(_books(), books[0], books[-1])


def test_row_m2m_values_come_in_django_order_and_keys_are_cached(seeded):
    """ManyValues: natural keys per source key; known keys, known order: no query."""
    field = Book._meta.get_field("authors")
    caches: dict = {}
    many = ManyValues(field, "default", True, caches)
    chunk = _whole_range()
    first, queries = _queries(lambda: many.get(chunk))
    again, positions = _queries(lambda: many.get(chunk))
    cached, after = _queries(lambda: many.get(chunk))
    expected = _authors_keys()
    assert first == again == cached == expected
    assert len(queries) == 3  # pairs, ordered targets, their natural keys
    assert len(positions) == 2, "pairs, then the order of the whole table, once"
    assert len(after) == 1, "order and natural keys known: the pairs only"
    (cache,) = (value for value in caches.values() if isinstance(value, KeyCache))
    assert len(cache) == len({key for keys in expected.values() for key in keys})


def _authors_keys() -> dict:
    """Django's natural keys of each book's authors, in the manager's order."""
    return {
        book.pk: [author.natural_key() for author in book.authors.all()]
        for book in _books()
        if book.authors.exists()
    }


def test_key_cache_stays_within_its_size(seeded, monkeypatch):
    """More related objects than the cache holds: right keys, bounded memory."""
    monkeypatch.setattr(row_links, "KEY_CACHE_SIZE", 2)
    caches: dict = {}
    many = ManyValues(Book._meta.get_field("authors"), "default", True, caches)
    expected = _authors_keys()
    assert len({key for keys in expected.values() for key in keys}) > 2
    assert many.get(_whole_range()) == expected
    (cache,) = (value for value in caches.values() if isinstance(value, KeyCache))
    assert len(cache) == 2


def test_key_cache_drops_the_least_recently_used():
    cache = KeyCache(2)
    assert KeyCache().size == row_links.KEY_CACHE_SIZE
    cache.add("a", 1)
    cache.add("b", 2)
    cache.add("a", 10)  # known: replaced, made recent, not grown
    assert len(cache) == 2
    cache.add("c", 3)  # "b" is the least recently used
    assert cache.lookup(["a", "b", "c"]) == ({"a": 10, "c": 3}, ["b"])


def test_missing_keys_are_fetched_by_value_in_batches(seeded, monkeypatch):
    """Only the keys the cache misses are fetched, KEY_LIST_LIMIT at most a query."""
    field = Book._meta.get_field("authors")
    wanted = len({key for keys in _authors_keys().values() for key in keys})
    for limit, batches in [(wanted, 1), (wanted - 1, 2)]:
        monkeypatch.setattr(row_links, "KEY_LIST_LIMIT", limit)
        many = ManyValues(field, "default", True, {})
        chunk = _whole_range()
        got, queries = _queries(lambda m=many, c=chunk: m.get(c))
        assert got == _authors_keys()
        assert len(queries) == 2 + batches
        for query in queries[2:]:
            assert "IN (SELECT" not in query.upper(), query
