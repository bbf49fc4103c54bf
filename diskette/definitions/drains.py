"""The last step of resolution: fill the drains, order the models, build Definitions.

Runs only on definitions without a problem. A drain takes every model of the
registry that no normal definition dumps, that no earlier drain took, and that
is not withheld (excluded by a normal definition without ``allow_drain``, unless
the drain has ``drain_excluded``); see the package docstring for an example.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.apps import apps as django_apps
from django.core import serializers
from django.db.models import Model

from diskette.definitions.labels import Registry
from diskette.definitions.model import Definition, dump_command

if TYPE_CHECKING:
    from diskette.definitions.resolve import Draft


def build(drafts: list[Draft], registry: Registry) -> list[Definition]:
    """Compute the drains, order the models and make the Definitions."""
    _fill_drains(drafts, registry)
    return [_definition(draft) for draft in drafts]


def _fill_drains(drafts: list[Draft], registry: Registry) -> None:
    claimed: set[type[Model]] = set()
    withheld: set[type[Model]] = set()
    for draft in drafts:
        if draft.options.get("is_drain") is True:
            continue
        claimed.update(draft.selected)
        if draft.options.get("allow_drain") is not True:
            withheld.update(draft.excluded)
    drained: set[type[Model]] = set()
    for draft in drafts:
        if draft.options.get("is_drain") is not True:
            continue
        own = set(draft.excluded)
        keep_out = claimed | drained | own
        if draft.options.get("drain_excluded") is not True:
            keep_out |= withheld
        draft.selected = [m for m in registry.everything if m not in keep_out]
        drained.update(draft.selected)


def _definition(draft: Draft) -> Definition:
    options = draft.options
    natural_foreign = options.get("natural_foreign") is True
    return Definition(
        name=draft.name,
        models=_ordered(draft.selected, natural_foreign),
        filename=draft.filename,
        format=draft.format,
        natural_foreign=natural_foreign,
        natural_primary=options.get("natural_primary") is True,
        use_base_manager=options.get("use_base_manager") is True,
        comments=options.get("comments") or "",
        is_drain=options.get("is_drain") is True,
        dump_command=dump_command(options),
        excludes=tuple(m._meta.label for m in draft.excluded),
        allow_drain=options.get("allow_drain") is True,
        drain_excluded=options.get("drain_excluded") is True,
        anonymise=tuple(dict(options.get("anonymise") or {}).items()),
    )


def _ordered(models: Iterable[type[Model]], natural_foreign: bool) -> tuple[str, ...]:
    """Labels of ``models`` in registry order, dependency-sorted for natural keys."""
    chosen = set(models)
    by_app = []
    for config in django_apps.get_app_configs():
        in_app = [m for m in config.get_models() if m in chosen]
        if in_app:
            by_app.append((config, in_app))
    if natural_foreign:
        ordered = serializers.sort_dependencies(by_app, allow_cycles=True)
    else:
        ordered = [model for _, in_app in by_app for model in in_app]
    return tuple(model._meta.label for model in ordered)
