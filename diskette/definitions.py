"""Application definitions: which models each fixture holds, parsed and validated.

TODO(foundation): implementation in progress; the public names below are the contract.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Fixture formats diskette knows, by file extension.
FORMATS = ("json", "jsonl", "xml", "yaml")


@dataclass(frozen=True)
class Definition:
    """One validated application definition, ready for the dumper.

    ``models`` are the exact model labels (``app_label.ModelName``, Django's
    ``Model._meta.label``) this definition dumps, in dump order; auto-created
    many-to-many through models are never listed (their rows travel with the
    model that owns the field).
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
