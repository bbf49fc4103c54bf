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
