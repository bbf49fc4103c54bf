"""DISKETTE_ARCHIVE_STORAGE: the three styles, get_destination and the check E018."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.files.storage import FileSystemStorage, InMemoryStorage

from diskette.checks import raise_for_settings, settings_problems
from diskette.destinations import LocalDestination, StorageDestination, get_destination
from diskette.exceptions import ConfigurationError

DEFAULT_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.fixture
def dumps(settings, tmp_path):
    """A dump directory and a STORAGES alias 'backups' under tmp_path."""
    settings.DISKETTE_DUMP_PATH = tmp_path / "dumps"
    settings.STORAGES = {
        **DEFAULT_STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "backups")},
        },
    }
    return tmp_path


def e018_messages():
    return [m for m in run_checks(tags=["diskette"]) if m.id == "diskette.E018"]


def test_the_default_is_the_dump_directory(dumps):
    destination = get_destination()
    assert isinstance(destination, LocalDestination)
    assert destination.location == dumps / "dumps"
    assert isinstance(get_destination("local"), LocalDestination)
    assert e018_messages() == []


def test_without_a_dump_path_it_is_the_working_directory(
    settings, tmp_path, monkeypatch
):
    settings.DISKETTE_DUMP_PATH = None
    monkeypatch.chdir(tmp_path)
    destination = get_destination()
    assert isinstance(destination, LocalDestination)
    assert destination.location == tmp_path


def test_an_alias_of_storages(dumps, settings):
    settings.DISKETTE_ARCHIVE_STORAGE = "backups"
    destination = get_destination()
    assert isinstance(destination, StorageDestination)
    destination.write("site.tar.gz", io.BytesIO(b"a"))
    assert (dumps / "backups" / "site.tar.gz").read_bytes() == b"a"
    assert e018_messages() == []
    # --to / --from name an alias, or the word local, whatever the setting says.
    assert isinstance(get_destination("local"), LocalDestination)
    assert isinstance(get_destination("default"), StorageDestination)


def test_a_dict_naming_a_django_storage_class(dumps, settings):
    settings.DISKETTE_ARCHIVE_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(dumps / "elsewhere")},
    }
    destination = get_destination()
    assert isinstance(destination, StorageDestination)
    assert Path(destination.storage.location) == dumps / "elsewhere"
    assert e018_messages() == []


def test_a_dict_naming_a_destination_class(dumps, settings):
    settings.DISKETTE_ARCHIVE_STORAGE = {
        "BACKEND": "diskette.destinations.LocalDestination",
        "OPTIONS": {"location": dumps / "local", "permissions": 0o640},
    }
    destination = get_destination()
    assert isinstance(destination, LocalDestination)
    assert destination.location == dumps / "local"
    assert destination.permissions == 0o640
    assert e018_messages() == []


def test_instances_are_used_as_they_are_and_storages_wrapped(settings, tmp_path):
    local = LocalDestination(tmp_path)
    settings.DISKETTE_ARCHIVE_STORAGE = local
    assert get_destination() is local
    storage = InMemoryStorage()
    settings.DISKETTE_ARCHIVE_STORAGE = storage
    wrapped = get_destination()
    assert isinstance(wrapped, StorageDestination) and wrapped.storage is storage
    assert get_destination(FileSystemStorage(location=tmp_path)).exists("x") is False
    assert e018_messages() == []


class NotADestination:
    def read(self, path):
        return b""

    write = "not callable"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "backupz",
            "DISKETTE_ARCHIVE_STORAGE is 'backupz', neither 'local' nor an alias of "
            "STORAGES (its aliases: 'default', 'staticfiles', 'backups')",
        ),
        (
            "/var/backups",
            "alias of STORAGES (its aliases: 'default', 'staticfiles', 'backups') "
            "(a directory goes in DISKETTE_DUMP_PATH)",
        ),
        (
            Path("/var/backups"),
            "DISKETTE_ARCHIVE_STORAGE is the path '/var/backups': a directory goes in "
            "DISKETTE_DUMP_PATH",
        ),
        (
            LocalDestination,
            "DISKETTE_ARCHIVE_STORAGE is the class "
            "diskette.destinations.local.LocalDestination, not an instance: write "
            "{'BACKEND': 'diskette.destinations.local.LocalDestination'}",
        ),
        (
            NotADestination(),
            "which is not a destination: it has no write, list, delete, exists",
        ),
        (42, "42 (an int), which is not a destination: it has no read, write"),
        (
            {"BACKEND": "x.Y", "OPTION": {}},
            "DISKETTE_ARCHIVE_STORAGE has the keys 'OPTION': only BACKEND and OPTIONS",
        ),
        ({"OPTIONS": {}}, "DISKETTE_ARCHIVE_STORAGE has no BACKEND"),
        (
            {"BACKEND": "diskette.destinations.LocalDestination", "OPTIONS": [1]},
            "has OPTIONS [1] (a list), not a dict of arguments",
        ),
        (
            {"BACKEND": "nowhere.Storage"},
            "DISKETTE_ARCHIVE_STORAGE BACKEND 'nowhere.Storage' cannot be imported",
        ),
        (
            {"BACKEND": "diskette.destinations.get_destination"},
            "BACKEND 'diskette.destinations.get_destination' is a function, not a "
            "class",
        ),
        (
            {"BACKEND": "pathlib.Path"},
            "BACKEND 'pathlib.Path' is neither a Django storage nor a destination: "
            "it has no read, write, list, delete",
        ),
        ({"BACKEND": 3}, "BACKEND is 3 (an int), not a dotted path to a class"),
    ],
)
def test_e018_says_what_is_wrong_and_get_destination_says_the_same(
    dumps, settings, value, message
):
    settings.DISKETTE_ARCHIVE_STORAGE = value
    (check,) = e018_messages()
    assert message in check.msg
    assert check.is_serious()
    for style in ("None", "STORAGES", "'BACKEND'", "'OPTIONS'", "an instance"):
        assert style in check.hint
    with pytest.raises(ConfigurationError) as caught:
        get_destination()
    assert str(caught.value).startswith(check.msg + ": set DISKETTE_ARCHIVE_STORAGE")
    with pytest.raises(ConfigurationError) as raised:
        raise_for_settings(["DISKETTE_ARCHIVE_STORAGE"])
    assert str(raised.value) == str(caught.value)


def test_an_alias_whose_backend_cannot_be_imported(dumps, settings):
    settings.STORAGES = {**DEFAULT_STORAGES, "cloud": {"BACKEND": "missing.Cloud"}}
    settings.DISKETTE_ARCHIVE_STORAGE = "cloud"
    (problem,) = settings_problems(["DISKETTE_ARCHIVE_STORAGE"])
    assert problem.id == "E018"
    assert problem.message.startswith(
        "DISKETTE_ARCHIVE_STORAGE is 'cloud', whose BACKEND 'missing.Cloud' cannot "
        "be imported"
    )


def test_an_option_names_the_destination_not_the_setting(dumps):
    with pytest.raises(ConfigurationError) as caught:
        get_destination("nightly")
    assert str(caught.value).startswith(
        "destination is 'nightly', neither 'local' nor an alias of STORAGES"
    )


def test_options_the_class_refuses_are_a_configuration_error(dumps, settings):
    settings.DISKETTE_ARCHIVE_STORAGE = {
        "BACKEND": "diskette.destinations.LocalDestination",
        "OPTIONS": {"where": "/tmp"},
    }
    assert e018_messages() == []  # the check never makes a backend
    with pytest.raises(ConfigurationError) as caught:
        get_destination()
    message = str(caught.value)
    assert message.startswith(
        "diskette.destinations.LocalDestination(**OPTIONS) failed with TypeError: "
    )
    assert "'where'" in message and "fix its OPTIONS" in message


def test_a_storages_alias_whose_options_are_wrong(dumps, settings):
    settings.STORAGES = {
        **DEFAULT_STORAGES,
        "bad": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"bucket": "x"},
        },
    }
    with pytest.raises(ConfigurationError, match=r"STORAGES\['bad'\] failed with"):
        get_destination("bad")
