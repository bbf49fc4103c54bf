"""The Python API: :func:`dump`, :func:`load`, :func:`inspect` and their plans.

The management commands are thin adapters over these functions; each returns a
result object (with ``to_dict()`` for JSON) and raises a
:class:`~diskette.exceptions.DisketteError` with a one-line message.
"""

from diskette.api.dump import (
    DumpPlan,
    DumpResult,
    dump,
    dump_filename,
    dumpdata_command_lines,
    plan_dump,
)
from diskette.api.inspect import InspectResult, inspect
from diskette.api.load import LoadResult, load, plan_load
from diskette.api.recover import recover_interrupted

__all__ = [
    "DumpPlan",
    "DumpResult",
    "InspectResult",
    "LoadResult",
    "dump",
    "dump_filename",
    "dumpdata_command_lines",
    "inspect",
    "load",
    "plan_dump",
    "plan_load",
    "recover_interrupted",
]
