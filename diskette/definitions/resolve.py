"""Resolution: from definitions of the right shape to the models each one dumps.

After the schema (:mod:`diskette.definitions.schema`), every definition's labels
are resolved against the app registry, its file name and format are settled, its
``dump_command`` is looked up, and the definitions are checked against each other
(shared file names, models dumped twice). Only when nothing is wrong anywhere do
:mod:`diskette.definitions.drains` fill the drains and build the
:class:`~diskette.definitions.model.Definition` objects. The input is never mutated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.db.models import Model
from django.utils.text import slugify

from diskette.definitions.drains import build
from diskette.definitions.formats import available_formats, format_problem
from diskette.definitions.labels import Registry
from diskette.definitions.model import Definition, dump_command
from diskette.definitions.schema import schema_problems
from diskette.paths import member_name_problem


@dataclass
class Draft:
    """A definition being resolved; becomes a Definition when nothing is wrong."""

    index: int
    name: str
    options: dict
    who: str
    selected: list  # models (normal) or [] (drain)
    excluded: list
    filename: str = ""
    format: str = ""


def analyse(raw: Any, default_format: Any) -> tuple[list[str], list[Definition]]:
    """``(problems, definitions)``: every problem, or the definitions when none."""
    found = schema_problems(raw)
    if not isinstance(raw, (list, tuple)):
        return found.problems, []
    problems = found.problems
    registry = Registry()
    drafts: list[Draft] = []
    seen_names: dict[str, int] = {}
    for index, item in enumerate(raw):
        if index in found.broken:
            continue
        name, options = item[0], item[1]
        bad = found.bad_keys.get(index, set())
        who = f"definition {name!r}"
        if name in seen_names:
            problems.append(
                f"{who} is defined twice (items {seen_names[name] + 1} and "
                f"{index + 1}): give each definition its own name"
            )
            continue
        seen_names[name] = index
        draft = Draft(index, name, options, who, [], [])
        problems.extend(_resolve_draft(draft, registry, bad))
        problems.extend(_filename(draft, bad, default_format))
        problems.extend(_dump_command(draft, bad))
        drafts.append(draft)
    problems.extend(_cross_problems(drafts))
    if problems:
        return _unique(problems), []
    return [], build(drafts, registry)


def _unique(problems: list[str]) -> list[str]:
    return list(dict.fromkeys(problems))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _resolve_draft(draft: Draft, registry: Registry, bad: set[str]) -> list[str]:
    """Resolve the labels of one definition; fill ``selected`` and ``excluded``."""
    problems, resolved = _resolve_labels(draft, registry, bad)
    draft.excluded = list(dict.fromkeys(resolved["excludes"]))
    if draft.options.get("is_drain") is True:
        return problems + _drain_option_problems(draft)
    problems.extend(_normal_option_problems(draft))
    if "models" in bad:
        return problems
    if not _as_list(draft.options.get("models")):
        problems.append(
            f"{draft.who} lists no models: give 'models' (an app label such as 'sites' "
            "or a model label such as 'auth.User'), or make it a drain with "
            "'is_drain': True"
        )
        return problems
    excluded = set(draft.excluded)
    draft.selected = sorted(
        (m for m in set(resolved["models"]) if m not in excluded),
        key=registry.position.__getitem__,
    )
    if resolved["models"] and not draft.selected and not problems:
        problems.append(
            f"{draft.who}: its excludes leave none of its models to dump: exclude "
            "fewer models or remove the definition"
        )
    return problems


def _resolve_labels(
    draft: Draft, registry: Registry, bad: set[str]
) -> tuple[list[str], dict[str, list[type[Model]]]]:
    """The models that ``models`` and ``excludes`` name, and their unknown labels."""
    problems = []
    resolved: dict[str, list[type[Model]]] = {"models": [], "excludes": []}
    for key in ("models", "excludes"):
        if key in bad:
            continue
        for label in _as_list(draft.options.get(key)):
            if not isinstance(label, str) or not label:
                continue  # reported by the schema
            models, problem = registry.resolve(label, key)
            if problem:
                problems.append(f"{draft.who}: {key} {label!r} {problem}")
            resolved[key].extend(models)
    return problems, resolved


def _drain_option_problems(draft: Draft) -> list[str]:
    """Options a drain must not have."""
    problems = []
    if "models" in draft.options:
        problems.append(
            f"{draft.who} is a drain, which takes every model no other definition "
            "dumps: remove its 'models' (use 'excludes' to leave models out)"
        )
    if draft.options.get("allow_drain") is True:
        problems.append(
            f"{draft.who}: allow_drain is for normal definitions, not drains: remove "
            "it (use 'drain_excluded' on a drain)"
        )
    return problems


def _normal_option_problems(draft: Draft) -> list[str]:
    """Options only a drain may have."""
    if draft.options.get("drain_excluded") is True:
        return [
            f"{draft.who}: drain_excluded is for drains only: remove it, or add "
            "'is_drain': True (use 'allow_drain' on a normal definition)"
        ]
    return []


def _filename(draft: Draft, bad: set[str], default_format: Any) -> list[str]:
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


def _dump_command(draft: Draft, bad: set[str]) -> list[str]:
    command = draft.options.get("dump_command")
    if command is None or "dump_command" in bad or dump_command(draft.options) is None:
        return []
    from django.core.management import get_commands

    if command not in get_commands():
        return [
            f"{draft.who}: dump_command {command!r} is not a management command of "
            "this project: give an installed command such as 'dumpdata', or remove it"
        ]
    return []


def _cross_problems(drafts: list[Draft]) -> list[str]:
    """Problems between definitions: shared filenames, models dumped twice."""
    problems = []
    filenames: dict[str, Draft] = {}
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
    owners: dict[type[Model], Draft] = {}
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
