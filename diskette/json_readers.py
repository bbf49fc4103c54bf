"""The ``json`` and ``jsonl`` fixture readers: raw objects streamed in flat memory.

A ``json`` array is decoded one object at a time from a buffer refilled from the
file, ``jsonl`` line by line. A fixture is untrusted input: whitespace is skipped
by compiled code, an object larger than ``DISKETTE_LOAD_MAX_OBJECT_SIZE`` is
refused before the buffer grows past it, and an object nested deeper than
:data:`~diskette.fixture_limits.MAX_DEPTH` is refused before anything uses it.
The other formats, and the choice of a reader by format, are in
:mod:`diskette.readers`.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from django.core.serializers import base

from diskette.fixture_limits import (
    _check_depth,
    _max_object_size,
    _too_deep,
    _too_large,
)

#: Characters decoded per read; the buffer holds this plus one object at most.
READ_SIZE = 1024 * 1024
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
