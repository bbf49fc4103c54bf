"""Models a fresh site recreates or derives from other data: generated definitions skip them.

Dumping them is at best wasted space and at worst harmful: content types and
permissions are recreated by ``migrate`` (under other ids), sessions and the
admin's log belong to the source site, and search indexes, image renditions and
thumbnail caches are rebuilt from the content itself. ``diskette_apps`` leaves
them out of what it generates, saying why in the definitions' ``comments``.

The built-in list (:data:`BUILTIN_DERIVED`, plus the concrete subclasses of
:data:`DERIVED_BASES`, such as a project's own Wagtail rendition model) covers
Django's contrib apps and well-known third-party apps; labels of apps that are
not installed are ignored. Projects add their own model labels with the
``DISKETTE_DERIVED_MODELS`` setting. A hand-written ``DISKETTE_APPS`` is not
affected: what it names is dumped.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as django_apps
from django.db.models import Model

from diskette.conf import get_settings
from diskette.definitions.labels import Registry, dumpable_models
from diskette.problems import Problem, kind_of

#: The setting that extends the built-in list.
SETTING = "DISKETTE_DERIVED_MODELS"

_MIGRATE = "recreated by migrate"
_RENDITIONS = "resized images, made again from the originals"
_EASY_THUMBNAILS = "easy-thumbnails' cache of generated thumbnails"
_WAGTAIL_SEARCH = "Wagtail's search index, rebuilt by update_index"

#: Model label -> why generated definitions leave it out.
BUILTIN_DERIVED: dict[str, str] = {
    "contenttypes.ContentType": _MIGRATE,
    "auth.Permission": _MIGRATE,
    "sessions.Session": "the source site's logins, not content",
    "admin.LogEntry": "the admin's history of the source site",
    "wagtailsearch.IndexEntry": _WAGTAIL_SEARCH,
    "wagtailsearch.SQLiteFTSIndexEntry": _WAGTAIL_SEARCH,
    "wagtailcore.ReferenceIndex": (
        "Wagtail's reference index, rebuilt by rebuild_references_index"
    ),
    "wagtailimages.Rendition": _RENDITIONS,
    "wagtailembeds.Embed": "Wagtail's cache of oEmbed responses, fetched again",
    "wagtailadmin.EditingSession": "who is editing what on the source site",
    "easy_thumbnails.Source": _EASY_THUMBNAILS,
    "easy_thumbnails.Thumbnail": _EASY_THUMBNAILS,
    "easy_thumbnails.ThumbnailDimensions": _EASY_THUMBNAILS,
    "thumbnail.KVStore": "sorl-thumbnail's cache of generated thumbnails",
}

#: Abstract base class (module.QualName) -> why its concrete subclasses are left out.
DERIVED_BASES: dict[str, str] = {
    "wagtail.images.models.AbstractRendition": _RENDITIONS,
}

#: Why a model of ``DISKETTE_DERIVED_MODELS`` is left out.
FROM_SETTING = f"listed in {SETTING}"


def configured() -> Any:
    """The value of ``DISKETTE_DERIVED_MODELS`` (default ``[]``), not validated."""
    return get_settings().derived_models


def setting_problems(value: Any) -> list[Problem]:
    """Problems of a ``DISKETTE_DERIVED_MODELS`` value.

    A value that is not a list of model labels is an error (diskette.E016); a
    label of a model that is not installed is a warning (diskette.W004), since a
    removed app must not stop anything, with the closest label as suggestion.
    """
    related = (SETTING,)
    hint = f"Write a list of model labels, for example {SETTING} = ['myapp.Thumbnail']."
    if not isinstance(value, (list, tuple)):
        return [
            Problem(
                "E016",
                related,
                f"{SETTING} is {value!r} ({kind_of(value)}), not a list of model labels",
                hint,
                check_warning=True,
            )
        ]
    if not value:
        return []
    registry = Registry()
    problems = []
    for label in value:
        problem = _label_problem(label, registry)
        if problem is None:
            continue
        unknown, text = problem
        problems.append(
            Problem(
                "W004" if unknown else "E016",
                related,
                f"{SETTING}: {label!r} {text}",
                f"List the labels of installed models, such as 'auth.Permission'; "
                f"remove the labels of apps you no longer use from {SETTING}.",
                warning=unknown,
                self_fixing=True,
                check_warning=not unknown,
            )
        )
    return problems


def _label_problem(label: Any, registry: Registry) -> tuple[bool, str] | None:
    """``(unknown, what is wrong)`` for one label, or ``None`` when it names a model."""
    if not isinstance(label, str):
        return (
            False,
            f"is {kind_of(label)}, not a model label: write 'app_label.ModelName'",
        )
    parts = label.split(".")
    if len(parts) == 1 and parts[0]:
        config = registry.app(label)
        models = dumpable_models(config) if config else []
        example = models[0]._meta.label if models else f"{label}.ModelName"
        return False, (
            f"is an app label, not a model label: list its models, such as {example!r}"
        )
    if len(parts) != 2 or not all(parts):
        return False, "is not a model label: write 'app_label.ModelName'"
    try:
        django_apps.get_model(label)
    except LookupError:
        return True, registry.resolve(label, "excludes")[1] or "is not installed"
    problem = registry.resolve(label, "excludes")[1]  # a proxy, a swapped model...
    return None if problem is None else (False, problem)


def _lowered_labels(value: Any) -> dict[str, str]:
    """The usable labels of the setting, lower-cased, with their reason."""
    if not isinstance(value, (list, tuple)):
        return {}
    return {
        label.lower(): FROM_SETTING
        for label in value
        if isinstance(label, str) and label.count(".") == 1
    }


def derived_reason(model: type[Model], extra: Any = None) -> str | None:
    """Why generated definitions leave ``model`` out, or ``None`` if they dump it.

    ``extra`` are model labels added to the built-in list (default:
    ``DISKETTE_DERIVED_MODELS``); invalid ones are skipped (see
    :func:`setting_problems`).
    """
    return _reason(model, _reasons(extra))


def _reasons(extra: Any) -> dict[str, str]:
    reasons = {label.lower(): reason for label, reason in BUILTIN_DERIVED.items()}
    for label, reason in _lowered_labels(
        configured() if extra is None else extra
    ).items():
        reasons.setdefault(label, reason)
    return reasons


def _reason(model: type[Model], reasons: dict[str, str]) -> str | None:
    if model._meta.label_lower in reasons:
        return reasons[model._meta.label_lower]
    for cls in model.__mro__:
        reason = DERIVED_BASES.get(f"{cls.__module__}.{cls.__qualname__}")
        if reason:
            return reason
    return None


def derived_models(extra: Any = None) -> dict[type[Model], str]:
    """Every installed model to leave out of generated definitions, with why.

    ``extra`` as for :func:`derived_reason`. The models come in app registry order.
    """
    reasons = _reasons(extra)
    found: dict[type[Model], str] = {}
    for config in django_apps.get_app_configs():
        for model in dumpable_models(config):
            reason = _reason(model, reasons)
            if reason:
                found[model] = reason
    return found
