"""diskette.dumping.relations and the dump-time warning: relations to rows the archive lacks."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from diskette import api
from diskette.definitions import load_definitions
from diskette.dumping.relations import dangling_relations
from diskette.environment import installed_distributions
from diskette.exceptions import ConfigurationError
from diskette.manifest import Manifest
from diskette.reporter import Reporter


class Recorder(Reporter):
    verbosity = 1

    def __init__(self):
        self.warnings = []

    def warning(self, message):
        self.warnings.append(message)


def found(raw):
    return {
        (item.definition, item.label, item.target, item.by_primary_key)
        for item in dangling_relations(load_definitions(raw))
    }


REVIEW_ONLY = [
    [
        "library",
        {
            "natural_foreign": True,
            "models": ["library.Publisher", "library.Author", "library.Tag"]
            + ["library.Book", "library.Review"],
        },
    ]
]


def test_a_user_reference_without_users_is_found():
    assert found(REVIEW_ONLY) == {
        ("library", "library.Review.reviewer", "auth.User", False)
    }


def test_dumping_the_target_too_clears_it():
    auth = ["auth", {"models": ["auth.User", "auth.Group"], "natural_foreign": True}]
    raw = [*REVIEW_ONLY, auth]
    assert found(raw) == set()


def test_many_to_many_one_to_one_parent_and_self_references():
    raw = [["books", {"natural_foreign": True, "models": ["library.EBook"]}]]
    assert found(raw) == {("books", "library.EBook.book_ptr", "library.Book", False)}
    raw = [["books", {"natural_foreign": True, "models": ["library.Book"]}]]
    assert {item[1] for item in found(raw)} == {
        "library.Book.publisher",
        "library.Book.authors",
        "library.Book.tags",
    }  # Book.sequel points to Book itself: dumped


def test_an_explicit_through_model_carries_the_relation():
    raw = [["shelves", {"models": ["library.Shelf"]}]]
    assert found(raw) == set()  # Shelf.books goes through ShelfEntry
    raw = [["shelves", {"models": ["library.Shelf", "library.ShelfEntry"]}]]
    assert found(raw) == {("shelves", "library.ShelfEntry.book", "library.Book", False)}


def test_content_types_and_permissions_need_natural_keys():
    # Note.content_type is the content type of a generic foreign key: its
    # object cannot be known without the data, its content type can.
    natural = [["notes", {"natural_foreign": True, "models": ["library.Note"]}]]
    assert found(natural) == set()
    by_pk = [["notes", {"models": ["library.Note"]}]]
    assert found(by_pk) == {
        ("notes", "library.Note.content_type", "contenttypes.ContentType", True)
    }
    users = [["auth", {"models": ["auth.User", "auth.Group"]}]]
    assert found(users) == {
        ("auth", "auth.User.user_permissions", "auth.Permission", True),
        ("auth", "auth.Group.permissions", "auth.Permission", True),
    }


def test_sites_are_not_assumed_to_exist():
    raw = [["log", {"natural_foreign": True, "models": ["admin.LogEntry"]}]]
    assert found(raw) == {("log", "admin.LogEntry.user", "auth.User", False)}


def test_the_sandbox_definitions_leave_nothing_dangling():
    assert dangling_relations(load_definitions(django_settings.DISKETTE_APPS)) == []


def test_messages_name_the_definition_model_field_and_fix():
    (item,) = dangling_relations(load_definitions(REVIEW_ONLY))
    assert str(item) == (
        "definition 'library': library.Review.reviewer (foreign key) points to "
        "auth.User, which no definition dumps and a freshly migrated database does "
        "not hold: dump auth.User too"
    )
    (item,) = dangling_relations(
        load_definitions([["notes", {"models": ["library.Note"]}]])
    )
    assert "by primary key" in str(item) and "'natural_foreign': True" in str(item)


def test_plan_dump_warns_through_the_reporter(tmp_path):
    reporter = Recorder()
    plan = api.plan_dump(
        definitions=REVIEW_ONLY,
        with_storages=False,
        destination=tmp_path,
        reporter=reporter,
    )
    assert len(reporter.warnings) == 1
    assert "library.Review.reviewer" in reporter.warnings[0]
    assert plan.warnings == reporter.warnings
    assert plan.describe()["warnings"] == reporter.warnings


def test_strict_refuses_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigurationError) as raised:
        api.dump(
            definitions=REVIEW_ONLY,
            with_storages=False,
            destination=tmp_path / "dumps",
            strict=True,
        )
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("strict: 1 relation(s)")
    assert "library.Review.reviewer" in message
    assert not (tmp_path / "dumps").exists()


@pytest.mark.django_db
def test_dump_command_warns_and_strict_fails(tmp_path):
    appconf = tmp_path / "apps.json"
    appconf.write_text(json.dumps(REVIEW_ONLY), "utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "diskette_dump",
        appconf=str(appconf),
        no_storages=True,
        destination=str(tmp_path),
        stdout=out,
        stderr=err,
    )
    assert "definition 'library': library.Review.reviewer" in err.getvalue()
    (archive,) = tmp_path.glob("diskette_data_*.tar.gz")
    assert archive.is_file()

    with pytest.raises(CommandError) as raised:
        call_command(
            "diskette_dump",
            appconf=str(appconf),
            no_storages=True,
            destination=str(tmp_path / "strict"),
            strict=True,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert raised.value.returncode == ConfigurationError.exit_code
    assert "library.Review.reviewer" in str(raised.value)
    assert not (tmp_path / "strict").exists()


@pytest.mark.django_db
def test_check_and_json_show_the_warning(tmp_path):
    appconf = tmp_path / "apps.json"
    appconf.write_text(json.dumps(REVIEW_ONLY), "utf-8")
    options = {
        "appconf": str(appconf),
        "no_storages": True,
        "destination": str(tmp_path),
    }
    err = io.StringIO()
    call_command(
        "diskette_dump", check=True, stdout=io.StringIO(), stderr=err, **options
    )
    assert "library.Review.reviewer" in err.getvalue()

    out = io.StringIO()
    call_command(
        "diskette_dump", json=True, stdout=out, stderr=io.StringIO(), **options
    )
    (warning,) = json.loads(out.getvalue())["warnings"]
    assert "library.Review.reviewer" in warning


@pytest.mark.django_db
def test_the_manifest_records_the_environment(tmp_path):
    result = api.dump(
        definitions=[["sites", {"models": ["sites"]}]],
        with_storages=False,
        destination=tmp_path,
    )
    with tarfile.open(result.path, "r:gz") as tar:
        manifest = Manifest.from_bytes(tar.extractfile("manifest.json").read())
    assert list(manifest.environment) == installed_distributions()
    assert any(entry.startswith("Django") for entry in manifest.environment)
