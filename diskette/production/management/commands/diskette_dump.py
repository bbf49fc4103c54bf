"""``diskette_dump``, as the full install has it."""

from diskette.management.commands.diskette_dump import Command

__all__ = ["Command"]
