"""``diskette_apps``, as the full install has it."""

from diskette.management.commands.diskette_apps import Command

__all__ = ["Command"]
