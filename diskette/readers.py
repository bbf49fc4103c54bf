"""Fixture files → raw objects, streamed, with bounded memory and time.

The one reader of each format that loading, counting, planning and inspecting
use: ``json`` and ``jsonl`` stream from :mod:`diskette.json_readers`; to load,
``xml`` and ``yaml`` go to Django's deserializers behind a stream that counts
what one object costs; to count, ``xml`` is parsed as events
(:func:`read_raw_objects`). A fixture is untrusted input: an object larger than
``DISKETTE_LOAD_MAX_OBJECT_SIZE`` or nested deeper than :data:`MAX_DEPTH` is
refused, in every format.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from django.core import serializers
from django.core.serializers import base

from diskette.exceptions import DisketteError
from diskette.fixture_limits import (  # noqa: F401 - importable from here
    MAX_DEPTH,
    FixtureLimitError,
    _max_object_size,
    _too_deep,
    _too_large,
)
from diskette.json_readers import read_json_array, read_json_lines

#: The serialization formats a fixture may have.
FORMATS = ("json", "jsonl", "xml", "yaml")
#: Formats whose raw objects stream to the loader (:func:`read_objects`): every
#: object a file holds is counted as it is loaded.
STREAMED = ("json", "jsonl")
#: Bytes Django's xml reader may read ahead of the object it builds.
_READ_AHEAD = 64 * 1024


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
