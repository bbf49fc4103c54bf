"""The :class:`Definition`: one validated application definition.

It is what every later stage (the dumper, the dependency order, the file-field
check) reads, so it lives apart from the parsing that builds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps as django_apps
from django.db.models import Model


@dataclass(frozen=True)
class Definition:
    """One validated application definition, ready for the dumper.

    ``models`` are the exact model labels (``app_label.ModelName``, Django's
    ``Model._meta.label``) this definition dumps, in dump order; auto-created
    many-to-many through models are never listed (their rows travel with the
    model that owns the field). A drain's models may be empty: everything is
    dumped elsewhere. ``excludes`` are the resolved labels the definition
    excluded, kept for information.
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
    excludes: tuple[str, ...] = ()
    allow_drain: bool = False
    drain_excluded: bool = False
    #: The definition's anonymisation rules as ``(label, rule)`` pairs (see
    #: :mod:`diskette.anonymise.rules`); used only by an anonymised dump.
    anonymise: tuple[tuple[str, Any], ...] = ()

    def model_classes(self) -> list[type[Model]]:
        """The model classes of :attr:`models`, in dump order."""
        return [django_apps.get_model(label) for label in self.models]


#: The original diskette's command for django-polymorphic models, which its docs
#: told definitions to name: a ``dumpdata`` that reads rows through the plain
#: ``QuerySet``. This diskette's dump always reads rows as the class they were
#: saved as, so such a definition is dumped as any other (see :func:`dump_command`).
ORIGINAL_POLYMORPHIC_COMMAND = "polymorphic_dumpdata"


def dump_command(options: dict[str, object]) -> str | None:
    """The command a definition's ``dump_command`` names, or None for diskette's
    own dump (also for the original's ``polymorphic_dumpdata`` when no command of
    that name is installed: what it did, diskette's dump does)."""
    command = options.get("dump_command")
    if command == ORIGINAL_POLYMORPHIC_COMMAND:
        from django.core.management import get_commands

        if command not in get_commands():
            return None
    return command if isinstance(command, str) else None
