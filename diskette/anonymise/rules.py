"""Anonymisation rules: read from the settings, a profile and the definitions, checked.

A rule set says, per field, what its values become (a fake of a kind, blank,
null, a fixed value) and which models are left out (``drop``). It comes from
three layers, each overriding the one before: the profile (``share``, see
:data:`SHARE_DROPS`), ``DISKETTE_ANONYMISE["rules"]``, then the ``anonymise``
option of each application definition; ``keep`` removes what a layer below
said. Every rule is checked against its field here, once, before anything is
read, so that a dump never writes a value the field would refuse or a fake
that would break a unique constraint.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import (
    CharField,
    Field,
    GenericIPAddressField,
    Model,
    TextField,
    UniqueConstraint,
)

from diskette.anonymise.fakes import KINDS
from diskette.exceptions import ConfigurationError

SETTING = "DISKETTE_ANONYMISE"
SALT_SETTING = "DISKETTE_ANONYMISE_SALT"
#: The built-in profiles: ``share`` (see the docs), ``none`` (the rules alone).
PROFILES = ("share", "none")
#: What a field rule may say besides a kind of fake and ``{"fixed": value}``.
FIELD_ACTIONS = (*KINDS, "blank", "null", "keep")
#: What a model rule may say.
MODEL_ACTIONS = ("drop", "keep")
#: Models the ``share`` profile leaves out, as patterns of lower case labels:
#: sessions, the admin's log, and the tokens of password resets and APIs.
SHARE_DROPS = (
    "sessions.session",
    "admin.logentry",
    "*.*token",
    "*.*tokens",
    "*.*session",
    "*.*passwordreset*",
    "*.*resetpassword*",
    "account.emailconfirmation",
    "oauth2_provider.grant",
)
_FIX = (
    f"use one of {', '.join(FIELD_ACTIONS)} or {{'fixed': value}} for a field "
    "('app.Model.field'), drop or keep for a model ('app.Model')"
)


#: One rule as a layer states it: ``(model, field or None for the model, action,
#: value)``, the value being a ``fixed`` rule's (None otherwise).
RawRule = tuple[type[Model], "Field[Any, Any] | None", str, Any]


@dataclass(frozen=True)
class Rule:
    """What one field's values become: ``action`` a kind of fake, ``blank``,
    ``null`` or ``fixed`` (with ``value``); ``origin`` says which layer set it."""

    action: str
    value: Any = None
    origin: str = SETTING

    def describe(self) -> str:
        return f"fixed {self.value!r}" if self.action == "fixed" else self.action


@dataclass(frozen=True)
class RuleSet:
    """The rules of one dump, resolved to fields and models, checked."""

    profile: str
    fields: tuple[tuple[Field[Any, Any], Rule], ...]
    dropped: tuple[type[Model], ...]
    #: Fields a ``keep`` rule says are not personal (no warning about them).
    kept: tuple[Field[Any, Any], ...] = ()

    def canonical(self) -> dict[str, Any]:
        """The rules as plain, sorted data: what :meth:`digest` hashes."""
        return {
            "profile": self.profile,
            "fields": sorted(
                [field_label(field), rule.action, rule.value]
                for field, rule in self.fields
            ),
            "dropped": sorted(model._meta.label for model in self.dropped),
        }

    def digest(self) -> str:
        """SHA-256 of the canonical rules: which rule set an archive was made by."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def field_label(field: Field[Any, Any]) -> str:
    """``app_label.Model.field`` of the model whose rows hold the field."""
    return f"{field.model._meta.label}.{field.name}"


def is_constrained(field: Field[Any, Any]) -> bool:
    """Whether the field is unique, alone or with others (its values must stay apart)."""
    if field.unique:
        return True
    meta = field.model._meta
    together = [set(names) for names in meta.unique_together]
    together += [
        set(c.fields) for c in meta.constraints if isinstance(c, UniqueConstraint)
    ]
    return any(field.name in names or field.attname in names for names in together)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _target(key: Any, where: str) -> tuple[type[Model], Field[Any, Any] | None]:
    """The model and field (None for a model rule) ``key`` names."""
    if not isinstance(key, str) or key.count(".") not in (1, 2):
        raise ConfigurationError(
            f"{where}: {_show(key)} names no model or field: write 'app.Model' or "
            "'app.Model.field'"
        )
    label, _dot, name = key.partition(".")
    model_name, _dot, field_name = name.partition(".")
    try:
        model = django_apps.get_model(label, model_name)
    except LookupError:
        raise ConfigurationError(
            f"{where}: {key!r} names no installed model: check the label "
            "('app_label.ModelName')"
        ) from None
    if not field_name:
        return model, None
    try:
        field = model._meta.get_field(field_name)
    except Exception:
        raise ConfigurationError(
            f"{where}: {model._meta.label} has no field {field_name!r}: check the name"
        ) from None
    return model, field  # type: ignore[return-value]


def parse_rules(raw: Any, where: str) -> list[RawRule]:
    """``(model, field or None, action, value)`` of a rules dict, checked for shape."""
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"{where} is {_show(raw)}, not a dict: write {{'app.Model.field': rule}}"
        )
    found = []
    for key, rule in raw.items():
        model, field = _target(key, where)
        value = None
        allowed = MODEL_ACTIONS if field is None else FIELD_ACTIONS
        if isinstance(rule, Mapping) and list(rule) == ["fixed"] and field is not None:
            action, value = "fixed", rule["fixed"]
        elif isinstance(rule, str) and rule in allowed:
            action = rule
        else:
            raise ConfigurationError(
                f"{where}: rule {_show(rule)} for {key!r} is not a rule: {_FIX}"
            )
        found.append((model, field, action, value))
    return found


def settings_rules(raw: Any) -> tuple[str, list[RawRule]]:
    """The profile and the rules of ``DISKETTE_ANONYMISE``, checked for shape."""
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"{SETTING} is {_show(raw)}, not a dict: write "
            "{'profile': 'share', 'rules': {'app.Model.field': rule}}"
        )
    unknown = [key for key in raw if key not in ("profile", "rules")]
    if unknown:
        raise ConfigurationError(
            f"{SETTING} has the unknown key {_show(unknown[0])}: its keys are "
            "'profile' and 'rules'"
        )
    profile = raw.get("profile", "share")
    check_profile(profile, f"{SETTING}['profile']")
    return profile, parse_rules(raw.get("rules", {}), f"{SETTING}['rules']")


def check_profile(profile: Any, where: str) -> None:
    if profile not in PROFILES:
        raise ConfigurationError(
            f"{where} {_show(profile)} is not a profile: use one of "
            + ", ".join(repr(p) for p in PROFILES)
        )


def check_salt(salt: Any, where: str) -> None:
    if salt is not None and (not isinstance(salt, str) or not salt):
        raise ConfigurationError(
            f"{where} {_show(salt)} must be a non-empty string, or None for a "
            "random salt per dump"
        )


def _share_profile() -> list[RawRule]:
    """The ``share`` profile: the user model's personal fields, and the drops."""
    user = get_user_model()
    fields = {field.name: field for field in user._meta.concrete_fields}
    email = user.get_email_field_name()
    wanted = {
        "password": "password",
        email: "email",
        "first_name": "first_name",
        "last_name": "last_name",
    }
    wanted.setdefault(user.USERNAME_FIELD, "username")
    rules: list[RawRule] = [
        (user, fields[name], action, None)
        for name, action in wanted.items()
        if name in fields
    ]
    for model in django_apps.get_models():
        label = model._meta.label_lower
        if any(fnmatch.fnmatchcase(label, pattern) for pattern in SHARE_DROPS):
            rules.append((model, None, "drop", None))
    return rules


def build_rules(
    profile: str,
    layers: Iterable[tuple[str, list[RawRule]]],
) -> RuleSet:
    """The rule set of ``profile`` overridden by each ``(origin, rules)`` layer."""
    fields: dict[Field[Any, Any], Rule] = {}
    kept: set[Field[Any, Any]] = set()
    dropped: dict[type[Model], str] = {}
    base = ("profile 'share'", _share_profile()) if profile == "share" else None
    for origin, rules in ([base] if base else []) + list(layers):
        for model, field, action, value in rules:
            if field is None:
                dropped.pop(model, None)
                if action == "drop":
                    dropped[model] = origin
                continue
            fields.pop(field, None)
            kept.discard(field)
            if action == "keep":
                kept.add(field)
            else:
                fields[field] = Rule(action, value, origin)
    checked = tuple((field, _checked(field, rule)) for field, rule in fields.items())
    return RuleSet(
        profile=profile, fields=checked, dropped=tuple(dropped), kept=tuple(kept)
    )


_TEXT_FIELDS = (CharField, TextField, GenericIPAddressField)


def _checked(field: Field[Any, Any], rule: Rule) -> Rule:
    """``rule`` if it fits ``field``; ConfigurationError naming both otherwise."""
    where = f"{rule.origin}: rule {rule.describe()!r} for {field_label(field)}"
    kind = type(field).__name__
    if field.primary_key or field.is_relation or not field.concrete:
        raise ConfigurationError(
            f"{where}: a {kind} that is a primary key or a relation keeps its "
            "values (the rows would not link): anonymise the fields of the "
            "related model instead"
        )
    action = rule.action
    constrained = is_constrained(field)
    if action in KINDS and not isinstance(field, _TEXT_FIELDS):
        raise ConfigurationError(
            f"{where}: fakes replace text, and this is a {kind}: use 'null' or "
            "{'fixed': value}"
        )
    if action in ("blank", "null", "fixed") and constrained:
        raise ConfigurationError(
            f"{where}: the field is unique, and one value for every row would "
            "break that: use a fake or 'hash', which stay unique"
        )
    if action == "blank" and not isinstance(field, (CharField, TextField)):
        raise ConfigurationError(f"{where}: a {kind} has no blank value: use 'null'")
    if action == "null" and not field.null:
        raise ConfigurationError(
            f"{where}: the field is not nullable: use 'blank' or {{'fixed': value}}"
        )
    if action == "fixed":
        try:
            field.to_python(rule.value)
        except ValidationError as error:
            raise ConfigurationError(
                f"{where}: the field does not take it ({'; '.join(error.messages)}): "
                "give a value of the field's type"
            ) from None
    return rule
