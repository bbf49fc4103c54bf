"""The Python API: :func:`dump`, :func:`load`, :func:`inspect` and their plans,
:func:`list_archives` and :func:`prune` for the archives of a destination.

The management commands are thin adapters over these functions; each returns a
result object (with ``to_dict()`` for JSON) and raises a
:class:`~diskette.exceptions.DisketteError` with a one-line message. They also
find here the few constants their options offer (formats, storages modes, the
drain's name), so that they import nothing else of the package.

Each name is imported on first use, so that a dump imports nothing of the load
side (nor a load the dump's). That is safe because no submodule carries the
name of a function: the pipelines are :mod:`~diskette.api.dumping`,
:mod:`~diskette.api.loading` and :mod:`~diskette.api.inspecting` (and
:mod:`~diskette.api.archives` lists and prunes), gerunds as
the stage packages they drive (:mod:`diskette.dumping`, :mod:`diskette.loading`)
are; a submodule named ``dump`` would replace the function ``dump`` in this
package once imported. Type checkers see the real signatures through the
``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diskette.api.archives import list_archives, prune
    from diskette.api.dump_plan import (
        DumpPlan,
        dump_filename,
        dumpdata_command_lines,
        plan_dump,
    )
    from diskette.api.dumping import DumpResult, dump
    from diskette.api.inspecting import inspect
    from diskette.api.loading import load, plan_load
    from diskette.api.recover import recover_interrupted
    from diskette.api.results import InspectResult, LoadResult
    from diskette.definitions import FORMATS
    from diskette.definitions.generator import DRAIN_NAME, generate_definitions
    from diskette.destinations.listing import ArchiveEntry
    from diskette.destinations.retention import PruneResult, Retention
    from diskette.restore.swaps import MODES as STORAGES_MODES

#: Where each exported name lives: (module, name there).
_LAZY: dict[str, tuple[str, str]] = {
    "DRAIN_NAME": ("diskette.definitions.generator", "DRAIN_NAME"),
    "FORMATS": ("diskette.definitions", "FORMATS"),
    "STORAGES_MODES": ("diskette.restore.swaps", "MODES"),
    "ArchiveEntry": ("diskette.destinations.listing", "ArchiveEntry"),
    "DumpPlan": ("diskette.api.dump_plan", "DumpPlan"),
    "DumpResult": ("diskette.api.dumping", "DumpResult"),
    "InspectResult": ("diskette.api.results", "InspectResult"),
    "LoadResult": ("diskette.api.results", "LoadResult"),
    "PruneResult": ("diskette.destinations.retention", "PruneResult"),
    "Retention": ("diskette.destinations.retention", "Retention"),
    "dump": ("diskette.api.dumping", "dump"),
    "dump_filename": ("diskette.api.dump_plan", "dump_filename"),
    "dumpdata_command_lines": ("diskette.api.dump_plan", "dumpdata_command_lines"),
    "generate_definitions": ("diskette.definitions.generator", "generate_definitions"),
    "inspect": ("diskette.api.inspecting", "inspect"),
    "list_archives": ("diskette.api.archives", "list_archives"),
    "load": ("diskette.api.loading", "load"),
    "plan_dump": ("diskette.api.dump_plan", "plan_dump"),
    "plan_load": ("diskette.api.loading", "plan_load"),
    "prune": ("diskette.api.archives", "prune"),
    "recover_interrupted": ("diskette.api.recover", "recover_interrupted"),
}

__all__ = [
    "DRAIN_NAME",
    "FORMATS",
    "STORAGES_MODES",
    "ArchiveEntry",
    "DumpPlan",
    "DumpResult",
    "InspectResult",
    "LoadResult",
    "PruneResult",
    "Retention",
    "dump",
    "dump_filename",
    "dumpdata_command_lines",
    "generate_definitions",
    "inspect",
    "list_archives",
    "load",
    "plan_dump",
    "plan_load",
    "prune",
    "recover_interrupted",
]


def __getattr__(name: str) -> Any:
    """Import an exported name on first use, then keep it here."""
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(
            f"module 'diskette.api' has no attribute {name!r}"
        ) from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
