"""Checks of the anonymisation settings: ``DISKETTE_ANONYMISE`` and its salt (E030).

The rules are checked by :mod:`diskette.anonymise.rules` itself, against the
installed models (so a stale label is only a warning in Django's system checks,
as for ``DISKETTE_APPS``, and an error for an anonymised dump).
"""

from __future__ import annotations

from diskette.anonymise.planning import settings_rule_set
from diskette.anonymise.rules import SALT_SETTING, SETTING, check_salt
from diskette.conf import DisketteSettings
from diskette.exceptions import ConfigurationError
from diskette.problems import Problem


def anonymise_problems(conf: DisketteSettings) -> list[Problem]:
    """E030 when the rules or the salt are wrong (the message says the fix)."""
    problems = []
    for name, check in (
        (SETTING, lambda: settings_rule_set(conf.anonymise)),
        (SALT_SETTING, lambda: check_salt(conf.anonymise_salt, SALT_SETTING)),
    ):
        try:
            check()
        except ConfigurationError as error:
            problems.append(
                Problem(
                    "E030",
                    (name,),
                    str(error),
                    "See the rules reference in the docs (Anonymised copies).",
                    self_fixing=True,
                    check_warning=True,
                )
            )
    return problems
