"""Labels: app and model labels resolved against the app registry, with suggestions.

Shared by the definitions (``models`` and ``excludes``), the generator behind
``diskette_apps`` (``--app``, ``--exclude``) and ``DISKETTE_DERIVED_MODELS``, so a
wrong label gets the same suggestion everywhere: an app label for an app label,
a model label for a model label.
"""

from __future__ import annotations

import difflib

from django.apps import AppConfig
from django.apps import apps as django_apps
from django.db.models import Model


def dumpable_models(app_config: AppConfig) -> list[type[Model]]:
    """The models of an app that own rows: no proxies, auto-created or swapped ones."""
    return [model for model in app_config.get_models() if not model._meta.proxy]


class Registry:
    """Case-insensitive lookups of app and model labels, with suggestions.

    Built from the app registry when created: create one per analysis.
    """

    def __init__(self) -> None:
        self.configs = list(django_apps.get_app_configs())
        self.by_label = {config.label.lower(): config for config in self.configs}
        self.by_name = {config.name: config for config in self.configs}
        self.everything = [m for c in self.configs for m in dumpable_models(c)]
        self.position = {model: index for index, model in enumerate(self.everything)}
        self.model_names: dict[str, list[str]] = {}
        for config in self.configs:
            for model in dumpable_models(config):
                self.model_names.setdefault(model._meta.model_name, []).append(
                    model._meta.label
                )

    def app(self, label: str) -> AppConfig | None:
        return self.by_label.get(label.lower())

    def close_model(self, label: str) -> str | None:
        """The installed model label closest to ``label`` (any case), or ``None``."""
        labels = {
            model._meta.label.lower(): model._meta.label for model in self.everything
        }
        close = difflib.get_close_matches(label.lower(), list(labels), n=1)
        return labels[close[0]] if close else None

    def unknown_app(self, label: str) -> str:
        if label in self.by_name:
            return (
                f"is an app name, not a label: use its label "
                f"{self.by_name[label].label!r}"
            )
        models = self.model_names.get(label.lower())
        if models:
            return (
                "is not an app label: did you mean "
                + " or ".join(repr(m) for m in models)
                + "?"
            )
        if "." in label:
            close = difflib.get_close_matches(label, list(self.by_name), n=1)
            if close:
                return f"is not an installed app: did you mean {close[0]!r}?"
        labels = [config.label for config in self.configs]
        close = difflib.get_close_matches(
            label.lower(), [x.lower() for x in labels], n=1
        )
        if close:
            return f"is not an installed app label: did you mean {self.app(close[0]).label!r}?"
        return "is not an installed app label: check INSTALLED_APPS for the right label"

    def resolve(self, label: str, key: str) -> tuple[list[type[Model]], str | None]:
        """Models selected by ``label``, or a problem saying what is wrong and the fix."""
        parts = label.split(".")
        if len(parts) == 1:
            config = self.app(label)
            if config is None:
                return [], self.unknown_app(label)
            models = dumpable_models(config)
            if not models and key == "models":
                return [], f"is an app without models to dump: remove {label!r}"
            return models, None
        if not all(parts):
            return [], "is not a label: write 'app_label' or 'app_label.ModelName'"
        if len(parts) > 2:  # looks like a dotted app name
            return [], self.unknown_app(label)
        config = self.app(parts[0])
        if config is None:
            return [], self._unknown_app_of_model(label, parts[0])
        try:
            model = config.get_model(parts[1])
        except LookupError:
            return [], self._unknown_model(config, parts[1])
        problem = _undumpable(model, "name" if key == "models" else "exclude")
        return ([], problem) if problem else ([model], None)

    def _unknown_app_of_model(self, label: str, app_label: str) -> str:
        """Why ``app_label.Model`` names no app: a dotted app name, a typo."""
        if label in self.by_name:
            return self.unknown_app(label)
        close = self.close_model(label)
        if close:
            return f"is not an installed model: did you mean {close!r}?"
        return f"names the app {app_label!r}, which " + self.unknown_app(app_label)

    def _unknown_model(self, config: AppConfig, name: str) -> str:
        """Why ``name`` is no model of ``config``, with the closest one."""
        names = [m.__name__ for m in dumpable_models(config)]
        close = difflib.get_close_matches(name, names, n=1)
        if not close:
            lowered = {name.lower(): name for name in names}
            close = [
                lowered[c]
                for c in difflib.get_close_matches(name.lower(), lowered, n=1)
            ]
        fix = (
            f"did you mean '{config.label}.{close[0]}'?"
            if close
            else "its models are " + ", ".join(names or ["(none)"])
        )
        return f"is not a model of the app {config.label!r}: {fix}"


def _undumpable(model: type[Model], verb: str) -> str | None:
    """Why an installed model cannot be named (``verb``: name, exclude), or ``None``."""
    meta = model._meta
    if meta.auto_created:
        owner = meta.auto_created._meta
        field = next(
            (
                f.name
                for f in owner.local_many_to_many
                if f.remote_field.through is model
            ),
            "?",
        )
        return (
            f"is the automatic table of the many-to-many field "
            f"{owner.label}.{field}, whose rows travel with {owner.label!r}: "
            f"{verb} {owner.label!r} instead"
        )
    if meta.swapped:
        return f"is swapped for {meta.swapped!r}: {verb} {meta.swapped!r} instead"
    if meta.proxy:
        concrete = meta.concrete_model._meta.label
        return (
            f"is a proxy model, without rows of its own (dumpdata skips it too): "
            f"{verb} its concrete model {concrete!r} instead"
        )
    return None
