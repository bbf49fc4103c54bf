"""A dump's anonymiser, prepared with its plan: rules, salt, dropped models, refusals.

Everything that could make an anonymised archive wrong is refused here, before
anything is read: a definition written by its own ``dump_command`` (its output
cannot be anonymised), a rule naming a model its definition does not dump, a
relation from a kept model to a dropped one (the archive would not load, or its
natural keys would carry the dropped rows' values), and a foreign key that
points to a faked field by ``to_field`` (the referencing rows hold the value).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from django.apps import apps as django_apps

from diskette.anonymise.anonymiser import Anonymiser, choose_salt
from diskette.anonymise.rules import (
    SALT_SETTING,
    SETTING,
    RawRule,
    RuleSet,
    build_rules,
    check_profile,
    check_salt,
    field_label,
    parse_rules,
    settings_rules,
)
from diskette.definitions import Definition
from diskette.exceptions import ConfigurationError


def check_choice(anonymise: Any, salt: Any) -> None:
    """Raise ConfigurationError for an ``anonymise`` or ``anonymise_salt`` option
    that is not one (True, False, a profile name; a string or None)."""
    if not isinstance(anonymise, bool):
        check_profile(anonymise, "anonymise")
    check_salt(salt, "anonymise_salt")


def settings_rule_set(raw: Any, profile: str | None = None) -> RuleSet:
    """The rules of ``DISKETTE_ANONYMISE`` alone (what the system check reads)."""
    own, rules = settings_rules(raw)
    return build_rules(profile or own, [(SETTING, rules)])


def _definition_rules(
    definition: Definition,
) -> list[RawRule]:
    where = f"definition {definition.name!r}: anonymise"
    rules = parse_rules(dict(definition.anonymise), where)
    models = set(definition.models)
    for model, _field, _action, _value in rules:
        if model._meta.concrete_model._meta.label not in models:
            raise ConfigurationError(
                f"{where} names {model._meta.label}, which the definition does not "
                f"dump: move the rule to {SETTING} or to the definition that dumps it"
            )
    return rules


def plan_anonymiser(
    anonymise: bool | str,
    salt: str | None,
    definitions: Sequence[Definition],
    conf: Any,
) -> tuple[Anonymiser | None, list[Definition]]:
    """The dump's anonymiser (None when not anonymised) and its definitions,
    the dropped models left out (a definition left with none is dropped too)."""
    if anonymise is False:
        return None, list(definitions)
    profile, rules = settings_rules(conf.anonymise)
    if isinstance(anonymise, str):
        profile = anonymise
    for definition in definitions:
        if definition.dump_command:
            raise ConfigurationError(
                f"definition {definition.name!r} is written by its dump_command "
                f"{definition.dump_command!r}, whose output cannot be anonymised: "
                "leave it out (exclude_apps) or dump it with the dumper"
            )
    layers = [(SETTING, rules)]
    layers += [(f"definition {d.name!r}", _definition_rules(d)) for d in definitions]
    rule_set = build_rules(profile, layers)
    check_salt(conf.anonymise_salt, SALT_SETTING)
    dropped = {model._meta.label for model in rule_set.dropped}
    kept = [
        dataclasses.replace(d, models=tuple(m for m in d.models if m not in dropped))
        for d in definitions
    ]
    _check_relations(rule_set, [label for d in kept for label in d.models])
    secret, chosen = choose_salt(salt, conf.anonymise_salt)
    return Anonymiser(rule_set, secret, salted=chosen), [d for d in kept if d.models]


def _check_relations(rule_set: RuleSet, labels: list[str]) -> None:
    """Refuse relations to dropped models and foreign keys to faked fields."""
    dropped = set(rule_set.dropped)
    faked = {field for field, _rule in rule_set.fields}
    for label in labels:
        model = django_apps.get_model(label)
        meta = model._meta
        for field in [*meta.local_fields, *meta.local_many_to_many]:
            target = field.remote_field.model if field.remote_field else None
            if target is None or isinstance(target, str):
                continue
            if target._meta.concrete_model in dropped or target in dropped:
                raise ConfigurationError(
                    f"anonymise: {target._meta.label} is dropped, but "
                    f"{label}.{field.name} points to it: drop {label} too, or keep "
                    f"{target._meta.label} ({{'{target._meta.label}': 'keep'}})"
                )
            targets = getattr(field, "foreign_related_fields", ())
            for pointed in targets:
                if pointed in faked and not pointed.primary_key:
                    raise ConfigurationError(
                        f"anonymise: {label}.{field.name} points to "
                        f"{field_label(pointed)}, which a rule replaces, by its "
                        "value (to_field): the rows would not link; drop the rule "
                        "or the relation's model"
                    )
