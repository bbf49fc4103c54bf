"""Streaming fixture readers and the natural key cache."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.contrib.auth.models import User
from django.core.serializers.base import DeserializationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from diskette.loading.fixtures import (
    NaturalKeyCache,
    _Spill,
    deserialize,
    read_json_array,
    read_json_lines,
)
from sandbox.library.models import Author, Publisher

OBJECTS = [
    {"model": "library.publisher", "pk": 1, "fields": {"name": "Éditions ✓ [1]"}},
    {"model": "library.publisher", "pk": 2, "fields": {"name": 'quote " , ] }'}},
    {"model": "library.tag", "pk": 3, "fields": {"slug": "x", "label": "a" * 300}},
    {"model": "library.note", "pk": 4, "fields": {"n": 12345678901234567890}},
]


@pytest.mark.parametrize("read_size", [1, 2, 7, 64, 1 << 20])
@pytest.mark.parametrize("indent", [None, 2])
def test_json_array_is_read_item_by_item(read_size, indent):
    """Items that span reads, multi-byte characters cut between reads, a long
    number at a read boundary: the same items as json.load."""
    data = json.dumps(OBJECTS, indent=indent, ensure_ascii=False).encode()
    items = list(read_json_array(io.BytesIO(data), read_size=read_size))
    assert items == OBJECTS


def test_json_array_reads_lazily():
    """The first item comes before the rest of the file is read."""
    data = json.dumps(OBJECTS).encode()
    stream = io.BytesIO(data)
    items = read_json_array(stream, read_size=16)
    assert next(items) == OBJECTS[0]
    assert stream.tell() < len(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a JSON array"),
        ('{"model": "x"}', "not a JSON array"),
        ('[{"a": 1}', "truncated"),
        ('[{"a": 1},', "truncated"),
        ('[{"a": 1} {"b": 2}]', "expected ','"),
        ('[{"a": 1]', "invalid JSON"),
        ('[{"a": 1}] x', "extra data"),
        ("[{'a': 1}]", "invalid JSON"),
    ],
)
def test_malformed_json_is_a_deserialization_error(text, message):
    with pytest.raises(DeserializationError, match=message):
        list(read_json_array(io.BytesIO(text.encode()), read_size=3))


def test_not_utf8_is_a_deserialization_error():
    with pytest.raises(DeserializationError, match="UTF-8"):
        list(read_json_array(io.BytesIO(b'[{"a": "\xff"}]')))


def test_empty_array():
    assert list(read_json_array(io.BytesIO(b" [ ] \n"))) == []


def test_json_lines_skip_blank_lines():
    data = "\n".join(json.dumps(o) for o in OBJECTS[:2]) + "\n\n  \n"
    assert list(read_json_lines(io.BytesIO(data.encode()))) == OBJECTS[:2]
    with pytest.raises(DeserializationError, match="line 2"):
        list(read_json_lines(io.BytesIO(b'{"a": 1}\n{"a": \n')))


def _reviews(count: int) -> bytes:
    return json.dumps(
        [
            {
                "model": "library.author",
                "pk": 100 + n,
                "fields": {
                    "first_name": f"A{n}",
                    "last_name": "Pupil",
                    "mentor": ["Mentor", "One"] if n % 2 else ["Mentor", "Two"],
                    "bio": "",
                },
            }
            for n in range(count)
        ]
    ).encode()


@pytest.mark.django_db
def test_cache_looks_each_natural_key_up_once():
    Author.objects.create(pk=1, first_name="Mentor", last_name="One")
    Author.objects.create(pk=2, first_name="Mentor", last_name="Two")
    cache = NaturalKeyCache("default")
    with CaptureQueriesContext(connection) as queries:
        items = list(
            deserialize(io.BytesIO(_reviews(20)), "json", using="default", cache=cache)
        )
    assert [item.object.mentor_id for item in items] == [2, 1] * 10
    assert len(queries) == 2
    assert (cache.misses, cache.hits) == (2, 18)


def _in_format(fmt: str, count: int) -> bytes:
    """``_reviews(count)`` as Django's serializer writes it in ``fmt``."""
    from django.core import serializers

    objects = [item.object for item in serializers.deserialize("json", _reviews(count))]
    return serializers.serialize(fmt, objects, use_natural_foreign_keys=True).encode()


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["xml", "yaml"])
def test_xml_and_yaml_natural_keys_go_through_the_cache(fmt):
    """One query per distinct key, and a key missing now is deferred (a forward
    reference), as for json."""
    Author.objects.create(pk=1, first_name="Mentor", last_name="One")
    Author.objects.create(pk=2, first_name="Mentor", last_name="Two")
    data = _in_format(fmt, 20)
    Author.objects.filter(pk=1).delete()
    cache = NaturalKeyCache("default")
    with CaptureQueriesContext(connection) as queries:
        items = list(deserialize(io.BytesIO(data), fmt, using="default", cache=cache))
    assert [item.object.mentor_id for item in items] == [2, None] * 10
    assert [len(item.deferred_fields) for item in items] == [0, 1] * 10
    assert len(queries) == 1 + 10  # a key found is asked once, a missing one each time
    assert cache.hits == 9


@pytest.mark.django_db
def test_a_natural_primary_key_finds_rows_waiting_in_a_batch():
    """build_instance looks an object without a primary key up by its natural
    key: the rows a saver holds back are written first."""
    Author.objects.create(pk=7, first_name="Mentor", last_name="One")
    flushed = []
    cache = NaturalKeyCache("default")
    cache.before_lookup = flushed.append
    raw = [
        {
            "model": "library.author",
            "fields": {"first_name": "Mentor", "last_name": "One", "bio": "x"},
        }
    ]
    (item,) = deserialize(
        io.BytesIO(json.dumps(raw).encode()), "json", using="default", cache=cache
    )
    assert flushed == [Author] and item.object.pk == 7


@pytest.mark.django_db
def test_without_a_cache_django_deserializes():
    """The exact path: Django's own deserializer, one lookup per value."""
    Author.objects.create(pk=1, first_name="Mentor", last_name="One")
    Author.objects.create(pk=2, first_name="Mentor", last_name="Two")
    with CaptureQueriesContext(connection) as queries:
        items = list(deserialize(io.BytesIO(_reviews(6)), "json", using="default"))
    assert [item.object.mentor_id for item in items] == [2, 1] * 3
    assert len(queries) == 6


@pytest.mark.django_db
def test_remembered_keys_are_checked_then_trusted():
    """Keys of objects the load wrote are answered without a query once the
    first answers for the model matched real lookups."""
    cache = NaturalKeyCache("default")
    users = [User.objects.create(username=f"u{n}") for n in range(6)]
    for user in users:
        cache.remember(user)
    with CaptureQueriesContext(connection) as queries:
        found = [cache.get(User, [user.username], None) for user in users]
    assert found == [user.pk for user in users]
    assert len(queries) == NaturalKeyCache.CHECKS


@pytest.mark.django_db
def test_a_wrong_remembered_key_is_never_trusted():
    """An answer that differs from get_by_natural_key: the model is looked up
    for real from then on."""
    cache = NaturalKeyCache("default")
    real = Publisher.objects.create(name="Real")
    stale = Publisher(pk=999, name="Real")  # its row is not in the table
    cache.remember(stale)
    assert cache.get(Publisher, ["Real"], None) == real.pk
    assert not cache.rememberable(Publisher)
    cache.remember(Publisher(pk=998, name="Other"))
    with pytest.raises(Publisher.DoesNotExist):
        cache.get(Publisher, ["Other"], None)


@pytest.mark.django_db
def test_cache_is_bounded():
    cache = NaturalKeyCache("default", size=3)
    users = [User.objects.create(username=f"v{n}") for n in range(5)]
    for user in users:
        cache.get(User, [user.username], None)
    assert len(cache.values) == 3


@pytest.mark.django_db
def test_remembered_keys_pushed_out_of_memory_are_still_known():
    """Beyond the cache size, remembered keys go to a temporary file: still
    answered without a query, renames still noticed."""
    cache = NaturalKeyCache("default", size=2)
    users = [User.objects.create(username=f"w{n}") for n in range(8)]
    for user in users:
        cache.remember(user)
    assert len(cache.values) == 2
    with CaptureQueriesContext(connection) as queries:
        found = [cache.get(User, [user.username], None) for user in users]
    assert found == [user.pk for user in users]
    assert len(queries) == NaturalKeyCache.CHECKS
    cache.remember(User(pk=users[0].pk, username="renamed"))
    assert not cache.rememberable(User)
    cache.clear()


@pytest.mark.parametrize(
    ("key", "pk"),
    [
        (("Ada", "Lovelace"), 7),
        (("a\x00b",), "a\x00b"),
        (("a", "\x00b"), 2**70),
        ((), -3),
        (("",), uuid.UUID(int=5)),
        ((1, "x"), b"raw"),
        (("1",), "1"),
    ],
)
def test_spilled_keys_and_primary_keys_come_back_as_they_were(key, pk):
    """Keys and primary keys of every shape come back equal and of the same
    type; look-alikes (a key of an int and of its text) stay apart."""
    spill = _Spill()
    try:
        spill.put("library.author", key, pk)
        spill.put("library.author", (1,), 1)
        spill.put("library.tag", key, "other model")
        assert spill.pk("library.author", key) == pk
        assert type(spill.pk("library.author", key)) is type(pk)
        assert spill.key("library.author", pk) == key
        assert spill.pk("library.author", (1,)) == 1
        assert spill.pk("library.author", ("1", "")) is None
        spill.forget("library.author")
        assert spill.pk("library.author", key) is None
        assert spill.pk("library.tag", key) == "other model"
    finally:
        spill.close()


@pytest.mark.django_db
def test_a_row_renamed_below_the_highest_key_is_noticed_once_spilled():
    """Keys remembered in descending primary key order, pushed out of memory:
    a rename of any of them is still noticed."""
    cache = NaturalKeyCache("default", size=1)
    users = [User.objects.create(username=f"d{n}") for n in range(4)]
    for user in reversed(users):
        cache.remember(user)
    assert cache.rememberable(User)
    cache.remember(User(pk=users[2].pk, username="renamed"))
    assert not cache.rememberable(User)
    cache.clear()
