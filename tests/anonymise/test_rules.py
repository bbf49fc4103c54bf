"""Rule validation: one-line messages naming the setting, the bad value and the fix."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from diskette import api
from diskette.anonymise.planning import plan_anonymiser, settings_rule_set
from diskette.checks import settings_problems
from diskette.conf import get_settings
from diskette.definitions import Definition, load_definitions
from diskette.exceptions import ConfigurationError


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], r"DISKETTE_ANONYMISE is \[\], not a dict"),
        ({"profil": "share"}, r"unknown key 'profil'"),
        ({"profile": "public"}, r"'public' is not a profile: use one of 'share'"),
        ({"rules": {"auth.User.email": "emial"}}, r"rule 'emial' .* is not a rule"),
        (
            {"rules": {"auth.Nope.email": "email"}},
            r"'auth.Nope.email' names no installed",
        ),
        ({"rules": {"auth.User.mail": "email"}}, r"auth.User has no field 'mail'"),
        ({"rules": {"auth.User": "email"}}, r"is not a rule: .*drop or keep"),
        (
            {"rules": {"auth.User.is_staff": "email"}},
            r"fakes replace text.*BooleanField",
        ),
        ({"rules": {"auth.User.username": "blank"}}, r"unique.*use a fake or 'hash'"),
        ({"rules": {"auth.User.email": "null"}}, r"not nullable"),
        ({"rules": {"auth.User.groups": "email"}}, r"primary key or a relation"),
        ({"rules": {"auth.User.id": "hash"}}, r"primary key or a relation"),
        (
            {"rules": {"auth.User.date_joined": {"fixed": "soon"}}},
            r"does not take it .*give a value of the field's type",
        ),
    ],
)
def test_bad_rules_are_refused_in_one_line(raw, message):
    with pytest.raises(ConfigurationError, match=message) as caught:
        settings_rule_set(raw)
    assert "\n" not in str(caught.value)


def test_the_share_profile_covers_the_user_and_drops_private_models():
    rules = settings_rule_set({"profile": "share"})
    covered = {f"{f.model._meta.label}.{f.name}": r.action for f, r in rules.fields}
    assert covered == {
        "auth.User.password": "password",
        "auth.User.email": "email",
        "auth.User.first_name": "first_name",
        "auth.User.last_name": "last_name",
        "auth.User.username": "username",
    }
    dropped = {m._meta.label for m in rules.dropped}
    assert {"sessions.Session", "admin.LogEntry"} <= dropped


def test_keep_and_later_layers_override_the_profile():
    rules = settings_rule_set(
        {
            "rules": {
                "auth.User.first_name": "keep",
                "auth.User.last_name": {"fixed": "Doe"},
                "sessions.Session": "keep",
            }
        }
    )
    by_name = {f.name: r for f, r in rules.fields}
    assert "first_name" not in by_name
    assert by_name["last_name"].value == "Doe"
    assert User._meta.get_field("first_name") in rules.kept
    assert "sessions.Session" not in {m._meta.label for m in rules.dropped}
    assert rules.digest() != settings_rule_set({}).digest()
    assert settings_rule_set({"profile": "none"}).fields == ()


def test_a_bad_setting_is_a_system_check_and_refuses_an_anonymised_dump(settings):
    settings.DISKETTE_ANONYMISE = {"rules": {"auth.User.email": "emial"}}
    (problem,) = [p for p in settings_problems() if p.id == "E030"]
    assert "DISKETTE_ANONYMISE['rules']" in problem.message
    with pytest.raises(ConfigurationError, match="emial"):
        api.plan_dump(anonymise=True, with_storages=False)
    api.plan_dump(with_storages=False)  # not anonymised: the setting is not read


def test_bad_options_are_refused():
    with pytest.raises(ConfigurationError, match="anonymise 'public' is not a profile"):
        api.plan_dump(anonymise="public", with_storages=False)
    with pytest.raises(ConfigurationError, match="anonymise_salt '' must be"):
        api.plan_dump(anonymise=True, anonymise_salt="", with_storages=False)


def test_a_relation_to_a_dropped_model_is_refused(settings):
    settings.DISKETTE_ANONYMISE = {"profile": "none", "rules": {"auth.Group": "drop"}}
    with pytest.raises(ConfigurationError, match=r"auth.User.groups points to it"):
        plan_anonymiser(True, None, load_definitions(), get_settings())


def test_definition_rules_apply_to_their_own_models_only():
    own = Definition(
        name="library",
        models=("library.Author",),
        filename="library.json",
        format="json",
        anonymise=(("library.Author.bio", "text"),),
    )
    anonymiser, _kept = plan_anonymiser("none", "s", [own], get_settings())
    assert [f.name for f, _r in anonymiser.rules.fields] == ["bio"]
    stranger = Definition(
        name="library",
        models=("library.Author",),
        filename="library.json",
        format="json",
        anonymise=(("auth.User.email", "email"),),
    )
    with pytest.raises(ConfigurationError, match="which the definition does not dump"):
        plan_anonymiser("none", "s", [stranger], get_settings())


def test_definitions_accept_the_anonymise_option():
    (definition,) = load_definitions(
        [
            [
                "people",
                {
                    "models": ["library.Author"],
                    "anonymise": {"library.Author.bio": "text"},
                },
            ]
        ]
    )
    assert definition.anonymise == (("library.Author.bio", "text"),)


def test_dump_commands_cannot_be_anonymised():
    custom = Definition(
        name="custom",
        models=(),
        filename="c.json",
        format="json",
        dump_command="dumpdata",
    )
    with pytest.raises(ConfigurationError, match="cannot be anonymised"):
        plan_anonymiser(True, None, [custom], get_settings())
