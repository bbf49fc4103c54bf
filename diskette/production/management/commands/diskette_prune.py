"""``diskette_prune``, as the full install has it."""

from diskette.management.commands.diskette_prune import Command

__all__ = ["Command"]
