"""One problem of the settings, as the system checks and the commands report it.

The same :class:`Problem` becomes a Django check message (``manage.py check``) and
a sentence of a :class:`~diskette.exceptions.ConfigurationError` (diskette's
commands), so a bad value reads the same everywhere.

It lives outside the :mod:`diskette.checks` package on purpose: a stage
(:mod:`diskette.definitions.derived`) reports its setting's problems with it, and
the checks package imports the stages, so keeping this value type a leaf avoids
an import cycle. ``from diskette.checks import Problem`` works too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core import checks


@dataclass(frozen=True)
class Problem:
    """One problem of the settings; ``settings`` are the settings it concerns."""

    id: str
    settings: tuple[str, ...]
    message: str
    hint: str
    warning: bool = False
    #: The message already says how to fix the problem.
    self_fixing: bool = False
    #: An error for diskette's commands, only a warning in Django's system checks:
    #: a stale label in DISKETTE_APPS must not stop ``makemigrations`` or ``migrate``.
    check_warning: bool = False
    #: Only where a dump would run (a dump, ``manage.py check --deploy``), not in
    #: the system checks every command runs: a fresh target has no media yet.
    dump_only: bool = False

    @property
    def sentence(self) -> str:
        """The message with its fix, on one line (for ConfigurationError)."""
        if self.self_fixing:
            return self.message
        return f"{self.message}: {self.hint[0].lower()}{self.hint[1:].rstrip('.')}"

    def check_message(self) -> checks.CheckMessage:
        """The Django check message: a warning when it must not block other commands."""
        level = checks.Warning if self.warning or self.check_warning else checks.Error
        return level(self.message, hint=self.hint, id=f"diskette.{self.id}")


def kind_of(value: Any) -> str:
    """How a message names the type of a wrong setting value: ``an int``, ``None``."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"
