"""Application definitions: which models each fixture holds, parsed and validated.

``DISKETTE_APPS`` is a list of ``[name, options]`` pairs. :func:`load_definitions`
checks their shape against the JSON schema shipped in ``schemas/definitions.json``,
resolves every label against the app registry, computes the drains, and returns
one :class:`Definition` per pair: the exact, ordered list of models the dumper
writes into one fixture. Every problem of every definition is reported at once,
in a :class:`~diskette.exceptions.DefinitionError`; the input is never mutated.

Which models a label selects, mirroring ``dumpdata``:

* an app label (``"sites"``, any case) selects the app's concrete models;
* a model label (``"auth.User"``, any case) selects that model;
* proxy models are never dumped (they have no rows of their own; ``dumpdata``
  skips them too), so naming one is an error that names its concrete model;
* unmanaged models are dumped, as ``dumpdata`` does;
* auto-created many-to-many through models (``auth.User_groups``) are never
  listed: their rows travel with the model that declares the field, so naming
  one is an error that names that model; swapped models are an error too.

Drains. A definition with ``"is_drain": True`` lists no models: it collects every
model of every installed app, including apps nobody named, that no normal
definition dumps, minus its own ``excludes``. Models that a normal definition
*excludes* are kept out of every drain, because excluding says "do not dump
this"; two options relax that:

* ``"allow_drain": True`` on a normal definition hands its excludes to the drains;
* ``"drain_excluded": True`` on a drain makes that drain also take the models
  every normal definition excludes.

For example, with only ``auth``, ``sites`` and ``sessions`` installed::

    [
        ["auth", {"models": "auth", "excludes": ["auth.Permission"]}],
        ["rest", {"is_drain": True}],
    ]

dumps ``auth.Group`` and ``auth.User`` in ``auth``, and ``sites.Site`` and
``sessions.Session`` in ``rest``; ``auth.Permission`` is dumped nowhere. Add
``"allow_drain": True`` to ``auth`` (or ``"drain_excluded": True`` to ``rest``)
and ``rest`` dumps ``auth.Permission`` as well. With several drains, the first
one (in list order) that may take a model takes it; no model is dumped twice.

Inside a definition, models come in app registry order (``INSTALLED_APPS``,
then model declaration order); with ``natural_foreign`` they are sorted with
Django's ``sort_dependencies``, as ``dumpdata --natural-foreign`` does, so that
objects referenced by natural key are loaded first.

The package, by job: :mod:`~diskette.definitions.model` (the Definition),
:mod:`~diskette.definitions.formats`, :mod:`~diskette.definitions.schema` (the
shape and its messages), :mod:`~diskette.definitions.labels` and
:mod:`~diskette.definitions.resolve` (labels, file names, cross-checks),
:mod:`~diskette.definitions.drains`; then what reads Definitions:
:mod:`~diskette.definitions.dependencies`, :mod:`~diskette.definitions.derived`
and :mod:`~diskette.definitions.generator` (``diskette_apps``).
"""

from __future__ import annotations

from typing import Any

from diskette.conf import get_settings
from diskette.definitions.formats import FORMATS, available_formats, format_problem
from diskette.definitions.model import Definition
from diskette.definitions.resolve import analyse
from diskette.definitions.schema import option_names, schema
from diskette.exceptions import DefinitionError

__all__ = [
    "FORMATS",
    "Definition",
    "analyse_definitions",
    "available_formats",
    "definition_problems",
    "format_problem",
    "load_definitions",
    "option_names",
    "schema",
]


def definition_problems(raw: Any = None, *, default_format: Any = None) -> list[str]:
    """Every problem of the definitions ``raw`` (default ``DISKETTE_APPS``), one per line.

    ``default_format`` defaults to ``DISKETTE_DUMP_FORMAT``. An empty list means
    :func:`load_definitions` succeeds.
    """
    conf = get_settings()
    raw = conf.apps if raw is None else raw
    fmt = conf.dump_format if default_format is None else default_format
    return analyse(raw, fmt)[0]


def analyse_definitions(
    raw: Any, default_format: Any
) -> tuple[list[str], list[Definition]]:
    """``(problems, definitions)`` of ``raw``: the definitions when there is no problem.

    For callers that need both, so that the definitions are analysed once.
    """
    return analyse(raw, default_format)


def load_definitions(raw: Any = None) -> list[Definition]:
    """Validate and resolve the definitions ``raw`` (default ``DISKETTE_APPS``).

    Raises :class:`DefinitionError` listing every problem of every definition.
    """
    conf = get_settings()
    raw = conf.apps if raw is None else raw
    problems, definitions = analyse(raw, conf.dump_format)
    if problems:
        raise DefinitionError(problems)
    return definitions
