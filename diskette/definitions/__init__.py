"""Application definitions: which models each fixture holds, parsed and validated.

``DISKETTE_APPS`` is a list of ``[name, options]`` pairs. :func:`load_definitions`
checks their shape against the JSON schema shipped in ``schemas/definitions.json``,
resolves every label against the app registry, computes the drains, and returns
one :class:`Definition` per pair: the exact, ordered list of models the dumper
writes into one fixture. Every problem of every definition is reported at once,
in a :class:`~diskette.exceptions.DefinitionError`; the input is never mutated.

Which models a label selects, mirroring ``dumpdata``:

* an app label (``"sites"``, any case) selects the app's concrete models;
* a model label (``"auth.User"``, any case) selects that model;
* proxy models are never dumped (they have no rows of their own; ``dumpdata``
  skips them too), so naming one is an error that names its concrete model;
* unmanaged models are dumped, as ``dumpdata`` does;
* auto-created many-to-many through models (``auth.User_groups``) are never
  listed: their rows travel with the model that declares the field, so naming
  one is an error that names that model; swapped models are an error too.

Drains. A definition with ``"is_drain": True`` lists no models: it collects every
model of every installed app, including apps nobody named, that no normal
definition dumps, minus its own ``excludes``. Models that a normal definition
*excludes* are kept out of every drain, because excluding says "do not dump
this"; two options relax that:

* ``"allow_drain": True`` on a normal definition hands its excludes to the drains;
* ``"drain_excluded": True`` on a drain makes that drain also take the models
  every normal definition excludes.

For example, with only ``auth``, ``sites`` and ``sessions`` installed::

    [
        ["auth", {"models": "auth", "excludes": ["auth.Permission"]}],
        ["rest", {"is_drain": True}],
    ]

dumps ``auth.Group`` and ``auth.User`` in ``auth``, and ``sites.Site`` and
``sessions.Session`` in ``rest``; ``auth.Permission`` is dumped nowhere. Add
``"allow_drain": True`` to ``auth`` (or ``"drain_excluded": True`` to ``rest``)
and ``rest`` dumps ``auth.Permission`` as well. With several drains, the first
one (in list order) that may take a model takes it; no model is dumped twice.

Inside a definition, models come in app registry order (``INSTALLED_APPS``,
then model declaration order); with ``natural_foreign`` they are sorted with
Django's ``sort_dependencies``, as ``dumpdata --natural-foreign`` does, so that
objects referenced by natural key are loaded first.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

import jsonschema
from django.apps import apps as django_apps
from django.core import serializers
from django.db.models import Model
from django.utils.text import slugify

from diskette.conf import get_settings
from diskette.definitions.labels import Registry
from diskette.exceptions import DefinitionError
from diskette.paths import member_name_problem

#: Fixture formats diskette knows, by file extension.
FORMATS = ("json", "jsonl", "xml", "yaml")


@dataclass(frozen=True)
class Definition:
    """One validated application definition, ready for the dumper.

    ``models`` are the exact model labels (``app_label.ModelName``, Django's
    ``Model._meta.label``) this definition dumps, in dump order; auto-created
    many-to-many through models are never listed (their rows travel with the
    model that owns the field). A drain's models may be empty: everything is
    dumped elsewhere. ``excludes`` are the resolved labels the definition
    excluded, kept for information.
    """

    name: str
    models: tuple[str, ...]
    filename: str
    format: str
    natural_foreign: bool = False
    natural_primary: bool = False
    use_base_manager: bool = False
    comments: str = ""
    is_drain: bool = False
    dump_command: str | None = None
    excludes: tuple[str, ...] = ()
    allow_drain: bool = False
    drain_excluded: bool = False

    def model_classes(self) -> list[type[Model]]:
        """The model classes of :attr:`models`, in dump order."""
        return [django_apps.get_model(label) for label in self.models]


# ---- formats -----------------------------------------------------------------


def available_formats() -> tuple[str, ...]:
    """The formats usable here: ``yaml`` only when PyYAML is importable."""
    if importlib.util.find_spec("yaml") is None:
        return tuple(name for name in FORMATS if name != "yaml")
    return FORMATS


def format_problem(fmt: Any) -> str | None:
    """Say why ``fmt`` is not a usable fixture format, or ``None``."""
    if fmt == "yaml" and "yaml" not in available_formats():
        return "needs PyYAML, which is not installed: install PyYAML or use json"
    if not isinstance(fmt, str) or fmt not in FORMATS:
        return "is not a fixture format: use one of " + ", ".join(available_formats())
    return None


# ---- the JSON schema -----------------------------------------------------------


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


def _schema_problems(raw: Sequence) -> tuple[list[str], set[int], dict[int, set[str]]]:
    """Problems of shape, the definitions too broken to go on, and bad keys."""
    problems: list[str] = []
    broken: set[int] = set()
    bad_keys: dict[int, set[str]] = {}
    allowed = option_names()
    for error in sorted(_validator().iter_errors(raw), key=_path_key):
        path = list(error.absolute_path)
        value = error.instance
        if not path:
            problems.append(
                f"the definitions are {_show(value)} ({_kind(value)}), not a list of "
                "[name, options] pairs: write [['name', {'models': [...]}], ...]"
            )
            continue
        index = path[0]
        who = _who(raw, index)
        if len(path) == 1:
            broken.add(index)
            problems.append(
                f"{who} is {_show(value)}, not a [name, options] pair: "
                "write ['name', {'models': [...]}]"
            )
        elif len(path) == 2 and path[1] == 0:
            broken.add(index)
            problems.append(
                f"definition #{index + 1} has the name {_show(value)} "
                f"({_kind(value)}): give it a non-empty string as name"
            )
        elif len(path) == 2 and error.validator == "additionalProperties":
            for key in value:
                if key in allowed:
                    continue
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "remove it"
                problems.append(
                    f"{who} has the unknown option {_show(key)}: {hint} "
                    f"(options are {', '.join(allowed)})"
                )
        elif len(path) == 2:
            broken.add(index)
            problems.append(
                f"{who} has the options {_show(value)} ({_kind(value)}), not a dict: "
                "write {'models': [...], ...}"
            )
        else:
            key = str(path[2])
            if len(path) == 3:  # the whole value is wrong; a wrong item is skipped
                bad_keys.setdefault(index, set()).add(key)
            if error.validator == "minLength":
                what = "is empty"
            elif value is None:
                what = "is not allowed"
            else:
                what = f"is {_kind(value)}"
            place = key if len(path) == 3 else f"{key} item {path[3] + 1}"
            problems.append(f"{who}: {place} {_show(value)} {what}: {_option_fix(key)}")
    return problems, broken, bad_keys


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _ordered(models: Iterable[type[Model]], natural_foreign: bool) -> tuple[str, ...]:
    """Labels of ``models`` in registry order, dependency-sorted for natural keys."""
    chosen = set(models)
    by_app = []
    for config in django_apps.get_app_configs():
        in_app = [m for m in config.get_models() if m in chosen]
        if in_app:
            by_app.append((config, in_app))
    if natural_foreign:
        ordered = serializers.sort_dependencies(by_app, allow_cycles=True)
    else:
        ordered = [model for _, in_app in by_app for model in in_app]
    return tuple(model._meta.label for model in ordered)


# ---- the whole analysis ----------------------------------------------------------


@dataclass
class _Draft:
    """A definition being resolved; becomes a Definition when nothing is wrong."""

    index: int
    name: str
    options: dict
    who: str
    selected: list  # models (normal) or [] (drain)
    excluded: list
    filename: str = ""
    format: str = ""


def _analyse(raw: Any, default_format: Any) -> tuple[list[str], list[Definition]]:
    if not isinstance(raw, (list, tuple)):
        problems, _, _ = _schema_problems(raw)
        return problems, []
    problems, broken, bad_keys = _schema_problems(raw)
    registry = Registry()
    drafts: list[_Draft] = []
    seen_names: dict[str, int] = {}
    for index, item in enumerate(raw):
        if index in broken:
            continue
        name, options = item[0], item[1]
        bad = bad_keys.get(index, set())
        who = f"definition {name!r}"
        if name in seen_names:
            problems.append(
                f"{who} is defined twice (items {seen_names[name] + 1} and "
                f"{index + 1}): give each definition its own name"
            )
            continue
        seen_names[name] = index
        draft = _Draft(index, name, options, who, [], [])
        problems.extend(_resolve_draft(draft, registry, bad))
        problems.extend(_filename(draft, bad, default_format))
        problems.extend(_dump_command(draft, bad))
        drafts.append(draft)
    problems.extend(_cross_problems(drafts))
    if problems:
        return _unique(problems), []
    return [], _build(drafts, registry)


def _unique(problems: list[str]) -> list[str]:
    return list(dict.fromkeys(problems))


def _resolve_draft(draft: _Draft, registry: Registry, bad: set[str]) -> list[str]:
    """Resolve the labels of one definition; fill ``selected`` and ``excluded``."""
    problems = []
    options, who = draft.options, draft.who
    is_drain = options.get("is_drain") is True
    resolved: dict[str, list] = {"models": [], "excludes": []}
    for key in ("models", "excludes"):
        if key in bad:
            continue
        for label in _as_list(options.get(key)):
            if not isinstance(label, str) or not label:
                continue  # reported by the schema
            models, problem = registry.resolve(label, key)
            if problem:
                problems.append(f"{who}: {key} {label!r} {problem}")
            resolved[key].extend(models)
    draft.excluded = list(dict.fromkeys(resolved["excludes"]))
    if is_drain:
        if "models" in options:
            problems.append(
                f"{who} is a drain, which takes every model no other definition "
                "dumps: remove its 'models' (use 'excludes' to leave models out)"
            )
        if options.get("allow_drain") is True:
            problems.append(
                f"{who}: allow_drain is for normal definitions, not drains: remove "
                "it (use 'drain_excluded' on a drain)"
            )
        return problems
    if options.get("drain_excluded") is True:
        problems.append(
            f"{who}: drain_excluded is for drains only: remove it, or add "
            "'is_drain': True (use 'allow_drain' on a normal definition)"
        )
    if "models" in bad:
        return problems
    if not _as_list(options.get("models")):
        problems.append(
            f"{who} lists no models: give 'models' (an app label such as 'sites' or a "
            "model label such as 'auth.User'), or make it a drain with 'is_drain': True"
        )
        return problems
    excluded = set(draft.excluded)
    draft.selected = sorted(
        (m for m in set(resolved["models"]) if m not in excluded),
        key=registry.position.__getitem__,
    )
    if resolved["models"] and not draft.selected and not problems:
        problems.append(
            f"{who}: its excludes leave none of its models to dump: exclude fewer "
            "models or remove the definition"
        )
    return problems


def _filename(draft: _Draft, bad: set[str], default_format: Any) -> list[str]:
    """Set the draft's filename and format (the extension picks the format)."""
    who = draft.who
    if "filename" in bad:
        return []
    filename = draft.options.get("filename")
    if filename is None:
        problem = format_problem(default_format)
        if problem:
            return [
                f"DISKETTE_DUMP_FORMAT {default_format!r} {problem} "
                f"(needed for the file name of {who})"
            ]
        slug = slugify(draft.name)
        if not slug:
            return [
                f"{who}: its name gives an empty file name: set 'filename', "
                "for example 'data.json'"
            ]
        draft.filename, draft.format = f"{slug}.{default_format}", default_format
        return []
    if "/" in filename or filename in (".", ".."):
        return [
            f"{who}: filename {filename!r} is not a plain file name: remove the "
            "directories (fixtures go under data/ in the archive)"
        ]
    problem = member_name_problem(filename)
    if problem:
        return [f"{who}: filename {filename!r} {problem}: give a plain file name"]
    extension = PurePosixPath(filename).suffix[1:].lower()
    if not extension:
        return [
            f"{who}: filename {filename!r} has no extension: end it with ."
            + ", .".join(available_formats())
            + " (the extension selects the format)"
        ]
    problem = format_problem(extension)
    if problem:
        return [
            f"{who}: filename {filename!r} has the extension .{extension}, which {problem}"
        ]
    draft.filename, draft.format = filename, extension
    return []


def _dump_command(draft: _Draft, bad: set[str]) -> list[str]:
    command = draft.options.get("dump_command")
    if command is None or "dump_command" in bad:
        return []
    from django.core.management import get_commands

    if command not in get_commands():
        return [
            f"{draft.who}: dump_command {command!r} is not a management command of "
            "this project: give an installed command such as 'dumpdata', or remove it"
        ]
    return []


def _cross_problems(drafts: list[_Draft]) -> list[str]:
    """Problems between definitions: shared filenames, models dumped twice."""
    problems = []
    filenames: dict[str, _Draft] = {}
    for draft in drafts:
        if not draft.filename:
            continue
        key = draft.filename.casefold()
        if key in filenames:
            problems.append(
                f"{draft.who} writes the file {draft.filename!r}, like "
                f"{filenames[key].who}: give one of them another 'filename'"
            )
        else:
            filenames[key] = draft
    owners: dict[type[Model], _Draft] = {}
    for draft in drafts:
        twice: dict[str, list[str]] = {}
        for model in draft.selected:
            owner = owners.setdefault(model, draft)
            if owner is not draft:
                twice.setdefault(owner.who, []).append(model._meta.label)
        for owner_who, labels in twice.items():
            problems.append(
                f"{draft.who} dumps {', '.join(repr(x) for x in labels)}, already "
                f"dumped by {owner_who}: keep each model in one definition (or exclude "
                "it from one)"
            )
    return problems


def _build(drafts: list[_Draft], registry: Registry) -> list[Definition]:
    """Compute the drains, order the models and make the Definitions."""
    claimed: set[type[Model]] = set()
    withheld: set[type[Model]] = set()
    for draft in drafts:
        if draft.options.get("is_drain") is True:
            continue
        claimed.update(draft.selected)
        if draft.options.get("allow_drain") is not True:
            withheld.update(draft.excluded)
    drained: set[type[Model]] = set()
    for draft in drafts:
        if draft.options.get("is_drain") is not True:
            continue
        own = set(draft.excluded)
        keep_out = claimed | drained | own
        if draft.options.get("drain_excluded") is not True:
            keep_out |= withheld
        draft.selected = [m for m in registry.everything if m not in keep_out]
        drained.update(draft.selected)
    definitions = []
    for draft in drafts:
        options = draft.options
        natural_foreign = options.get("natural_foreign") is True
        definitions.append(
            Definition(
                name=draft.name,
                models=_ordered(draft.selected, natural_foreign),
                filename=draft.filename,
                format=draft.format,
                natural_foreign=natural_foreign,
                natural_primary=options.get("natural_primary") is True,
                use_base_manager=options.get("use_base_manager") is True,
                comments=options.get("comments") or "",
                is_drain=options.get("is_drain") is True,
                dump_command=options.get("dump_command"),
                excludes=tuple(m._meta.label for m in draft.excluded),
                allow_drain=options.get("allow_drain") is True,
                drain_excluded=options.get("drain_excluded") is True,
            )
        )
    return definitions


# ---- public API --------------------------------------------------------------------


def definition_problems(raw: Any = None, *, default_format: Any = None) -> list[str]:
    """Every problem of the definitions ``raw`` (default ``DISKETTE_APPS``), one per line.

    ``default_format`` defaults to ``DISKETTE_DUMP_FORMAT``. An empty list means
    :func:`load_definitions` succeeds.
    """
    conf = get_settings()
    raw = conf.apps if raw is None else raw
    fmt = conf.dump_format if default_format is None else default_format
    return _analyse(raw, fmt)[0]


def analyse_definitions(
    raw: Any, default_format: Any
) -> tuple[list[str], list[Definition]]:
    """``(problems, definitions)`` of ``raw``: the definitions when there is no problem.

    For callers that need both, so that the definitions are analysed once.
    """
    return _analyse(raw, default_format)


def load_definitions(raw: Any = None) -> list[Definition]:
    """Validate and resolve the definitions ``raw`` (default ``DISKETTE_APPS``).

    Raises :class:`DefinitionError` listing every problem of every definition.
    """
    conf = get_settings()
    raw = conf.apps if raw is None else raw
    problems, definitions = _analyse(raw, conf.dump_format)
    if problems:
        raise DefinitionError(problems)
    return definitions
