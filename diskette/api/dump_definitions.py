"""Which application definitions a dump takes: given, from a file, or the
setting's; selected by name, given a format, and checked before anything is read."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from django.core.management import get_commands

from diskette.api.dump_options import DumpOptions, check_format
from diskette.conf import PathValue
from diskette.definitions import FORMATS, Definition, load_definitions
from diskette.definitions.dependencies import unloadable_cycles
from diskette.dumping.dumper import resolve_models
from diskette.exceptions import ConfigurationError
from diskette.manifest import DATA_PREFIX
from diskette.paths import member_name_problem


def _raw_definitions(
    definitions: Sequence[Any] | None, appconf: PathValue | None
) -> Any:
    """The definitions as given, or as the ``appconf`` JSON file holds them."""
    if appconf is not None:
        try:
            with open(appconf, encoding="utf-8") as stream:
                return json.load(stream)
        except OSError as error:
            raise ConfigurationError(
                f"cannot read the application definitions file {str(appconf)!r}: "
                f"{error.strerror}"
            ) from None
        except (ValueError, UnicodeDecodeError) as error:
            raise ConfigurationError(
                f"the application definitions file {str(appconf)!r} is not valid "
                f"JSON: {error}"
            ) from None
    return definitions


def _load_definitions(raw: Any) -> list[Definition]:
    """Definition objects as they are; raw ones (or ``None``: the setting) validated."""
    if raw is not None and all(isinstance(item, Definition) for item in raw):
        return list(raw)
    return list(load_definitions(raw))


def _select(
    definitions: list[Definition],
    apps: Sequence[str] | None,
    exclude_apps: Sequence[str] | None,
) -> list[Definition]:
    """The definitions ``apps`` names (all by default) but ``exclude_apps``."""
    names = [definition.name for definition in definitions]
    for option, chosen in (("apps", apps), ("exclude_apps", exclude_apps)):
        unknown = [name for name in chosen or () if name not in names]
        if unknown:
            raise ConfigurationError(
                f"{option} names unknown definition(s) {', '.join(map(repr, unknown))}: "
                f"known ones are {', '.join(map(repr, names)) or 'none'}"
            )
    if apps:
        definitions = [d for d in definitions if d.name in apps]
    if exclude_apps:
        definitions = [d for d in definitions if d.name not in exclude_apps]
    return definitions


def _with_format(definition: Definition, fmt: str | None) -> Definition:
    if fmt is None or fmt == definition.format:
        return definition
    stem, dot, ext = definition.filename.rpartition(".")
    base = stem if dot and ext in FORMATS else definition.filename
    return dataclasses.replace(definition, format=fmt, filename=f"{base}.{fmt}")


def chosen_definitions(options: DumpOptions) -> tuple[list[Definition], list[str]]:
    """The chosen definitions, checked, and the names of those skipped (no model)."""
    if not options.with_data:
        return [], []
    raw = _raw_definitions(options.definitions, options.appconf)
    chosen = _select(_load_definitions(raw), options.apps, options.exclude_apps)
    chosen = [_with_format(d, options.format) for d in chosen]
    # A definition that selects no model (a drain left with nothing) would
    # make dumpdata dump everything: it is skipped, and said so.
    skipped = [d.name for d in chosen if not d.models and not d.dump_command]
    chosen = [d for d in chosen if d.models or d.dump_command]
    _check_definitions(chosen)
    cycles = unloadable_cycles(chosen)
    if cycles:
        raise ConfigurationError("; ".join(cycles))
    return chosen, skipped


def _check_definitions(chosen: list[Definition]) -> None:
    """Formats, file names (plain, distinct), models and dump commands."""
    seen: dict[str, str] = {}
    for definition in chosen:
        check_format(definition.format, f"definition {definition.name!r}")
        member = DATA_PREFIX + definition.filename
        problem = member_name_problem(member)
        if problem or "/" in definition.filename:
            raise ConfigurationError(
                f"definition {definition.name!r}: filename "
                f"{definition.filename!r} {problem or 'contains a /'}: give a plain "
                "file name"
            )
        if definition.filename in seen:
            raise ConfigurationError(
                f"definitions {seen[definition.filename]!r} and {definition.name!r} "
                f"both write {definition.filename!r}: give one another filename"
            )
        seen[definition.filename] = definition.name
        if not definition.dump_command:
            resolve_models(definition.models)
        elif definition.dump_command not in get_commands():
            raise ConfigurationError(
                f"definition {definition.name!r}: dump_command "
                f"{definition.dump_command!r} is not a management command of this "
                "project"
            )
