"""The derived models generated definitions leave out: built-in list and setting."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models
from django.test.utils import isolate_apps

from diskette.definitions.derived import (
    BUILTIN_DERIVED,
    DERIVED_BASES,
    FROM_SETTING,
    derived_models,
    derived_reason,
)
from tests.conftest import REPO_ROOT


def labels(found: dict) -> dict[str, str]:
    return {model._meta.label: reason for model, reason in found.items()}


def test_the_contrib_apps_derived_models_in_registry_order():
    assert labels(derived_models()) == {
        "admin.LogEntry": "the admin's history of the source site",
        "auth.Permission": "recreated by migrate",
        "contenttypes.ContentType": "recreated by migrate",
        "sessions.Session": "the source site's logins, not content",
    }


def test_the_setting_adds_labels_in_any_case_and_skips_invalid_ones(settings):
    settings.DISKETTE_DERIVED_MODELS = ["library.note", "gone.Model", 3, "library"]
    found = labels(derived_models())
    assert found["library.Note"] == FROM_SETTING
    assert set(found) == {
        "admin.LogEntry",
        "auth.Permission",
        "contenttypes.ContentType",
        "sessions.Session",
        "library.Note",
    }
    # An explicit list replaces the setting; the built-in list always applies.
    assert "library.Note" not in labels(derived_models([]))
    assert labels(derived_models(["library.Tag"]))["library.Tag"] == FROM_SETTING
    settings.DISKETTE_DERIVED_MODELS = "not a list"
    assert "library.Note" not in labels(derived_models())


def test_a_built_in_reason_wins_over_the_setting(settings):
    settings.DISKETTE_DERIVED_MODELS = ["sessions.Session"]
    assert derived_reason(apps.get_model("sessions.Session")) == (
        "the source site's logins, not content"
    )
    assert derived_reason(apps.get_model("library.Book")) is None


def test_subclasses_of_a_derived_base_are_derived():
    # A project's own rendition model: its label is the project's, its base is
    # Wagtail's AbstractRendition (given here by module and name).
    module, _, name = next(iter(DERIVED_BASES)).rpartition(".")
    with isolate_apps("sandbox.library"):
        base = type(
            name,
            (models.Model,),
            {"__module__": module, "Meta": type("Meta", (), {"abstract": True})},
        )
        rendition = type(
            "CustomRendition",
            (base,),
            {
                "__module__": __name__,
                "Meta": type("Meta", (), {"app_label": "library"}),
            },
        )
        assert derived_reason(rendition) == DERIVED_BASES[f"{module}.{name}"]
        assert derived_reason(rendition, extra=[]) == DERIVED_BASES[f"{module}.{name}"]


@pytest.mark.parametrize("label", [*BUILTIN_DERIVED, *DERIVED_BASES])
def test_every_built_in_entry_is_documented(label):
    text = (REPO_ROOT / "docs" / "definitions.rst").read_text("utf-8")
    assert f"``{label}``" in text
