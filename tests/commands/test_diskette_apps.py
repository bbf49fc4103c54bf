"""diskette_apps: prints definitions that pass validation and the checks unchanged."""

from __future__ import annotations

import ast
import json
from io import StringIO

import pytest
from django.apps import apps
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError

from diskette.definitions import DRAIN_NAME, load_definitions
from tests.conftest import REPO_ROOT, run_manage


def diskette_apps(*args: str) -> str:
    out = StringIO()
    call_command("diskette_apps", *args, stdout=out)
    return out.getvalue()


def apps_with_models() -> list[str]:
    return [
        config.name
        for config in apps.get_app_configs()
        if any(not model._meta.proxy for model in config.get_models())
    ]


def assert_valid_settings(settings, definitions) -> None:
    settings.DISKETTE_APPS = definitions
    load_definitions()
    problems = [m for m in run_checks(tags=["diskette"]) if m.id == "diskette.E001"]
    assert problems == []


def test_every_app_with_models_in_installed_apps_order(settings):
    definitions = json.loads(diskette_apps())
    assert [name for name, _ in definitions] == apps_with_models()
    assert "django.contrib.messages" not in dict(definitions)  # no models
    auth = dict(definitions)["django.contrib.auth"]
    assert auth["models"] == ["auth.Permission", "auth.Group", "auth.User"]
    assert auth["natural_foreign"] is True
    # The output round-trips: every model of every app is dumped exactly once.
    assert_valid_settings(settings, definitions)
    dumped = [label for d in load_definitions() for label in d.models]
    assert len(dumped) == len(set(dumped))
    assert set(dumped) == {
        model._meta.label
        for config in apps.get_app_configs()
        for model in config.get_models()
        if not model._meta.proxy
    }


def test_python_output_is_real_python_equal_to_the_json_output(settings):
    text = diskette_apps("--format", "python")
    assert "True" in text and "true" not in text
    definitions = ast.literal_eval(text)
    assert definitions == json.loads(diskette_apps("--format", "json"))
    assert_valid_settings(settings, definitions)


def test_app_accepts_labels_and_dotted_names_and_keeps_installed_order():
    definitions = json.loads(
        diskette_apps("--app", "sites", "--app", "django.contrib.auth")
    )
    assert [name for name, _ in definitions] == [
        "django.contrib.auth",
        "django.contrib.sites",
    ]


def test_exclude_leaves_apps_out():
    definitions = json.loads(
        diskette_apps("--exclude", "auth", "--exclude", "sandbox.library")
    )
    names = [name for name, _ in definitions]
    assert names == [
        n
        for n in apps_with_models()
        if n not in ("django.contrib.auth", "sandbox.library")
    ]


def test_drain_catches_the_rest_but_not_the_excluded_apps(settings):
    definitions = json.loads(
        diskette_apps(
            "--app", "auth", "--exclude", "sessions", "--drain", "--format", "json"
        )
    )
    assert [name for name, _ in definitions] == ["django.contrib.auth", DRAIN_NAME]
    assert definitions[-1][1] == {
        "is_drain": True,
        "natural_foreign": True,
        "excludes": ["sessions"],
    }
    assert_valid_settings(settings, definitions)
    auth, drain = load_definitions()
    assert "sites.Site" in drain.models and "library.Book" in drain.models
    assert not any(label.startswith(("auth.", "sessions.")) for label in drain.models)


def test_python_output_with_a_drain_round_trips(settings):
    definitions = ast.literal_eval(
        diskette_apps("--app", "library", "--drain", "--format", "python")
    )
    assert_valid_settings(settings, definitions)


def test_destination_writes_the_file(tmp_path):
    target = tmp_path / "apps.json"
    out = diskette_apps("--app", "sites", "--destination", str(target))
    assert json.loads(target.read_text("utf-8")) == json.loads(
        diskette_apps("--app", "sites")
    )
    assert str(target) in out


def test_a_destination_in_a_missing_directory_is_an_error(tmp_path):
    target = tmp_path / "missing" / "apps.json"
    with pytest.raises(CommandError, match=r"--destination .*cannot write it"):
        call_command("diskette_apps", "--destination", str(target))
    assert not target.parent.exists()


def test_unknown_apps_are_all_reported():
    with pytest.raises(CommandError) as caught:
        call_command(
            "diskette_apps", "--app", "sitez", "--exclude", "djang.contrib.auth"
        )
    assert str(caught.value) == (
        "--app 'sitez' is not an installed app label: did you mean 'sites'?; "
        "--exclude 'djang.contrib.auth' is not an installed app: did you mean "
        "'django.contrib.auth'?"
    )
    assert caught.value.returncode == 3


def test_an_app_without_models_is_an_error():
    with pytest.raises(CommandError, match="--app 'messages' has no models to dump"):
        call_command("diskette_apps", "--app", "messages")


def test_a_bad_option_in_a_subprocess_gives_one_line_and_a_failure(sandbox_env):
    result = run_manage("diskette_apps", "--app", "nope", env=sandbox_env)
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "CommandError: --app 'nope' is not an installed app label: check "
        "INSTALLED_APPS for the right label"
    ]


def test_an_unknown_format_is_refused_by_the_parser(sandbox_env):
    result = run_manage("diskette_apps", "--format", "xml", env=sandbox_env)
    assert result.returncode == 2
    assert "argument --format: invalid choice: 'xml'" in result.stderr.splitlines()[-1]


def test_it_runs_even_when_diskette_apps_is_broken(sandbox_env, tmp_path):
    (tmp_path / "brokensettings.py").write_text(
        "from sandbox.settings import *  # noqa: F403\n"
        "DISKETTE_APPS = [['users', {'modles': 'auth'}]]\n"
    )
    env = dict(
        sandbox_env,
        DJANGO_SETTINGS_MODULE="brokensettings",
        PYTHONPATH=f"{REPO_ROOT}:{tmp_path}",
    )
    result = run_manage("diskette_apps", "--app", "auth", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0][0] == "django.contrib.auth"
