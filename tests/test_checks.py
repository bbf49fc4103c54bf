"""System checks of the DISKETTE_* settings, and raise_for_settings."""

from __future__ import annotations

import sys

import pytest
from django.core.checks import Warning, run_checks

from diskette.checks import raise_for_settings, settings_problems
from diskette.exceptions import ConfigurationError
from tests.conftest import REPO_ROOT, run_manage


@pytest.fixture
def clean(settings, tmp_path):
    """Valid settings with one existing storage under a base in tmp_path."""
    base = tmp_path / "base"
    (base / "media").mkdir(parents=True)
    settings.DISKETTE_STORAGES_BASEPATH = base
    settings.DISKETTE_STORAGES = [base / "media"]
    settings.DISKETTE_STORAGES_EXCLUDES = ["cache/*", "**/*.tmp"]
    settings.DISKETTE_DUMP_PATH = tmp_path / "dumps"
    settings.DISKETTE_LOAD_STORAGES_PATH = None
    settings.DISKETTE_APPS = [["sites", {"models": "sites"}]]
    return settings


def diskette_messages(deploy: bool = False):
    messages = run_checks(tags=["diskette"], include_deployment_checks=deploy)
    return [m for m in messages if m.id.startswith("diskette.")]


def only(check_id: str, deploy: bool = False):
    """The diskette check messages, asserting they all have ``check_id``."""
    messages = diskette_messages(deploy)
    assert messages, "no check message"
    assert {m.id for m in messages} == {f"diskette.{check_id}"}, [
        (m.id, m.msg) for m in messages
    ]
    for message in messages:
        assert message.hint, message
    return messages


def test_valid_settings_give_no_message(clean):
    assert diskette_messages() == []
    raise_for_settings()


def test_the_sandbox_settings_give_no_error():
    errors = [m for m in diskette_messages() if m.is_serious()]
    assert errors == []


def test_e001_each_definition_problem_is_one_message(clean):
    clean.DISKETTE_APPS = [["users", {"models": ["auth.Usr", "sitez"]}]]
    first, second = only("E001")
    # A warning for Django (makemigrations and migrate go on), an error for diskette.
    assert isinstance(first, Warning) and not first.is_serious()
    with pytest.raises(ConfigurationError, match="'auth.Usr' is not a model"):
        raise_for_settings(["DISKETTE_APPS"])
    assert first.msg == (
        "DISKETTE_APPS: definition 'users': models 'auth.Usr' is not a model of the "
        "app 'auth': did you mean 'auth.User'?"
    )
    assert "'sitez' is not an installed app label: did you mean 'sites'?" in second.msg
    assert "diskette_apps" in first.hint


def test_e001_a_string_where_the_list_belongs(clean):
    clean.DISKETTE_APPS = "sites"
    (message,) = only("E001")
    assert message.msg.startswith(
        "DISKETTE_APPS: the definitions are 'sites' (a string)"
    )


def test_e002_storages_must_be_a_list(clean):
    clean.DISKETTE_STORAGES = "media"
    (message,) = only("E002")
    assert (
        message.msg == "DISKETTE_STORAGES is 'media' (a str), not a list of directories"
    )
    assert message.hint == (
        "Write a list of directory paths, for example DISKETTE_STORAGES = ['media']."
    )


def test_e003_storages_outside_equal_duplicate_or_nested(clean, tmp_path):
    base = tmp_path / "base"
    (base / "media" / "inner").mkdir()
    clean.DISKETTE_STORAGES = [
        tmp_path / "elsewhere",
        base,
        "media",
        base / "media",
        "media/inner",
    ]
    messages = only("E003")
    texts = [m.msg for m in messages]
    assert len(texts) == 4
    assert "outside the storages base path" in texts[0]
    assert "is the storages base path" in texts[1]
    assert "is listed twice" in texts[2]
    assert "'media/inner' is inside storage 'media'" in texts[3]
    assert all(text.startswith("DISKETTE_STORAGES: storage ") for text in texts)
    assert "DISKETTE_STORAGES_BASEPATH" in messages[0].hint


def test_e004_excludes_must_be_a_list(clean):
    clean.DISKETTE_STORAGES_EXCLUDES = "*.tmp"
    (message,) = only("E004")
    assert message.msg == (
        "DISKETTE_STORAGES_EXCLUDES is '*.tmp' (a str), not a list of patterns"
    )
    assert "DISKETTE_STORAGES_EXCLUDES = ['*.tmp']" in message.hint


def test_e005_invalid_exclude_patterns(clean):
    clean.DISKETTE_STORAGES_EXCLUDES = [
        "ok/*",
        "/anchored/*",
        3,
        " ",
        "/",
        "../x",
        "a/../b",
    ]
    texts = [m.msg for m in only("E005")]
    assert texts == [
        "DISKETTE_STORAGES_EXCLUDES: pattern 3 is an int, not a string",
        "DISKETTE_STORAGES_EXCLUDES: pattern ' ' is empty",
        "DISKETTE_STORAGES_EXCLUDES: pattern '/' is empty",
        "DISKETTE_STORAGES_EXCLUDES: pattern '../x' goes up with '..', out of the "
        "storage",
        "DISKETTE_STORAGES_EXCLUDES: pattern 'a/../b' goes up with '..', out of the "
        "storage",
    ]


@pytest.mark.parametrize(
    "name",
    ["DISKETTE_STORAGES_BASEPATH", "DISKETTE_DUMP_PATH", "DISKETTE_LOAD_STORAGES_PATH"],
)
def test_e006_path_settings_must_be_paths(clean, name):
    setattr(clean, name, 42)
    (message,) = only("E006")
    assert message.msg == f"{name} is 42 (an int), not a path"
    assert message.hint.startswith(f"Set {name} to a directory path")


@pytest.mark.parametrize("value", ["", None, "dumps/x.tar.gz", "..", "a\\b.tar.gz"])
def test_e007_the_dump_filename_must_be_a_plain_name(clean, value):
    clean.DISKETTE_DUMP_FILENAME = value
    (message,) = only("E007")
    assert message.msg.startswith(f"DISKETTE_DUMP_FILENAME {value!r}") or (
        message.msg.startswith(f"DISKETTE_DUMP_FILENAME is {value!r}")
    )
    assert "DISKETTE_DUMP_PATH" in message.hint


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{feature}.tar.gz", "has the unknown placeholder {feature}"),
        ("d{}.tar.gz", "has the unknown placeholder {}"),
        ("{date:%Y}.tar.gz", "formats the placeholder {date}; write it bare"),
        ("{date!r}.tar.gz", "formats the placeholder {date}; write it bare"),
        ("diskette{.tar.gz", "is malformed"),
    ],
)
def test_e008_only_features_and_date_placeholders(clean, value, expected):
    clean.DISKETTE_DUMP_FILENAME = value
    (message,) = only("E008")
    assert message.msg.startswith(f"DISKETTE_DUMP_FILENAME {value!r} {expected}")
    assert "{features}, {date}" in message.hint


def test_the_documented_placeholders_are_accepted(clean):
    clean.DISKETTE_DUMP_FILENAME = "site-{date}{features}.tar.gz"
    assert diskette_messages() == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            600,
            "600 (0o1130), not a file mode between 0o000 and 0o777 (did you mean 0o600?)",
        ),
        ("0o600", "'0o600', not a file mode between 0o000 and 0o777"),
        (-1, "-1, not a file mode between 0o000 and 0o777"),
        (True, "True, not a file mode between 0o000 and 0o777"),
    ],
)
def test_e009_dump_permissions_must_be_a_mode(clean, value, expected):
    clean.DISKETTE_DUMP_PERMISSIONS = value
    (message,) = only("E009")
    assert message.msg == f"DISKETTE_DUMP_PERMISSIONS is {expected}"
    assert "0o600" in message.hint


def test_e010_dump_format_must_be_a_fixture_format(clean):
    clean.DISKETTE_DUMP_FORMAT = "csv"
    # The definitions need the format for their file names, yet the problem is
    # reported once, by E010.
    (message,) = only("E010")
    assert message.msg.startswith("DISKETTE_DUMP_FORMAT 'csv' is not a fixture format")
    assert message.hint.startswith("Set DISKETTE_DUMP_FORMAT to one of 'json'")


def test_e010_yaml_needs_pyyaml(clean, monkeypatch):
    clean.DISKETTE_DUMP_FORMAT = "yaml"
    assert diskette_messages() == []
    monkeypatch.setitem(sys.modules, "yaml", None)  # PyYAML not importable
    (message,) = only("E010")
    assert "needs PyYAML, which is not installed" in message.msg
    assert "'yaml'" not in message.hint


@pytest.mark.parametrize(
    ("name", "value", "low"),
    [
        ("DISKETTE_LOAD_MINIMAL_FILESIZE", -1, 0),
        ("DISKETTE_LOAD_MAX_SIZE", "big", 1),
        ("DISKETTE_LOAD_MAX_MEMBERS", 0, 1),
        ("DISKETTE_DOWNLOAD_MAX_SIZE", True, 1),
    ],
)
def test_e011_limits_must_be_integers_in_range(clean, name, value, low):
    setattr(clean, name, value)
    (message,) = only("E011")
    assert message.msg.startswith(f"{name} is {value!r}")
    assert message.msg.endswith(f"not an integer of at least {low}")
    assert message.hint.startswith(f"Set {name} to a whole number of at least {low}")


def test_e012_allowed_protocols_must_be_a_list_of_schemes(clean):
    clean.DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS = "https"
    (message,) = only("E012")
    assert "not a list of URL schemes" in message.msg
    clean.DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS = ["https", "HTTP", 3, "a b"]
    texts = [m.msg for m in only("E012")]
    assert texts == [
        "DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS: 'HTTP' is not a URL scheme",
        "DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS: 3 is not a URL scheme",
        "DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS: 'a b' is not a URL scheme",
    ]


def test_e013_allow_redirect_must_be_a_boolean(clean):
    clean.DISKETTE_DOWNLOAD_ALLOW_REDIRECT = "no"
    (message,) = only("E013")
    assert (
        message.msg
        == "DISKETTE_DOWNLOAD_ALLOW_REDIRECT is 'no' (a str), not True or False"
    )
    assert message.hint == "Set DISKETTE_DOWNLOAD_ALLOW_REDIRECT to True or False."


@pytest.mark.parametrize("value", [0, -5, "60", True, None])
def test_e014_timeout_must_be_positive_seconds(clean, value):
    clean.DISKETTE_DOWNLOAD_TIMEOUT = value
    (message,) = only("E014")
    assert message.msg.startswith(f"DISKETTE_DOWNLOAD_TIMEOUT is {value!r}")
    assert "greater than 0" in message.hint


def test_a_fractional_timeout_is_fine(clean):
    clean.DISKETTE_DOWNLOAD_TIMEOUT = 2.5
    assert diskette_messages() == []


def test_e015_a_storage_that_is_a_file(clean, tmp_path):
    (tmp_path / "base" / "notes.txt").write_text("x")
    clean.DISKETTE_STORAGES = ["notes.txt"]
    (message,) = only("E015")
    assert "storage 'notes.txt'" in message.msg
    assert message.msg.endswith("is a file, not a directory")


def test_w001_a_missing_storage_is_a_warning_only_where_a_dump_runs(clean, tmp_path):
    clean.DISKETTE_STORAGES = ["media", "later"]
    assert diskette_messages() == []  # the checks every command runs
    (message,) = only("W001", deploy=True)
    assert isinstance(message, Warning)
    assert not message.is_serious()
    assert message.msg.startswith("DISKETTE_STORAGES: storage 'later' (")
    assert message.hint == "Create the directory, or remove it from DISKETTE_STORAGES."
    raise_for_settings()  # a warning does not stop anything


def test_w002_archives_readable_by_others(clean):
    clean.DISKETTE_DUMP_PERMISSIONS = 0o644
    (message,) = only("W002")
    assert "group or others can read the archives" in message.msg
    assert "0o600" in message.hint


def test_w003_archives_unreadable_by_their_owner(clean):
    clean.DISKETTE_DUMP_PERMISSIONS = 0o200
    (message,) = only("W003")
    assert "the owner cannot read the archives" in message.msg


def test_e018_the_archive_storage_must_name_a_destination(clean):
    clean.DISKETTE_ARCHIVE_STORAGE = "backupz"
    (message,) = only("E018")
    assert message.msg.startswith(
        "DISKETTE_ARCHIVE_STORAGE is 'backupz', neither 'local' nor an alias of STORAGES"
    )
    assert "{'BACKEND': 'dotted.path.Class', 'OPTIONS': {...}}" in message.hint
    with pytest.raises(ConfigurationError, match="'backupz', neither 'local'"):
        raise_for_settings(["DISKETTE_ARCHIVE_STORAGE"])


# ---- raise_for_settings ------------------------------------------------------------


def test_raise_for_settings_lists_every_error_with_its_fix(clean):
    clean.DISKETTE_STORAGES = "media"
    clean.DISKETTE_DOWNLOAD_TIMEOUT = 0
    clean.DISKETTE_APPS = [["users", {"models": "auth.Usr"}]]
    with pytest.raises(ConfigurationError) as caught:
        raise_for_settings()
    message = str(caught.value)
    assert "\n" not in message
    parts = message.split("; ")
    assert parts == [
        "DISKETTE_APPS: definition 'users': models 'auth.Usr' is not a model of the "
        "app 'auth': did you mean 'auth.User'?",
        "DISKETTE_STORAGES is 'media' (a str), not a list of directories: write a list "
        "of directory paths, for example DISKETTE_STORAGES = ['media']",
        "DISKETTE_DOWNLOAD_TIMEOUT is 0 (an int), not a positive number of seconds: set "
        "DISKETTE_DOWNLOAD_TIMEOUT to a number of seconds greater than 0, for example 60",
    ]
    assert caught.value.exit_code == 3


def test_raise_for_settings_checks_only_the_settings_named(clean):
    clean.DISKETTE_DOWNLOAD_TIMEOUT = 0
    raise_for_settings(["DISKETTE_APPS", "DISKETTE_STORAGES"])
    with pytest.raises(ConfigurationError, match="DISKETTE_DOWNLOAD_TIMEOUT"):
        raise_for_settings(["DISKETTE_DOWNLOAD_TIMEOUT"])


def test_raise_for_settings_includes_what_a_setting_depends_on(clean):
    clean.DISKETTE_STORAGES_BASEPATH = 42
    with pytest.raises(ConfigurationError, match="DISKETTE_STORAGES_BASEPATH is 42"):
        raise_for_settings(["DISKETTE_STORAGES"])
    clean.DISKETTE_STORAGES_BASEPATH = None
    clean.DISKETTE_DUMP_FORMAT = "csv"
    with pytest.raises(ConfigurationError, match="DISKETTE_DUMP_FORMAT 'csv'"):
        raise_for_settings(["DISKETTE_APPS"])


def test_raise_for_settings_skips_what_an_option_overrides(clean):
    clean.DISKETTE_APPS = "auth"
    clean.DISKETTE_STORAGES = ["/outside"]
    with pytest.raises(ConfigurationError) as caught:
        raise_for_settings(overridden=["DISKETTE_APPS"])
    assert "DISKETTE_APPS" not in str(caught.value)
    assert "outside" in str(caught.value)
    raise_for_settings(overridden=["DISKETTE_APPS", "DISKETTE_STORAGES"])


def test_raise_for_settings_refuses_unknown_setting_names():
    with pytest.raises(ValueError, match="not diskette settings: DISKETTE_NOPE"):
        raise_for_settings(["DISKETTE_NOPE"])


def test_problems_are_filtered_by_setting(clean):
    clean.DISKETTE_DUMP_PERMISSIONS = 0o644
    assert [p.id for p in settings_problems(["DISKETTE_DUMP_PERMISSIONS"])] == ["W002"]
    assert settings_problems(["DISKETTE_APPS"]) == []


# ---- as a user would: manage.py check on a settings module -------------------------


@pytest.mark.slow
def test_manage_py_check_prints_one_clear_message_per_problem(sandbox_env, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (tmp_path / "usersettings.py").write_text(
        "from sandbox.settings import *  # noqa: F403\n"
        "DISKETTE_APPS = [['users', {'models': ['auth.Usr']}]]\n"
        "DISKETTE_STORAGES_EXCLUDES = '*.tmp'\n"
        f"DISKETTE_STORAGES = [{str(outside)!r}]\n"
    )
    env = dict(
        sandbox_env,
        DJANGO_SETTINGS_MODULE="usersettings",
        PYTHONPATH=f"{REPO_ROOT}:{tmp_path}",
    )
    result = run_manage("check", env=env)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if "(diskette." in line]
    assert len(lines) == 3, output
    assert (
        "?: (diskette.E001) DISKETTE_APPS: definition 'users': models 'auth.Usr' is not "
        "a model of the app 'auth': did you mean 'auth.User'?"
    ) in lines
    assert (
        "?: (diskette.E004) DISKETTE_STORAGES_EXCLUDES is '*.tmp' (a str), not a list "
        "of patterns"
    ) in lines
    assert any(
        line.startswith(
            f"?: (diskette.E003) DISKETTE_STORAGES: storage {str(outside)!r}"
        )
        and "outside the storages base path" in line
        for line in lines
    )
    assert output.count("HINT:") == 3


@pytest.mark.slow
def test_manage_py_check_is_clean_on_the_sandbox(sandbox_env):
    result = run_manage("check", env=sandbox_env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    # The media directory does not exist yet in a fresh sandbox: that is for
    # the checks of where a dump runs (--deploy), not for every command.
    assert "(diskette." not in result.stdout + result.stderr
    result = run_manage("check", "--deploy", env=sandbox_env)
    lines = [line for line in result.stderr.splitlines() if "(diskette." in line]
    assert [line.split(")")[0] for line in lines] == ["?: (diskette.W001"]


# ---- staying out of other commands' way ------------------------------------------


def site_settings(tmp_path, sandbox_env, text: str) -> dict[str, str]:
    """The environment of a sandbox site whose settings add ``text`` to the sandbox's."""
    (tmp_path / "sitesettings.py").write_text(
        "from sandbox.settings import *  # noqa: F403\n" + text
    )
    return dict(
        sandbox_env,
        DJANGO_SETTINGS_MODULE="sitesettings",
        PYTHONPATH=f"{REPO_ROOT}:{tmp_path}",
    )


STALE = (
    "DISKETTE_APPS = [\n"
    "    ['images', {'models': ['wagtailimages.Rendition']}],\n"
    "    ['books', {'models': ['library.Book']}],\n"
    "]\n"
)


@pytest.mark.slow
def test_a_stale_label_does_not_stop_makemigrations_or_migrate(sandbox_env, tmp_path):
    env = site_settings(tmp_path, sandbox_env, STALE)
    result = run_manage("makemigrations", "--check", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    stale = "DISKETTE_APPS: definition 'images': models 'wagtailimages.Rendition'"
    assert f"?: (diskette.E001) {stale}" in result.stderr
    result = run_manage("migrate", "--no-input", env=env)
    assert result.returncode == 0, result.stderr
    assert "Applying auth.0001_initial... OK" in result.stdout
    # The fresh target has no media directory yet: migrate says nothing of it.
    assert "diskette.W001" not in result.stdout + result.stderr
    # diskette's own dump still refuses, with the problem and its fix.
    for args in (["diskette_dump", "--check"], ["diskette_dump"]):
        result = run_manage(*args, env=env)
        assert result.returncode == 3, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"CommandError: {stale} names the app 'wagtailimages'")
    assert not (tmp_path / "sandbox-var" / "dumps").exists()


# ---- DISKETTE_DERIVED_MODELS -------------------------------------------------------


def test_e016_derived_models_must_be_a_list_of_model_labels(clean):
    clean.DISKETTE_DERIVED_MODELS = "library.Note"
    (message,) = only("E016")
    assert message.msg == (
        "DISKETTE_DERIVED_MODELS is 'library.Note' (a str), not a list of model labels"
    )
    assert isinstance(message, Warning)  # only diskette_apps reads it
    clean.DISKETTE_DERIVED_MODELS = ["library", "a.b.c", 3, "library.PublishedBook"]
    texts = [m.msg for m in only("E016")]
    assert texts == [
        "DISKETTE_DERIVED_MODELS: 'library' is an app label, not a model label: list "
        "its models, such as 'library.Publisher'",
        "DISKETTE_DERIVED_MODELS: 'a.b.c' is not a model label: write "
        "'app_label.ModelName'",
        "DISKETTE_DERIVED_MODELS: 3 is an int, not a model label: write "
        "'app_label.ModelName'",
        "DISKETTE_DERIVED_MODELS: 'library.PublishedBook' is a proxy model, without "
        "rows of its own (dumpdata skips it too): exclude its concrete model "
        "'library.Book' instead",
    ]
    with pytest.raises(ConfigurationError, match="DISKETTE_DERIVED_MODELS: 'library'"):
        raise_for_settings()


def test_w004_a_derived_model_that_is_not_installed(clean):
    clean.DISKETTE_DERIVED_MODELS = ["library.Note", "library.Nte", "gone.Thing"]
    first, second = only("W004")
    assert first.msg == (
        "DISKETTE_DERIVED_MODELS: 'library.Nte' is not a model of the app 'library': "
        "did you mean 'library.Note'?"
    )
    assert second.msg.startswith("DISKETTE_DERIVED_MODELS: 'gone.Thing' names the app")
    raise_for_settings()  # a removed app stops nothing


# ---- W005: file fields whose files no storage holds --------------------------------


BOOKS = [["books", {"models": ["library.Book", "library.EBook"]}]]


def test_w005_file_fields_outside_every_storage(clean, tmp_path):
    media = tmp_path / "base" / "media"
    clean.MEDIA_ROOT = str(tmp_path / "base" / "uploads")
    clean.DISKETTE_APPS = BOOKS
    assert diskette_messages() == []  # only where a dump runs
    (message,) = only("W005", deploy=True)
    assert isinstance(message, Warning)
    covers = tmp_path / "base" / "uploads" / "covers"
    assert message.msg == (
        f"DISKETTE_STORAGES: library.Book.cover stores its files in {str(covers)!r}, "
        "which no storage of the dump holds, so the archive would have the rows "
        "without the files"
    )
    assert "DISKETTE_STORAGES" in message.hint
    clean.DISKETTE_STORAGES = []
    assert [m.id for m in diskette_messages(deploy=True)] == ["diskette.W005"]
    # Any storage that holds the directory, or that the directory holds, will do.
    for storage in ("uploads", "uploads/covers", "uploads/covers/2024"):
        (tmp_path / "base" / storage).mkdir(parents=True, exist_ok=True)
        clean.DISKETTE_STORAGES = [media, storage]
        assert diskette_messages(deploy=True) == [], storage


def test_w005_is_silent_for_the_sandbox_and_for_models_not_dumped(clean, tmp_path):
    clean.MEDIA_ROOT = str(tmp_path / "base" / "media")
    clean.DISKETTE_APPS = BOOKS
    assert diskette_messages(deploy=True) == []
    clean.MEDIA_ROOT = str(tmp_path / "elsewhere")
    clean.DISKETTE_APPS = [["authors", {"models": ["library.Author"]}]]
    assert diskette_messages(deploy=True) == []


@pytest.mark.slow
def test_w005_in_manage_py_check_deploy(sandbox_env, tmp_path):
    env = site_settings(tmp_path, sandbox_env, "DISKETTE_STORAGES = []\n")
    result = run_manage("check", env=env)
    assert result.returncode == 0, result.stderr
    assert "diskette." not in result.stderr
    result = run_manage("check", "--deploy", env=env)
    (line,) = [line for line in result.stderr.splitlines() if "(diskette." in line]
    assert line.startswith("?: (diskette.W005) DISKETTE_STORAGES: library.Book.cover")
