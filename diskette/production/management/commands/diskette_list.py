"""``diskette_list``, as the full install has it."""

from diskette.management.commands.diskette_list import Command

__all__ = ["Command"]
