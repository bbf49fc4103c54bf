"""``diskette_keys``, as the full install has it."""

from diskette.management.commands.diskette_keys import Command

__all__ = ["Command"]
