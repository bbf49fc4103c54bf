"""``diskette_recover``, as the full install has it."""

from diskette.management.commands.diskette_recover import Command

__all__ = ["Command"]
