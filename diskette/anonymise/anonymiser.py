"""A dump's rules made into functions of values, applied where values are written.

:class:`Anonymiser` turns a :class:`~diskette.anonymise.rules.RuleSet` and a
salt into one function per field, decided once, and applies them in the three
places a fixture's values come from, so that no value escapes and every copy
of a value gets the same fake:

- the row path (:meth:`Anonymiser.row_plan`): the field's converter in the
  :class:`~diskette.dumping.rows.RowPlan` is replaced, so the fast path stays
  one pass over the rows;
- the instance path (:meth:`Anonymiser.hider`): an instance's values are
  replaced before a serializer reads them (every format, natural primary keys);
- related objects whose natural keys the fixture writes (:func:`hide_related`):
  the loaders of :mod:`diskette.dumping.prefetch` and
  :mod:`diskette.dumping.row_links` hide them before ``natural_key()``, so a
  foreign key to a user whose username is faked names the faked username.

The anonymiser of the running dump is set by the dumper
(:func:`diskette.anonymise.active.activated`), which lets those loaders find it
without passing it through every constructor.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from django.db.models import Field, GenericIPAddressField, Model
from django.utils.encoding import is_protected_type

from diskette.anonymise.active import Hide
from diskette.anonymise.fakes import KINDS, FakeError, make_fake
from diskette.anonymise.rules import (
    SALT_SETTING,
    Rule,
    RuleSet,
    field_label,
    is_constrained,
)
from diskette.dumping.rows import VALUE, RowPlan
from diskette.exceptions import ConfigurationError


@dataclass(frozen=True)
class Replacement:
    """One field's rule as functions: ``python`` gives the instance's new value,
    ``written`` the fixture's (they differ for a fixed value of a date, say)."""

    python: Callable[[Any], Any]
    written: Callable[[Any], Any]


def choose_salt(option: str | None, setting: str | None) -> tuple[bytes, bool]:
    """``(salt, chosen)``: the option's, the setting's, the environment's
    ``DISKETTE_ANONYMISE_SALT``, else a random one (``chosen`` is False)."""
    for value in (option, setting, os.environ.get(SALT_SETTING) or None):
        if value is not None:
            return value.encode("utf-8"), True
    return secrets.token_bytes(32), False


class _Stub:
    """Stands for an instance where a built-in field reads its own attribute."""


def _written(field: Field[Any, Any], value: Any) -> Any:
    """What Django's serializer writes for ``value`` in ``field``."""
    if is_protected_type(value):
        return value
    stub = _Stub()
    stub.__dict__[field.attname] = value
    return field.value_to_string(stub)


def _fake(field: Field[Any, Any], rule: Rule, salt: bytes) -> Callable[[Any], Any]:
    protocol = getattr(field, "protocol", "both").lower()
    ipv4 = protocol != "ipv6"
    ipv6 = protocol != "ipv4" and (
        isinstance(field, GenericIPAddressField) or (field.max_length or 39) >= 39
    )
    try:
        fake = make_fake(
            rule.action,
            salt,
            unique=is_constrained(field),
            max_length=field.max_length,
            ipv4=ipv4,
            ipv6=ipv6,
        )
    except FakeError as error:
        raise ConfigurationError(
            f"{rule.origin}: rule {rule.action!r} for {field_label(field)}: the "
            f"fake {error}: use 'hash', or a kind that fits the field"
        ) from None
    if rule.action == "password":
        return lambda value: value if value is None else fake(str(value))
    # Nothing is made of an empty value: it says nothing about anyone.
    return lambda value: value if value in (None, "") else fake(str(value))


def _replacement(field: Field[Any, Any], rule: Rule, salt: bytes) -> Replacement:
    if rule.action in KINDS:
        fake = _fake(field, rule, salt)
        return Replacement(fake, fake)
    if rule.action == "fixed":
        value = field.to_python(rule.value)
        text = _written(field, value)
        return Replacement(lambda _value: value, lambda _value: text)
    constant = None if rule.action == "null" else ""
    return Replacement(lambda _value: constant, lambda _value: constant)


class Anonymiser:
    """The rules of one dump with its salt; never written anywhere but its digest."""

    def __init__(self, rules: RuleSet, salt: bytes, *, salted: bool = True):
        self.rules = rules
        self.salted = salted
        self.replacements = {
            field: _replacement(field, rule, salt) for field, rule in rules.fields
        }
        self.dropped = frozenset(rules.dropped)
        self._hiders: dict[type[Model], Hide | None] = {}

    def manifest_entry(self) -> dict[str, Any]:
        """What the manifest records: the profile and the rules' digest (no salt)."""
        return {"profile": self.rules.profile, "rules": self.rules.digest()}

    def row_plan(self, plan: RowPlan) -> RowPlan:
        """``plan`` with each ruled field's converter replaced (nothing else changes)."""
        meta: Any = plan.model._meta  # type: ignore[attr-defined]
        fields = []
        changed = False
        for entry in plan.fields:
            name, index, _convert, _kept, kind = entry
            found = (
                self.replacements.get(meta.get_field(name)) if kind is VALUE else None
            )
            if found is None:
                fields.append(entry)
                continue
            # No type is kept as it is: the replacement sees every value.
            fields.append((name, index, found.written, frozenset(), VALUE))
            changed = True
        return replace(plan, fields=tuple(fields)) if changed else plan

    def hider(self, model: type[Model]) -> Hide | None:
        """The function replacing an instance's ruled values, or None (none ruled)."""
        if model in self._hiders:
            return self._hiders[model]
        pairs = [
            (field.attname, self.replacements[field].python)
            for field in model._meta.concrete_fields
            if field in self.replacements
        ]
        hide = None
        if pairs:

            def hide(obj: Any) -> None:
                values = obj.__dict__
                for attname, python in pairs:
                    if attname in values:
                        values[attname] = python(values[attname])

        self._hiders[model] = hide
        return hide
