"""A definition's ``dump_command``: run with the arguments ``dumpdata`` would take.

The command writes the fixture itself (into a file created private first);
its objects are counted afterwards from the file, for the manifest.
"""

from __future__ import annotations

from pathlib import Path

from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.serializers.base import DeserializationError
from django.db import DEFAULT_DB_ALIAS

from diskette.definitions import Definition
from diskette.dumping.cleanup import frames_released
from diskette.exceptions import DumpError
from diskette.manifest import NO_MODEL
from diskette.owner import private_file
from diskette.readers import count_fixture


def dumpdata_arguments(
    definition: Definition,
    *,
    output: str | None = None,
    using: str = DEFAULT_DB_ALIAS,
    indent: int | None = None,
) -> list[str]:
    """The ``dumpdata`` arguments (after the command name) for a definition."""
    args = list(definition.models)
    if definition.natural_foreign:
        args.append("--natural-foreign")
    if definition.natural_primary:
        args.append("--natural-primary")
    if definition.use_base_manager:
        args.append("--all")
    args.append(f"--format={definition.format}")
    if indent is not None:
        args.append(f"--indent={indent}")
    if using != DEFAULT_DB_ALIAS:
        args.append(f"--database={using}")
    if output is not None:
        args.append(f"--output={output}")
    return args


#: What a dump_command's --output holds until the command writes it.
_PLACEHOLDER = b"\x00"


def run_dump_command(
    definition: Definition, path: Path, *, using: str, indent: int | None
) -> None:
    """Run ``definition.dump_command`` writing ``path``; raise DumpError naming the cause."""
    args = dumpdata_arguments(definition, output=str(path), using=using, indent=indent)
    # dumpdata opens --output for writing, which keeps the mode of a file that
    # exists: created 0600 here, the fixture is never readable by others. A
    # command that never opened it leaves the placeholder byte.
    with private_file(path) as stream:
        stream.write(_PLACEHOLDER)
    try:
        with frames_released():
            call_command(definition.dump_command, *args, verbosity=0)
    except CommandError as error:
        raise DumpError(
            f"definition {definition.name!r}: dump_command "
            f"{definition.dump_command!r} failed: {error}"
        ) from None
    except Exception as error:
        raise DumpError(
            f"definition {definition.name!r}: dump_command "
            f"{definition.dump_command!r} failed: {type(error).__name__}: {error}"
        ) from error
    if not path.is_file() or _untouched(path):
        raise DumpError(
            f"definition {definition.name!r}: dump_command "
            f"{definition.dump_command!r} wrote no file at --output: it must accept "
            "dumpdata's options"
        )


def _untouched(path: Path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(len(_PLACEHOLDER) + 1) == _PLACEHOLDER


def count_fixture_objects(path: Path, fmt: str) -> dict[str, int]:
    """Count objects per model in a fixture written by someone else (dump_command).

    Streamed by the one reader of each format (:func:`diskette.readers.count_fixture`,
    which the plan, inspect and the load count with), so that counting a large
    fixture stays in flat memory; labels become the installed models' labels.
    """
    try:
        raw = count_fixture(path, fmt)
        counts: dict[str, int] = {}
        for label, count in raw.items():
            if isinstance(label, str) and label != NO_MODEL:
                key = django_apps.get_model(label)._meta.label
                counts[key] = counts.get(key, 0) + count
    except (DeserializationError, ValueError, LookupError, TypeError) as error:
        raise DumpError(
            f"the fixture written by dump_command ({path.name}) is not a valid "
            f"{fmt} fixture: {error}"
        ) from None
    return counts
