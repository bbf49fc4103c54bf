"""Fixture files → raw objects, streamed, with bounded memory and time.

The one reader of each format that loading, counting, planning and inspecting
use. ``json`` arrays are decoded one object at a time from a buffer refilled from
the file, ``jsonl`` line by line; to load, ``xml`` and ``yaml`` go to Django's
deserializers behind a stream that counts what one object costs; to count,
``xml`` is parsed as events (:func:`read_raw_objects`). A fixture is untrusted input:
whitespace is skipped by compiled code, an object larger than
``DISKETTE_LOAD_MAX_OBJECT_SIZE`` is refused before the buffer grows past it, and
an object nested deeper than :data:`MAX_DEPTH` is refused before anything uses it.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from django.core import serializers
from django.core.serializers import base

from diskette.exceptions import DisketteError
from diskette.fixture_limits import (  # noqa: F401 - importable from here
    MAX_DEPTH,
    FixtureLimitError,
    _check_depth,
    _max_object_size,
    _too_deep,
    _too_large,
)

#: The serialization formats a fixture may have.
FORMATS = ("json", "jsonl", "xml", "yaml")
#: Formats whose raw objects stream to the loader (:func:`read_objects`): every
#: object a file holds is counted as it is loaded.
STREAMED = ("json", "jsonl")
#: Characters decoded per read; the buffer holds this plus one object at most.
READ_SIZE = 1024 * 1024
#: Bytes Django's xml reader may read ahead of the object it builds.
_READ_AHEAD = 64 * 1024
#: A JSON error this close to the end of the buffer may just be the object going
#: on in the next read (``tru``, ``"\u00``); farther back it is a real one.
_ERROR_SLACK = 16
_SPACE = re.compile(r"[ \t\n\r]*")
#: What may still follow a number cut at the end of a read (``1.``, ``2e-``).
_NUMBER = re.compile(r"[0-9.eE+-]*")
_BLANK = re.compile(rb"[ \t\n\r]*")


def read_json_array(
    stream: BinaryIO,
    read_size: int = READ_SIZE,
    *,
    max_object_size: int | None = None,
) -> Iterator[Any]:
    """Yield the items of a top-level JSON array one by one.

    Memory holds one read plus the item being decoded, whose text may not pass
    ``max_object_size`` (``DISKETTE_LOAD_MAX_OBJECT_SIZE`` by default). Raises
    :class:`~django.core.serializers.base.DeserializationError` on anything that
    is not a well-formed JSON array, :class:`FixtureLimitError` beyond a bound.
    """
    return _JsonArray(stream, read_size, _max_object_size(max_object_size)).items()


class _JsonArray:
    """The state of one :func:`read_json_array`: a text buffer and a position."""

    def __init__(self, stream: BinaryIO, read_size: int, limit: int):
        self.stream = stream
        self.read_size = read_size
        self.limit = limit
        self.decoder = json.JSONDecoder()
        self.reader = codecs.getincrementaldecoder("utf-8")()
        self.buffer = ""
        self.position = 0
        self.at_end = False

    def fill(self, more: int) -> None:
        """Drop what was consumed and append up to ``more`` bytes of text."""
        if self.at_end:
            return
        chunk = self.stream.read(more)
        try:
            text = self.reader.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            raise base.DeserializationError(f"not UTF-8 text: {error}") from error
        self.buffer = self.buffer[self.position :] + text
        self.position = 0
        self.at_end = not chunk

    def skip_space(self) -> str:
        """Move past whitespace; return the next character ('' at the end)."""
        while True:
            self.position = _SPACE.match(self.buffer, self.position).end()
            if self.position < len(self.buffer):
                return self.buffer[self.position]
            if self.at_end:
                return ""
            self.fill(self.read_size)

    def items(self) -> Iterator[Any]:
        if self.skip_space() != "[":
            raise base.DeserializationError("the file is not a JSON array of objects")
        self.position += 1
        number = 0
        while True:
            char = self.skip_space()
            if char == "]":
                self.position += 1
                break
            if number:
                if char != ",":
                    raise base.DeserializationError(
                        f"expected ',' or ']' between objects, found {char!r}"
                        if char
                        else "the JSON array is truncated"
                    )
                self.position += 1
                char = self.skip_space()
            if not char:
                raise base.DeserializationError("the JSON array is truncated")
            number += 1
            yield self.item(f"object {number}")
        if self.skip_space():
            raise base.DeserializationError("extra data after the JSON array")

    def item(self, what: str) -> Any:
        """Decode the item at the position, reading more while it goes on."""
        want = self.read_size
        limit = self.limit
        while True:
            buffer, start = self.buffer, self.position
            try:
                item, end = self.decoder.raw_decode(buffer, start)
            except RecursionError:
                raise _too_deep(what) from None
            except json.JSONDecodeError as error:
                if self.at_end or (
                    error.pos < len(buffer) - _ERROR_SLACK
                    and not error.msg.startswith("Unterminated string")
                ):
                    raise base.DeserializationError(
                        f"{what}: invalid JSON: {error}"
                    ) from error
                end = None
            except ValueError as error:  # an integer of more than 4300 digits
                raise base.DeserializationError(
                    f"{what}: invalid JSON: {error}"
                ) from error
            if end is None or (
                not self.at_end
                and (
                    end == len(buffer)
                    or (
                        type(item) in (int, float)
                        and _NUMBER.match(buffer, end).end() == len(buffer)
                    )
                )
            ):
                # The item may go on in the next read (a bare number, too):
                # read more each time, so that a long item costs linear time,
                # but never past the limit.
                pending = len(buffer) - start
                if pending > limit:
                    raise _too_large(what, limit)
                want = min(max(want, pending), limit + 1 - pending + self.read_size)
                self.fill(want)
                continue
            break
        size = end - start
        if not buffer.isascii() and 4 * size > limit:
            size = len(buffer[start:end].encode("utf-8"))  # bytes, not characters
        if size > limit:
            raise _too_large(what, limit, size)
        _check_depth(item, buffer, start, end, what)
        self.position = end
        return item


def read_json_lines(
    stream: BinaryIO,
    read_size: int = READ_SIZE,
    *,
    max_object_size: int | None = None,
) -> Iterator[Any]:
    """Yield one decoded object per non-blank line, as Django's jsonl reader.

    Runs of blank lines are skipped by compiled code; a line longer than
    ``max_object_size`` (``DISKETTE_LOAD_MAX_OBJECT_SIZE`` by default) is refused
    before it is read whole.
    """
    limit = _max_object_size(max_object_size)
    buffer = b""
    position = 0
    number = 1  # the line at ``position``
    at_end = False
    while True:
        blank = _BLANK.match(buffer, position).end()
        number += buffer.count(b"\n", position, blank)
        position = blank
        newline = buffer.find(b"\n", position)
        if newline < 0:
            pending = len(buffer) - position
            if pending > limit:
                raise _too_large(f"line {number}", limit)
            if not at_end:
                chunk = stream.read(max(read_size, min(pending, limit + 1 - pending)))
                buffer = buffer[position:] + chunk
                position = 0
                at_end = not chunk
                continue
            if not pending:
                return
            newline = len(buffer)
        line = buffer[position:newline]
        what = f"line {number}"
        if len(line) > limit:
            raise _too_large(what, limit, len(line))
        position = newline + 1
        number += 1
        if not line.strip():
            continue
        try:
            item = json.loads(line.decode("utf-8"))
        except RecursionError:
            raise _too_deep(what) from None
        except (ValueError, UnicodeDecodeError) as error:
            raise base.DeserializationError(
                f"{what} is not valid JSON: {error}"
            ) from error
        _check_depth(item, line, 0, len(line), what)
        yield item


def read_objects(
    stream: BinaryIO,
    format: str,  # noqa: A002
    *,
    max_object_size: int | None = None,
) -> Iterator[Any] | None:
    """The raw objects of a ``json``/``jsonl`` fixture, or None for other formats."""
    if format == "json":
        return read_json_array(stream, max_object_size=max_object_size)
    if format == "jsonl":
        return read_json_lines(stream, max_object_size=max_object_size)
    return None


def read_raw_objects(
    stream: BinaryIO,
    format: str,  # noqa: A002
    *,
    max_object_size: int | None = None,
) -> Iterator[Any]:
    """The raw objects of a fixture in any of :data:`FORMATS`, as dicts.

    ``json``/``jsonl`` as :func:`read_objects`; ``xml`` gives each top-level
    object's ``model`` and, when it has one, ``pk`` (as text), streamed; ``yaml``
    is read whole, as Django reads it, within ``max_object_size``. Errors are
    ``DeserializationError``.
    """
    objects = read_objects(stream, format, max_object_size=max_object_size)
    if objects is not None:
        return objects
    if format == "xml":
        return _xml_objects(stream)
    if format == "yaml":
        limit = _max_object_size(max_object_size)
        return _yaml_objects(_CountingStream(stream, limit, "yaml"))  # type: ignore[arg-type]
    raise base.DeserializationError(f"unknown fixture format {format!r}")


def count_fixture(
    path: str | os.PathLike[str],
    format: str,  # noqa: A002
    *,
    max_object_size: int | None = None,
) -> dict[Any, int]:
    """Objects per model label, as written, of the fixture at ``path``; streamed
    (a ``yaml`` file is read whole). Raises ``DeserializationError``."""
    from diskette.manifest import count_objects

    counts: dict[Any, int] = {}
    with open(path, "rb") as stream:
        raw = read_raw_objects(stream, format, max_object_size=max_object_size)
        for _raw in count_objects(raw, counts):
            pass
    return counts


def _xml_objects(stream: BinaryIO) -> Iterator[dict[str, Any]]:
    """The ``model`` and ``pk`` of each ``<object>`` directly in the root, read as
    parser events (nothing is kept), with Django's defused parser."""
    from xml.dom import pulldom
    from xml.sax import SAXException

    from django.core.serializers.xml_serializer import DefusedExpatParser

    depth = 0
    try:
        parser = DefusedExpatParser()  # Django's: no DTD, no entities
        for event, node in pulldom.parse(stream, parser=parser):  # noqa: S319
            if event == pulldom.START_ELEMENT:
                depth += 1
                if depth == 2 and node.nodeName == "object":
                    raw = {"model": node.getAttribute("model")}
                    if node.hasAttribute("pk"):
                        raw["pk"] = node.getAttribute("pk")
                    yield raw
            elif event == pulldom.END_ELEMENT:
                depth -= 1
    except (SAXException, ValueError) as error:
        raise base.DeserializationError(f"not an xml fixture: {error}") from error


def _yaml_objects(stream: BinaryIO) -> Iterator[Any]:
    objects = load_yaml(stream)
    if objects is None:
        return
    if not isinstance(objects, list):
        raise base.DeserializationError("the file is not a yaml list of objects")
    yield from objects


def load_yaml(stream: BinaryIO) -> Any:
    """The objects of a yaml fixture, read as Django's yaml deserializer reads
    them (PyYAML's safe loader, compiled when available)."""
    import yaml
    from django.core.serializers.pyyaml import SafeLoader

    try:
        return yaml.load(stream, Loader=SafeLoader)  # noqa: S506 - a safe loader
    except base.DeserializationError:
        raise
    except yaml.YAMLError as error:
        raise base.DeserializationError(f"not a yaml fixture: {error}") from error


class _CountingStream:
    """A binary stream that refuses to give more than ``limit`` bytes (and a
    read-ahead) between two calls of :meth:`reset`: one object's cost."""

    def __init__(self, stream: BinaryIO, limit: int, format: str):  # noqa: A002
        self.stream = stream
        self.limit = limit
        self.format = format
        self.count = 0
        self.objects = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > _READ_AHEAD:
            size = _READ_AHEAD
        data = self.stream.read(size)
        self.count += len(data)
        if self.count > self.limit + _READ_AHEAD:
            if self.format == "yaml":
                raise _too_large(
                    "this yaml data file (read whole by Django's yaml reader)",
                    self.limit,
                )
            raise _too_large(f"object {self.objects + 1}", self.limit)
        return data

    def reset(self) -> None:
        self.count = 0
        self.objects += 1


def deserialize_other(
    stream: BinaryIO,
    format: str,  # noqa: A002
    *,
    max_object_size: int | None = None,
    deserializer: Callable[[BinaryIO], Iterable[base.DeserializedObject]] | None = None,
    **options: Any,
) -> Iterator[base.DeserializedObject]:
    """Django's deserializer for ``format`` (``xml``, ``yaml``), bounded.

    ``deserializer`` (called with the bounded stream) stands in for Django's,
    which gets ``options``. Reading one object may not take more than
    ``max_object_size`` bytes of the file (a ``yaml`` file is read whole, so the
    whole file); any error, deep nesting included, comes out as one
    ``DeserializationError`` (a diskette error raised while objects are read, by
    a saver writing the rows a lookup needs, passes as it is).
    """
    counting = _CountingStream(stream, _max_object_size(max_object_size), format)
    try:
        items = (
            serializers.deserialize(format, counting, **options)
            if deserializer is None
            else deserializer(counting)
        )
        for item in items:
            counting.reset()
            yield item
    except (GeneratorExit, DisketteError):
        raise
    except base.DeserializationError as error:
        if isinstance(error.__cause__, FixtureLimitError):  # wrapped by Django
            raise error.__cause__ from None
        raise
    except RecursionError:
        raise _too_deep(f"object {counting.objects + 1}") from None
    except Exception as error:
        raise base.DeserializationError(
            f"object {counting.objects + 1}: {error}"
        ) from error
