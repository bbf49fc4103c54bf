"""What a dump's rules touch, and which personal-looking fields they leave as they are.

For ``diskette_dump --check``: each rule with the field it replaces, the models
left out, and a warning for each dumped field that looks personal (by its type,
``EmailField`` and ``GenericIPAddressField``, or by its name: e-mail, phone,
names, address, IP...) that no rule covers. It reads no data: a rule set is
checked by what it says, and a field by what its model declares.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.apps import apps as django_apps
from django.db.models import EmailField, Field, GenericIPAddressField

from diskette.anonymise.anonymiser import Anonymiser
from diskette.anonymise.rules import field_label, is_constrained
from diskette.definitions import Definition

#: Names of fields that usually hold personal data (matched on whole words).
PERSONAL_NAMES = re.compile(
    r"(?:^|_)(?:e?mail|phone|mobile|fax|tel|telephone|first_?name|last_?name|"
    r"full_?name|surname|given_?name|family_?name|middle_?name|address|street|"
    r"city|zip|zip_?code|post_?code|postal_?code|ip|ip_?address|birth_?date|"
    r"birthday|date_of_birth|dob|ssn|iban)(?:$|_)",
    re.IGNORECASE,
)


def looks_personal(field: Field[Any, Any]) -> str | None:
    """Why ``field`` looks personal (its type or its name), or None."""
    if isinstance(field, (EmailField, GenericIPAddressField)):
        return f"a {type(field).__name__}"
    if PERSONAL_NAMES.search(field.name):
        return f"named {field.name!r}"
    return None


def survey(anonymiser: Anonymiser, definitions: Sequence[Definition]) -> dict[str, Any]:
    """``{"profile", "rules", "dropped", "uncovered"}`` for the dumped models:
    the rules as ``{field, rule, origin, unique}``, the uncovered fields as
    one warning line each."""
    rules = anonymiser.rules
    ruled = {field for field, _rule in rules.fields} | set(rules.kept)
    uncovered = []
    for definition in definitions:
        if definition.dump_command:
            continue
        for label in definition.models:
            meta = django_apps.get_model(label)._meta
            for field in meta.local_fields:
                if field in ruled or field.is_relation or field.primary_key:
                    continue
                why = looks_personal(field)
                if why is not None:
                    uncovered.append(
                        f"{field_label(field)} is {why} and looks personal, but no "
                        "rule covers it: add one to DISKETTE_ANONYMISE['rules'] "
                        "(or 'keep' it to say it is not)"
                    )
    return {
        "profile": rules.profile,
        "digest": rules.digest(),
        "salted": anonymiser.salted,
        "rules": [
            {
                "field": field_label(field),
                "rule": rule.describe(),
                "origin": rule.origin,
                "unique": is_constrained(field),
            }
            for field, rule in rules.fields
        ],
        "dropped": sorted(model._meta.label for model in rules.dropped),
        "uncovered": uncovered,
    }
