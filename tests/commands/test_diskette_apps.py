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

from diskette.definitions import load_definitions
from diskette.definitions.generator import DRAIN_NAME
from tests.conftest import REPO_ROOT, run_manage

#: The models of the sandbox's apps that a fresh site recreates or that are derived.
DERIVED = {
    "admin.LogEntry": "the admin's history of the source site",
    "auth.Permission": "recreated by migrate",
    "contenttypes.ContentType": "recreated by migrate",
    "sessions.Session": "the source site's logins, not content",
}
#: The sandbox's apps with models that are not derived, in INSTALLED_APPS order.
GENERATED = ["django.contrib.auth", "django.contrib.sites", "sandbox.library"]


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("diskette_apps", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def diskette_apps(*args: str) -> str:
    return run(*args)[0]


def every_model() -> set[str]:
    return {
        model._meta.label
        for config in apps.get_app_configs()
        for model in config.get_models()
        if not model._meta.proxy
    }


def assert_valid_settings(settings, definitions) -> None:
    settings.DISKETTE_APPS = definitions
    load_definitions()
    problems = [m for m in run_checks(tags=["diskette"]) if m.id == "diskette.E001"]
    assert problems == []


def dumped(settings, definitions) -> list[str]:
    """Every model label the definitions dump, once they are DISKETTE_APPS."""
    assert_valid_settings(settings, definitions)
    return [label for d in load_definitions() for label in d.models]


def test_safe_definitions_leave_out_derived_models_and_say_why(settings):
    out, err = run()
    definitions = json.loads(out)
    assert [name for name, _ in definitions] == GENERATED
    assert dict(definitions)["django.contrib.auth"] == {
        "comments": "Authentication and Authorization; left out: auth.Permission "
        "(recreated by migrate)",
        "natural_foreign": True,
        "models": ["auth.Group", "auth.User"],
        "excludes": ["auth.Permission"],
    }
    # Apps with derived models only (admin, contenttypes, sessions) are not
    # generated; the notes on stderr say what was left out and why.
    assert err.splitlines() == [
        f"left out: {label} ({reason})" for label, reason in DERIVED.items()
    ]
    # The output round-trips: every other model is dumped exactly once.
    labels = dumped(settings, definitions)
    assert len(labels) == len(set(labels))
    assert set(labels) == every_model() - set(DERIVED)


def test_the_drain_leaves_out_the_derived_models_too(settings):
    definitions = json.loads(diskette_apps("--drain"))
    assert [name for name, _ in definitions] == [*GENERATED, DRAIN_NAME]
    assert definitions[-1][1] == {
        "comments": "every model no other definition dumps; left out: "
        + ", ".join(f"{label} ({reason})" for label, reason in DERIVED.items()),
        "is_drain": True,
        "natural_foreign": True,
        "excludes": list(DERIVED),
    }
    labels = dumped(settings, definitions)
    assert set(labels) == every_model() - set(DERIVED)
    assert load_definitions()[-1].models == ()  # nothing else to drain


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
    assert [name for name, _ in definitions] == ["django.contrib.sites"]


def test_exclude_takes_model_labels(settings):
    out, err = run(
        "--exclude", "library.Note", "--exclude", "sites.Site", "--exclude",
        "auth.permission", "--drain",
    )  # fmt: skip
    definitions = json.loads(out)
    # sites has nothing left: it is not generated.
    assert [name for name, _ in definitions] == [
        "django.contrib.auth",
        "sandbox.library",
        DRAIN_NAME,
    ]
    library = dict(definitions)["sandbox.library"]
    assert "library.Note" not in library["models"]
    assert library["excludes"] == ["library.Note"]
    assert library["comments"] == (
        "Library (sandbox); left out: library.Note (excluded on request)"
    )
    drain = definitions[-1][1]
    assert drain["excludes"] == [*DERIVED, "sites.Site", "library.Note"]
    assert "left out: library.Note (excluded on request)" in err.splitlines()
    assert set(dumped(settings, definitions)) == every_model() - {
        *DERIVED,
        "sites.Site",
        "library.Note",
    }


def test_wrong_exclude_labels_get_a_suggestion_of_their_kind():
    with pytest.raises(CommandError) as caught:
        call_command(
            "diskette_apps",
            *("--exclude", "auth.Permision"),
            *("--exclude", "librari.Book"),
            *("--exclude", "sandbox.librari"),
            *("--exclude", "wagtailimages.Rendition"),
            *("--exclude", "library.PublishedBook"),
        )
    assert str(caught.value).split("; ") == [
        "--exclude 'auth.Permision' is not a model of the app 'auth': did you mean "
        "'auth.Permission'?",
        "--exclude 'librari.Book' is not an installed model: did you mean "
        "'library.Book'?",
        "--exclude 'sandbox.librari' is not an installed app: did you mean "
        "'sandbox.library'?",
        "--exclude 'wagtailimages.Rendition' is neither an installed app nor a "
        "model: give an app label ('auth'), an app name ('django.contrib.auth') or "
        "a model label ('auth.Permission')",
        "--exclude 'library.PublishedBook' is a proxy model, without rows of its own "
        "(dumpdata skips it too): exclude its concrete model 'library.Book' instead",
    ]
    assert caught.value.returncode == 3


def test_an_app_of_derived_models_only_is_refused_with_the_reason():
    with pytest.raises(CommandError) as caught:
        call_command("diskette_apps", "--app", "sessions")
    assert str(caught.value) == (
        "--app 'sessions' has only models left out of generated definitions (left "
        "out: sessions.Session (the source site's logins, not content)): leave it "
        "out, or write its definition by hand"
    )


def test_derived_models_setting_extends_the_built_in_list(settings):
    settings.DISKETTE_DERIVED_MODELS = ["library.Note", "library.Nte", "gone.Thing"]
    out, err = run("--app", "library")
    ((name, options),) = json.loads(out)
    assert options["excludes"] == ["library.Note"]
    assert options["comments"].endswith(
        "left out: library.Note (listed in DISKETTE_DERIVED_MODELS)"
    )
    lines = err.splitlines()
    # Labels of models that are not installed are warned about, with a suggestion.
    assert lines[0] == (
        "DISKETTE_DERIVED_MODELS: 'library.Nte' is not a model of the app 'library': "
        "did you mean 'library.Note'?"
    )
    assert lines[1].startswith("DISKETTE_DERIVED_MODELS: 'gone.Thing' names the app")
    assert lines[2:] == ["left out: library.Note (listed in DISKETTE_DERIVED_MODELS)"]


def test_an_invalid_derived_models_setting_is_refused(settings):
    settings.DISKETTE_DERIVED_MODELS = ["library"]
    with pytest.raises(CommandError) as caught:
        call_command("diskette_apps")
    assert str(caught.value) == (
        "DISKETTE_DERIVED_MODELS: 'library' is an app label, not a model label: list "
        "its models, such as 'library.Publisher'"
    )


@pytest.mark.slow
def test_definitions_come_in_dependency_order(sandbox_env, tmp_path):
    # library (Review.reviewer -> auth.User) listed before auth in INSTALLED_APPS.
    (tmp_path / "reordered.py").write_text(
        "from sandbox.settings import *  # noqa: F403\n"
        "INSTALLED_APPS = ['sandbox.library'] + [\n"
        "    app for app in INSTALLED_APPS if app != 'sandbox.library'  # noqa: F405\n"
        "]\n"
    )
    env = dict(
        sandbox_env,
        DJANGO_SETTINGS_MODULE="reordered",
        PYTHONPATH=f"{REPO_ROOT}:{tmp_path}",
    )
    result = run_manage("diskette_apps", "--drain", env=env)
    assert result.returncode == 0, result.stderr
    names = [name for name, _ in json.loads(result.stdout)]
    # auth moves before library, which needs it; sites keeps its place after library.
    assert names == [
        "django.contrib.auth",
        "sandbox.library",
        "django.contrib.sites",
        DRAIN_NAME,
    ]


def test_drain_catches_the_rest_but_not_the_excluded_apps(settings):
    out, err = run(
        "--app", "auth", "--exclude", "sessions", "--drain", "--format", "json"
    )  # fmt: skip
    definitions = json.loads(out)
    assert [name for name, _ in definitions] == ["django.contrib.auth", DRAIN_NAME]
    assert definitions[-1][1] == {
        "comments": "every model no other definition dumps; apps excluded on "
        "request: sessions; left out: admin.LogEntry (the admin's history of the "
        "source site), auth.Permission (recreated by migrate), "
        "contenttypes.ContentType (recreated by migrate)",
        "is_drain": True,
        "natural_foreign": True,
        "excludes": [
            "sessions",
            "admin.LogEntry",
            "auth.Permission",
            "contenttypes.ContentType",
        ],
    }
    assert "sessions.Session" not in err
    assert_valid_settings(settings, definitions)
    auth, drain = load_definitions()
    assert "sites.Site" in drain.models and "library.Book" in drain.models
    assert not any(
        label.startswith(("auth.", "sessions.", "admin.", "contenttypes."))
        for label in drain.models
    )


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


@pytest.mark.slow
def test_a_bad_option_in_a_subprocess_gives_one_line_and_a_failure(sandbox_env):
    result = run_manage("diskette_apps", "--app", "nope", env=sandbox_env)
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "CommandError: --app 'nope' is not an installed app label: check "
        "INSTALLED_APPS for the right label"
    ]


@pytest.mark.slow
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
