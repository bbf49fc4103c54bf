"""``diskette_inspect``, as the full install has it."""

from diskette.management.commands.diskette_inspect import Command

__all__ = ["Command"]
