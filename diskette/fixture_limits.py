"""The bounds a fixture object must keep: its size and its nesting depth.

A fixture is untrusted input: :mod:`diskette.readers` refuses an object larger
than ``DISKETTE_LOAD_MAX_OBJECT_SIZE`` before its buffer grows past it, and one
nested deeper than :data:`MAX_DEPTH` before anything uses it, with the errors
made here.
"""

from __future__ import annotations

from typing import Any

from django.core.serializers import base

#: Deepest nesting of lists and objects accepted in one fixture object. Python's
#: own JSON decoder and encoder recurse, so a deeper object could overflow them
#: while it is decoded or saved; genuine data is far shallower.
MAX_DEPTH = 200


class FixtureLimitError(base.DeserializationError):
    """A fixture object beyond a documented bound (size or nesting depth)."""


def _max_object_size(value: int | None) -> int:
    if value is not None:
        return int(value)
    from diskette.conf import get_settings

    return int(get_settings().load_max_object_size)


def _too_large(what: str, limit: int, size: int | None = None) -> FixtureLimitError:
    told = "larger" if size is None else f"{size} bytes, larger"
    return FixtureLimitError(
        f"{what} is {told} than DISKETTE_LOAD_MAX_OBJECT_SIZE ({limit} bytes): "
        "refused; raise the setting if it is genuine"
    )


def _too_deep(what: str) -> FixtureLimitError:
    return FixtureLimitError(
        f"{what} nests lists or objects more than {MAX_DEPTH} levels deep, the "
        "most diskette reads: refused"
    )


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and dicts in ``value`` nest more than ``limit`` deep
    (iterative: a hostile value cannot overflow the stack)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for child in item.values() if type(item) is dict else item:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False


def _check_depth(item: Any, text: str | bytes, start: int, end: int, what: str):
    """Refuse ``item`` if it nests deeper than MAX_DEPTH; a cheap count of its
    brackets spares the walk for almost every object."""
    if type(item) is not dict and type(item) is not list:
        return
    if isinstance(text, str):
        brackets = text.count("[", start, end) + text.count("{", start, end)
    else:
        brackets = text.count(b"[", start, end) + text.count(b"{", start, end)
    if brackets > MAX_DEPTH and _deeper_than(item, MAX_DEPTH):
        raise _too_deep(what)
