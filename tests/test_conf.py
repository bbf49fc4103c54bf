"""The settings accessor: defaults, overrides, cache reset, the star import."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from diskette import settings as defaults
from diskette.conf import DisketteSettings, get_settings, setting_names


@pytest.fixture
def bare():
    """A project that sets no DISKETTE_* setting at all."""
    with override_settings():
        for name in setting_names():
            if hasattr(django_settings, name):
                delattr(django_settings, name)
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


def test_every_setting_has_a_documented_default():
    names = setting_names()
    assert names == [f"DISKETTE_{f.name.upper()}" for f in fields(DisketteSettings)]
    declared = sorted(name for name in vars(defaults) if name.startswith("DISKETTE_"))
    assert sorted(names) == declared


def test_defaults_apply_when_the_project_sets_nothing(bare):
    conf = get_settings()
    for name in setting_names():
        attribute = name.removeprefix("DISKETTE_").lower()
        assert getattr(conf, attribute) == getattr(defaults, name), name


def test_the_defaults_are_safe_and_match_the_original_names(bare):
    conf = get_settings()
    assert conf.dump_filename == "diskette{features}_{timestamp}.tar.gz"
    assert conf.dump_permissions == 0o600
    assert conf.dump_format == "json"
    assert conf.apps == [] and conf.storages == [] and conf.storages_excludes == []


def test_unset_directories_mean_the_working_directory(bare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    conf = get_settings()
    assert conf.storages_base == Path.cwd()
    assert conf.dump_directory == Path.cwd()
    assert conf.load_storages_base == Path.cwd()


def test_project_settings_override_the_defaults(settings, tmp_path):
    settings.DISKETTE_DUMP_FILENAME = "site{date}.tar.gz"
    settings.DISKETTE_STORAGES_BASEPATH = str(tmp_path)
    conf = get_settings()
    assert conf.dump_filename == "site{date}.tar.gz"
    assert conf.storages_base == tmp_path


def test_values_are_not_coerced(settings):
    settings.DISKETTE_DUMP_PERMISSIONS = "600"
    assert get_settings().dump_permissions == "600"  # the checks report it


def test_the_cache_is_forgotten_when_a_setting_changes():
    first = get_settings()
    assert get_settings() is first
    with override_settings(DISKETTE_DOWNLOAD_TIMEOUT=5):
        inside = get_settings()
        assert inside is not first
        assert inside.download_timeout == 5
    after = get_settings()
    assert after.download_timeout == first.download_timeout
    assert after is not inside


def test_other_settings_keep_the_cache():
    first = get_settings()
    with override_settings(DEBUG=not django_settings.DEBUG):
        assert get_settings() is first


def test_the_settings_object_is_frozen():
    with pytest.raises(AttributeError):
        get_settings().dump_format = "xml"  # type: ignore[misc]


def test_the_star_import_gives_the_same_defaults():
    namespace: dict = {}
    exec("from diskette.settings import *", namespace)  # noqa: S102
    star = {
        name: value for name, value in namespace.items() if name.startswith("DISKETTE_")
    }
    assert sorted(star) == sorted(setting_names())
    for name, value in star.items():
        assert value == getattr(defaults, name)


def test_a_project_that_star_imports_reads_the_defaults(bare):
    namespace: dict = {}
    exec("from diskette.settings import *", namespace)  # noqa: S102
    with override_settings(
        **{k: v for k, v in namespace.items() if k.startswith("DISKETTE_")}
    ):
        conf = get_settings()
        for name in setting_names():
            attribute = name.removeprefix("DISKETTE_").lower()
            assert getattr(conf, attribute) == namespace[name]
