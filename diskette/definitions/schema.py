"""The shape of ``DISKETTE_APPS``: its JSON schema and the messages of its errors.

The schema (``schemas/definitions.json``, shipped in the package) is the one
statement of which options exist and what type each takes; this module turns its
validation errors into one readable line each, naming the definition, the option
and the fix (taken from the option's ``description``). What the schema cannot say
(labels, file names, drains) is :mod:`diskette.definitions.resolve`'s job.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON schema of ``DISKETTE_APPS`` shipped in the package."""
    text = (
        resources.files("diskette")
        .joinpath("schemas", "definitions.json")
        .read_text("utf-8")
    )
    return json.loads(text)


def _is_array(checker: Any, instance: Any) -> bool:
    # Settings are Python: a tuple is as good a list as a list.
    return isinstance(instance, (list, tuple))


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    base = jsonschema.Draft202012Validator
    cls = jsonschema.validators.extend(
        base, type_checker=base.TYPE_CHECKER.redefine("array", _is_array)
    )
    return cls(schema())


def option_names() -> tuple[str, ...]:
    """Every option a definition accepts, in the schema's order."""
    return tuple(schema()["items"]["prefixItems"][1]["properties"])


def _option_fix(key: str) -> str:
    return schema()["items"]["prefixItems"][1]["properties"][key]["description"]


_TYPE_NAMES = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    list: "a list",
    tuple: "a tuple",
    dict: "a dict",
    type(None): "None",
}


def _kind(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), f"a {type(value).__name__}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _who(raw: Sequence, index: int) -> str:
    """How a problem names the definition at ``index``."""
    item = raw[index] if index < len(raw) else None
    if (
        isinstance(item, (list, tuple))
        and item
        and isinstance(item[0], str)
        and item[0]
    ):
        return f"definition {item[0]!r}"
    return f"definition #{index + 1}"


def _path_key(error: jsonschema.ValidationError) -> tuple:
    return tuple(
        (0, p, "") if isinstance(p, int) else (1, 0, str(p))
        for p in error.absolute_path
    )


@dataclass
class SchemaProblems:
    """What the schema found: the messages, and what the resolution must skip.

    ``broken`` are the indexes of definitions too malformed to resolve at all;
    ``bad_keys`` the options (per index) whose whole value is wrong, which the
    resolution leaves alone so that one mistake gives one message.
    """

    problems: list[str] = field(default_factory=list)
    broken: set[int] = field(default_factory=set)
    bad_keys: dict[int, set[str]] = field(default_factory=dict)


def schema_problems(raw: Any) -> SchemaProblems:
    """Problems of shape of the definitions ``raw``, in the order of the input."""
    found = SchemaProblems()
    for error in sorted(_validator().iter_errors(raw), key=_path_key):
        path = list(error.absolute_path)
        if not path:
            value = error.instance
            found.problems.append(
                f"the definitions are {_show(value)} ({_kind(value)}), not a list of "
                "[name, options] pairs: write [['name', {'models': [...]}], ...]"
            )
        elif len(path) <= 2:
            _item_problem(raw, path, error, found)
        else:
            _option_problem(raw, path, error, found)
    return found


def _item_problem(
    raw: Sequence, path: list, error: jsonschema.ValidationError, found: SchemaProblems
) -> None:
    """A definition, its name or its options dict is the wrong shape."""
    index, value = path[0], error.instance
    who = _who(raw, index)
    if len(path) == 1:
        found.broken.add(index)
        found.problems.append(
            f"{who} is {_show(value)}, not a [name, options] pair: "
            "write ['name', {'models': [...]}]"
        )
    elif path[1] == 0:
        found.broken.add(index)
        found.problems.append(
            f"definition #{index + 1} has the name {_show(value)} "
            f"({_kind(value)}): give it a non-empty string as name"
        )
    elif error.validator == "additionalProperties":
        allowed = option_names()
        for key in value:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "remove it"
            found.problems.append(
                f"{who} has the unknown option {_show(key)}: {hint} "
                f"(options are {', '.join(allowed)})"
            )
    else:
        found.broken.add(index)
        found.problems.append(
            f"{who} has the options {_show(value)} ({_kind(value)}), not a dict: "
            "write {'models': [...], ...}"
        )


def _option_problem(
    raw: Sequence, path: list, error: jsonschema.ValidationError, found: SchemaProblems
) -> None:
    """An option's value (or one item of a list option) is the wrong type."""
    index, value = path[0], error.instance
    key = str(path[2])
    if len(path) == 3:  # the whole value is wrong; a wrong item is skipped
        found.bad_keys.setdefault(index, set()).add(key)
    if error.validator == "minLength":
        what = "is empty"
    elif value is None:
        what = "is not allowed"
    else:
        what = f"is {_kind(value)}"
    place = key if len(path) == 3 else f"{key} item {path[3] + 1}"
    found.problems.append(
        f"{_who(raw, index)}: {place} {_show(value)} {what}: {_option_fix(key)}"
    )
