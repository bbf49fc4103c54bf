"""The Python API: :func:`dump`, :func:`load`, :func:`inspect` and their plans.

The management commands are thin adapters over these functions; each returns a
result object (with ``to_dict()`` for JSON) and raises a
:class:`~diskette.exceptions.DisketteError` with a one-line message. They also
find here the few constants their options offer (formats, storages modes, the
drain's name), so that they import nothing else of the package.

The imports are eager: the submodules ``dump``, ``load`` and ``inspect`` carry
the names of the functions, and importing them on first use would let the
module shadow the function. (So importing the dump API also imports the load
side; giving the submodules other names lifts that.)
"""

from diskette.api.dump import (
    DumpPlan,
    DumpResult,
    dump,
    dump_filename,
    dumpdata_command_lines,
    plan_dump,
)
from diskette.api.inspect import inspect
from diskette.api.load import load, plan_load
from diskette.api.recover import recover_interrupted
from diskette.api.results import InspectResult, LoadResult
from diskette.definitions import FORMATS
from diskette.definitions.generator import DRAIN_NAME, generate_definitions
from diskette.restore.swaps import MODES as STORAGES_MODES

__all__ = [
    "DRAIN_NAME",
    "FORMATS",
    "STORAGES_MODES",
    "DumpPlan",
    "DumpResult",
    "InspectResult",
    "LoadResult",
    "dump",
    "dump_filename",
    "dumpdata_command_lines",
    "generate_definitions",
    "inspect",
    "load",
    "plan_dump",
    "plan_load",
    "recover_interrupted",
]
