"""The generator behind ``diskette_apps``: safe definitions for the installed apps.

One definition per installed app that has models to dump, named after the app's
dotted name, listing its models by label, with ``natural_foreign``. What it does
not dump, and why, is written in the definitions themselves:

* derived models (:mod:`diskette.definitions.derived`: content types, permissions, sessions,
  search indexes, renditions...) and the models the caller excludes are left
  out: an app's definition lists them in ``excludes`` (which also keeps them
  out of any drain) and says why in ``comments``; an app with nothing else is
  not generated at all;
* the definitions come in dependency order (:mod:`diskette.definitions.dependencies`): an app
  whose models point to another app's models comes after it, and apps keep their
  ``INSTALLED_APPS`` order otherwise;
* with ``drain``, a last definition takes the models of every app not listed,
  and ``excludes`` the excluded apps and models and the derived models.

The output passes :func:`diskette.definitions.load_definitions` unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import AppConfig
from django.db.models import Model

from diskette.definitions.dependencies import dependency_order
from diskette.definitions.derived import configured, derived_models, setting_problems
from diskette.definitions.labels import Registry, dumpable_models
from diskette.exceptions import ConfigurationError
from diskette.reporter import Reporter

#: The name the generated drain has.
DRAIN_NAME = "everything else"

#: Why a model the caller excluded is left out.
ON_REQUEST = "excluded on request"


def _find_apps(
    names: Iterable[str], option: str, registry: Registry, problems: list[str]
) -> list[AppConfig]:
    found = []
    for name in names:
        config = registry.by_name.get(name) or registry.app(name)
        if config is None:
            problems.append(f"{option} item {name!r} {registry.unknown_app(name)}")
        else:
            found.append(config)
    return found


def _find_excludes(
    names: Iterable[str], registry: Registry, problems: list[str]
) -> tuple[list[AppConfig], list[type[Model]]]:
    """Apps (labels or dotted names) and models (labels) to leave out."""
    configs: list[AppConfig] = []
    models: list[type[Model]] = []
    for name in names:
        config = registry.by_name.get(name) or registry.app(name)
        if config is not None:
            configs.append(config)
            continue
        if name.count(".") == 1 and registry.app(name.split(".")[0]) is not None:
            found, problem = registry.resolve(name, "excludes")
            if problem:
                problems.append(f"excludes item {name!r} {problem}")
            models.extend(found)
            continue
        close = registry.close_model(name) if name.count(".") == 1 else None
        if close:
            problem = f"is not an installed model: did you mean {close!r}?"
        else:
            problem = registry.unknown_app(name)
            if problem.endswith("check INSTALLED_APPS for the right label"):
                problem = (
                    "is neither an installed app nor a model: give an app label "
                    "('auth'), an app name ('django.contrib.auth') or a model label "
                    "('auth.Permission')"
                )
        problems.append(f"excludes item {name!r} {problem}")
    return configs, models


def _left_out(labels: list[tuple[type[Model], str]]) -> str:
    return "left out: " + ", ".join(
        f"{model._meta.label} ({reason})" for model, reason in labels
    )


def generate_definitions(
    apps: Iterable[str] | None = None,
    excludes: Iterable[str] | None = None,
    drain: bool = False,
    reporter: Reporter | None = None,
) -> list[list]:
    """Definitions for the installed apps that have models to dump, ready for DISKETTE_APPS.

    ``apps`` restricts them to some apps (labels or dotted names); ``excludes``
    leaves apps or models (``auth.Permission``) out. Derived models are left out
    too (see :mod:`diskette.definitions.derived`). With ``drain``, a last definition drains
    the models of every app not listed, except what was left out: that is dumped
    nowhere. Unknown labels, and an invalid ``DISKETTE_DERIVED_MODELS``, raise
    ConfigurationError naming every one; a derived label of a model that is not
    installed is a warning on ``reporter``. Messages name the arguments
    (``apps item 'x'``, ``excludes item 'y'``); ``diskette_apps`` says its flags.
    """
    reporter = reporter or Reporter()
    registry = Registry()
    problems: list[str] = []
    chosen = _find_apps(apps or [], "apps", registry, problems)
    excluded_apps, excluded_models = _find_excludes(excludes or [], registry, problems)
    setting = setting_problems(configured())
    problems.extend(p.sentence for p in setting if not p.warning)
    left = dict(derived_models())
    for model in excluded_models:
        left.setdefault(model, ON_REQUEST)
    problems.extend(_chosen_problems(chosen, left))
    if problems:
        raise ConfigurationError("; ".join(problems))
    for problem in setting:
        if problem.warning:
            reporter.warning(problem.sentence)

    groups: list[list[type[Model]]] = []
    definitions: list[list] = []
    for config in registry.configs:
        if config in excluded_apps or (chosen and config not in chosen):
            continue
        generated = _app_definition(config, left)
        if generated:
            groups.append(generated[0])
            definitions.append(generated[1])
    definitions = [definitions[index] for index in dependency_order(groups)]
    if drain:
        definitions.append(_drain(registry, excluded_apps, left))
    for model, reason in left.items():
        config = model._meta.app_config
        if config not in excluded_apps and (drain or not chosen or config in chosen):
            reporter.info(f"left out: {model._meta.label} ({reason})")
    return definitions


def _chosen_problems(
    chosen: list[AppConfig], left: dict[type[Model], str]
) -> list[str]:
    """Apps asked for by name that would give no definition."""
    problems = []
    for config in chosen:
        models = dumpable_models(config)
        if not models:
            problems.append(
                f"apps item {config.label!r} has no models to dump: leave it out"
            )
        elif all(model in left for model in models):
            problems.append(
                f"apps item {config.label!r} has only models left out of generated "
                f"definitions ({_left_out([(m, left[m]) for m in models])}): leave it "
                "out, or write its definition by hand"
            )
    return problems


def _app_definition(
    config: AppConfig, left: dict[type[Model], str]
) -> tuple[list[type[Model]], list] | None:
    """``(models, definition)`` of one app, or ``None`` when nothing is left to dump."""
    models = dumpable_models(config)
    kept = [model for model in models if model not in left]
    if not kept:
        return None
    dropped = [(model, left[model]) for model in models if model in left]
    options: dict[str, Any] = {"comments": str(config.verbose_name)}
    if dropped:
        options["comments"] += "; " + _left_out(dropped)
    options["natural_foreign"] = True
    options["models"] = [model._meta.label for model in kept]
    if dropped:
        options["excludes"] = [model._meta.label for model, _ in dropped]
    return kept, [config.name, options]


def _drain(
    registry: Registry,
    excluded_apps: list[AppConfig],
    left: dict[type[Model], str],
) -> list:
    """The drain: every model not listed, except the excluded apps and left-out models."""
    apps = [c for c in registry.configs if c in excluded_apps and dumpable_models(c)]
    models = [
        (model, reason)
        for model, reason in sorted(left.items(), key=lambda i: registry.position[i[0]])
        if model._meta.app_config not in excluded_apps
    ]
    options: dict[str, Any] = {
        "comments": "every model no other definition dumps",
    }
    notes = []
    if apps:
        notes.append("apps excluded on request: " + ", ".join(c.label for c in apps))
    if models:
        notes.append(_left_out(models))
    if notes:
        options["comments"] += "; " + "; ".join(notes)
    options["is_drain"] = True
    options["natural_foreign"] = True
    labels = [c.label for c in apps] + [model._meta.label for model, _ in models]
    if labels:
        options["excludes"] = labels
    return [DRAIN_NAME, options]
