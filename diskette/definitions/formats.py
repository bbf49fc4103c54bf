"""The fixture formats a definition (or ``DISKETTE_DUMP_FORMAT``) may name.

One place says which formats exist and which are usable here, so that the
definitions, the system checks and the dump agree on the same message.
"""

from __future__ import annotations

import importlib.util
from typing import Any

#: Fixture formats diskette knows, by file extension.
FORMATS = ("json", "jsonl", "xml", "yaml")


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
