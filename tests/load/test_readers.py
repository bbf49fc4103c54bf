"""The streaming fixture readers: bounded in time, memory and nesting."""

from __future__ import annotations

import io
import json
import time

import pytest
from django.core.serializers.base import DeserializationError

from diskette.json_readers import read_json_array, read_json_lines
from diskette.loading import fixtures
from diskette.readers import MAX_DEPTH, FixtureLimitError, read_objects

SPACE = 64 * 1024 * 1024


class CountingReads(io.BytesIO):
    """A stream that remembers how many bytes were read from it."""

    taken = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.taken += len(data)
        return data


def seconds(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def test_whitespace_between_objects_is_skipped_fast():
    """64 MiB of whitespace in under 2 s (100 MB/s is the promise; the measured
    rate is several times that); a per-character loop took about 17 s."""
    data = b"[" + b" \n" * (SPACE // 4) + b"{}," + b"\t\r" * (SPACE // 4) + b"{}]"
    took = seconds(lambda: list(read_json_array(io.BytesIO(data))))
    assert took < 2, f"{len(data) / took / 1e6:.0f} MB/s"


def test_blank_lines_are_skipped_fast():
    data = b"\n" * (SPACE // 2) + b"{}\n" + b"  \r\n" * (SPACE // 8)
    took = seconds(lambda: list(read_json_lines(io.BytesIO(data))))
    assert took < 2, f"{len(data) / took / 1e6:.0f} MB/s"


@pytest.mark.parametrize("read_size", [1, 7, 1024])
def test_an_item_is_refused_as_soon_as_it_passes_the_limit(read_size):
    """The buffer never grows much past the limit: the rest is never read."""
    stream = CountingReads(b'[{"a": "' + b"x" * 1_000_000 + b'"}]')
    with pytest.raises(FixtureLimitError, match=r"object 1 is larger than .* \(100 "):
        list(read_json_array(stream, read_size, max_object_size=100))
    assert stream.taken <= 100 + 1 + 2 * read_size + 16


@pytest.mark.parametrize("read_size", [1, 5, 1024])
def test_items_up_to_the_limit_are_read_whatever_the_reads(read_size):
    items = [{"a": "x" * 50}, 12345678, "é" * 40, [1, [2, [3]]]]
    data = json.dumps(items, ensure_ascii=False).encode()
    assert list(read_json_array(io.BytesIO(data), read_size, max_object_size=82)) == (
        items
    )


def test_the_limit_counts_utf8_bytes():
    text = json.dumps(["é" * 40], ensure_ascii=False).encode()
    item = text[1:-1]
    assert len(item) == 82  # 42 characters
    assert list(read_json_array(io.BytesIO(text), max_object_size=82)) == ["é" * 40]
    with pytest.raises(FixtureLimitError, match="82 bytes, larger than"):
        list(read_json_array(io.BytesIO(text), max_object_size=81))


def test_the_limit_defaults_to_the_setting(settings):
    settings.DISKETTE_LOAD_MAX_OBJECT_SIZE = 10
    with pytest.raises(FixtureLimitError, match=r"\(10 bytes\)"):
        list(read_json_array(io.BytesIO(b'[{"a": "0123456789"}]')))
    with pytest.raises(FixtureLimitError, match=r"line 2 is 19 bytes, larger"):
        list(read_json_lines(io.BytesIO(b'{}\n{"a": "0123456789"}\n')))


def test_invalid_json_early_in_a_long_item_is_reported_without_reading_on():
    stream = CountingReads(b'[{"a": nope, "b": "' + b"x" * 1_000_000 + b'"}]')
    with pytest.raises(DeserializationError, match="object 1: invalid JSON") as caught:
        list(read_json_array(stream, 64, max_object_size=10**9))
    assert not isinstance(caught.value, FixtureLimitError)
    assert stream.taken < 1000


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 300_000])
def test_nesting_beyond_the_limit_is_refused(depth):
    array = ("[" + nested(depth) + "]").encode()
    with pytest.raises(FixtureLimitError, match=f"more than {MAX_DEPTH} levels"):
        list(read_json_array(io.BytesIO(array)))
    with pytest.raises(FixtureLimitError, match="line 1 nests"):
        list(read_json_lines(io.BytesIO(nested(depth).encode())))


def test_nesting_at_the_limit_is_read():
    value = json.loads(nested(MAX_DEPTH))
    assert list(read_json_array(io.BytesIO(b"[" + nested(MAX_DEPTH).encode() + b"]")))
    assert list(read_json_lines(io.BytesIO(nested(MAX_DEPTH).encode()))) == [value]
    # Many brackets side by side are not depth.
    wide = json.dumps([[[]] * (10 * MAX_DEPTH)]).encode()
    assert len(list(read_json_array(io.BytesIO(wide)))) == 1


def test_json_lines_keep_their_numbers_across_blank_runs_and_reads():
    data = b'\n\n{"a": 1}\n   \n\n{"a": 2}\r\n\x0b\n{"a": \n'
    with pytest.raises(DeserializationError, match="line 8 is not valid JSON"):
        list(read_json_lines(io.BytesIO(data), 3))
    assert list(read_json_lines(io.BytesIO(data[:-8]), 2)) == [{"a": 1}, {"a": 2}]


def test_a_long_line_is_refused_before_it_is_read_whole():
    stream = CountingReads(b'{"a": "' + b"x" * 1_000_000 + b'"}\n')
    with pytest.raises(FixtureLimitError, match="line 1 is larger"):
        list(read_json_lines(stream, 16, max_object_size=100))
    assert stream.taken < 300


def test_a_line_at_the_limit_is_read_and_its_end_of_line_is_not_counted():
    line = b'{"a": "' + b"x" * 91 + b'"}'
    assert len(line) == 100
    assert list(read_json_lines(io.BytesIO(line + b"\n"), 7, max_object_size=100))
    assert list(read_json_lines(io.BytesIO(line), 7, max_object_size=100))
    with pytest.raises(FixtureLimitError):
        list(read_json_lines(io.BytesIO(line + b"\n"), 7, max_object_size=99))


def test_read_objects_passes_the_limit_and_fixtures_still_exports_the_readers():
    assert fixtures.read_json_array is read_json_array
    assert fixtures.read_json_lines is read_json_lines
    assert fixtures.read_objects is read_objects
    with pytest.raises(FixtureLimitError):
        list(read_objects(io.BytesIO(b'[{"a": 1234}]'), "json", max_object_size=5))
    assert read_objects(io.BytesIO(b""), "xml") is None


@pytest.mark.parametrize("read_size", range(1, 12))
def test_a_bare_number_cut_by_a_read_is_read_whole(read_size):
    """``-0.25e-3`` cut after ``-0.`` is not ``-0`` followed by junk."""
    items = [-0.25e-3, 123456, 1e100, 7]
    data = json.dumps(items, separators=(",", ":")).encode()
    assert list(read_json_array(io.BytesIO(data), read_size)) == items


def test_an_integer_too_long_for_python_is_one_deserialization_error():
    with pytest.raises(DeserializationError, match="object 1: invalid JSON"):
        list(read_json_array(io.BytesIO(b"[" + b"9" * 5000 + b"]")))
