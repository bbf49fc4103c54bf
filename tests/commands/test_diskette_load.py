"""The diskette_load command: options in process, exit codes in a real subprocess,
and a load killed mid-way that leaves the site as it was."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.contrib.sites.models import Site
from django.core.management import CommandError, call_command
from django.db.models.signals import pre_save

from diskette import api
from diskette.archive import archive_checksum
from diskette.exceptions import ConfigurationError
from diskette.management.base import command_words
from tests.archives import Entry, groups, make_archive, sites, snapshot
from tests.conftest import MANAGE_PY, REPO_ROOT, run_manage, site_environment


@pytest.fixture
def archive(tmp_path) -> Path:
    (tmp_path / "in").mkdir()
    return make_archive(
        tmp_path / "in" / "site.tar.gz",
        data={
            "groups.json": groups((41, "editors"), (42, "reviewers")),
            "sites.json": sites((43, "one.example.org"), (44, "two.example.org")),
        },
        storages={"media": {"new.txt": b"new", "docs/a.txt": b"a"}},
    )


@pytest.fixture
def base(tmp_path) -> Path:
    base = tmp_path / "site"
    (base / "media").mkdir(parents=True)
    (base / "media" / "old.txt").write_bytes(b"old")
    return base


def load(*args, **options) -> str:
    out = StringIO()
    call_command("diskette_load", *args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.mark.django_db
def test_loads_data_and_storages_with_a_line_each(archive, base):
    output = load(str(archive), storages_basepath=str(base))
    assert output.splitlines() == [
        "data/groups.json: 2 objects loaded",
        "data/sites.json: 2 objects loaded",
        "media: 2 files restored",
    ]
    assert set(Group.objects.values_list("name", flat=True)) >= {"editors", "reviewers"}
    assert sorted(p.name for p in (base / "media").iterdir()) == ["docs", "new.txt"]
    assert archive.is_file()


@pytest.mark.django_db
def test_verbosity_zero_is_silent(archive, base):
    assert load(str(archive), storages_basepath=str(base), verbosity=0) == ""


@pytest.mark.django_db
def test_json_output(archive, base):
    payload = json.loads(load(str(archive), storages_basepath=str(base), json=True))
    assert payload["objects"] == 4
    assert payload["files"] == 2
    assert [d["path"] for d in payload["data"]] == [
        "data/groups.json",
        "data/sites.json",
    ]
    assert payload["storages"][0]["name"] == "media"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["groups.json", "groups", "data/groups.json"])
def test_exclude_data_by_file_or_definition_name(archive, base, name):
    before = Group.objects.count()
    output = load(str(archive), storages_basepath=str(base), exclude_data=[name])
    assert "groups.json" not in output
    assert Group.objects.count() == before
    assert Site.objects.filter(pk=43).exists()


@pytest.mark.django_db
def test_no_data_and_no_storages(archive, base):
    before = snapshot(base)
    load(str(archive), storages_basepath=str(base), no_data=True, no_storages=True)
    assert not Site.objects.filter(pk=43).exists()
    assert snapshot(base) == before


@pytest.mark.django_db
def test_storages_mode_merge_keeps_existing_files(archive, base):
    load(str(archive), storages_basepath=str(base), storages_mode="merge", no_data=True)
    assert sorted(p.name for p in (base / "media").iterdir()) == [
        "docs",
        "new.txt",
        "old.txt",
    ]


@pytest.mark.django_db
def test_flush_with_noinput(archive, base):
    Group.objects.create(name="doomed")
    load(str(archive), "--flush", "--noinput", storages_basepath=str(base))
    assert sorted(Group.objects.values_list("name", flat=True)) == [
        "editors",
        "reviewers",
    ]


@pytest.mark.django_db
def test_original_option_spellings_are_accepted(archive, base):
    digest = archive_checksum(archive)
    load(
        str(archive),
        "--ignorenonexistent_data",
        "--keep",
        f"--checksum={digest}",
        storages_basepath=str(base),
    )
    assert archive.is_file()


@pytest.mark.django_db
def test_error_becomes_a_command_error_with_its_exit_code(tmp_path, base):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a gzip file at all, sorry")
    with pytest.raises(CommandError, match="not a gzip file") as caught:
        load(str(broken), storages_basepath=str(base))
    assert caught.value.returncode == 10
    assert broken.is_file()


@pytest.mark.django_db(transaction=True)
def test_failure_mid_way_leaves_database_and_storages_as_before(archive, base):
    """A receiver fails after some objects are saved: the load rolls back, the
    storages are not touched, the staging directory is gone."""
    rows = (list(Group.objects.values_list("pk", "name")), Site.objects.count())
    files = snapshot(base)
    count = []

    def fail(sender, instance, **kwargs):
        count.append(instance)
        if len(count) == 3:
            raise RuntimeError("receiver failed on the third object")

    pre_save.connect(fail)
    try:
        with pytest.raises(CommandError, match="could not load .*third") as caught:
            load(str(archive), storages_basepath=str(base))
        assert caught.value.returncode == 20
    finally:
        pre_save.disconnect(fail)
    assert (list(Group.objects.values_list("pk", "name")), Site.objects.count()) == rows
    assert snapshot(base) == files


@pytest.mark.django_db
@pytest.mark.parametrize(("options", "sent"), [((), True), (("--no-signals",), False)])
def test_no_signals(archive, base, options, sent):
    seen = []

    def record(sender, instance, raw, **kwargs):
        seen.append((sender, instance.pk, raw))

    pre_save.connect(record, sender=Group)
    try:
        load(str(archive), *options, no_storages=True)
    finally:
        pre_save.disconnect(record, sender=Group)
    assert seen == ([(Group, 41, True), (Group, 42, True)] if sent else [])
    assert set(Group.objects.values_list("pk", flat=True)) >= {41, 42}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "line"),
    [
        ((), "auth.Group: batched inserts"),
        (("--exact",), "Every model takes the exact loaddata path"),
        (
            ("--exact-model", "auth.group"),
            "auth.Group: exact loaddata path (asked for)",
        ),
    ],
)
def test_verbosity_two_says_which_path_each_model_takes(archive, base, options, line):
    output = load(str(archive), *options, no_storages=True, verbosity=2)
    assert line in output.splitlines()
    if not options:
        assert "sites.Site: exact loaddata path (its table already holds rows)" in (
            output.splitlines()
        )
    assert set(Group.objects.values_list("pk", flat=True)) >= {41, 42}


@pytest.mark.django_db
def test_unknown_exact_model_is_refused(archive, base):
    with pytest.raises(CommandError, match="--exact-model 'library.nope'"):
        load(str(archive), "--exact-model", "library.nope", no_storages=True)
    assert not Group.objects.filter(pk=41).exists()


# ---- real subprocesses -------------------------------------------------------


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory) -> Path:
    """A migrated sandbox SQLite database, copied by each subprocess test."""
    var = tmp_path_factory.mktemp("migrated")
    env = site_environment(var)
    result = run_manage("migrate", "-v0", env=env)
    assert result.returncode == 0, result.stderr
    return var / "db.sqlite3"


@pytest.fixture
def site_env(tmp_path, migrated_db) -> dict[str, str]:
    var = tmp_path / "var"
    (var / "media").mkdir(parents=True)
    (var / "media" / "old.txt").write_bytes(b"old")
    shutil.copy(migrated_db, var / "db.sqlite3")
    return site_environment(var)


def _rows(db: Path) -> dict[str, list]:
    with sqlite3.connect(db) as connection:
        return {
            table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608
            for table in ("django_site", "auth_group", "auth_permission")
        }


def _hostile(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.tar.gz"
    if kind == "not-gzip":
        path.write_bytes(b"plain text is not an archive")
        return path
    if kind == "unsafe":
        extra = [Entry("media/evil", type=b"2", linkname="/etc/passwd")]
        return make_archive(path, storages={"media": {"a": b"a"}}, extra=extra)
    if kind == "checksum":
        return make_archive(
            path,
            storages={"media": {"a": b"a"}},
            tamper=lambda p: p["diskette"]["members"].update({"media/a": "0" * 64}),
        )
    orphan = {
        "model": "auth.permission",
        "pk": 5000,
        "fields": {"name": "x", "content_type": 424242, "codename": "x"},
    }
    return make_archive(path, data={"perms.json": [orphan]})


@pytest.mark.parametrize(
    ("kind", "code", "words"),
    [
        ("not-gzip", 10, "not a gzip file"),
        ("unsafe", 11, "symbolic link"),
        ("checksum", 13, "sha256"),
        ("integrity", 21, "perms.json"),
    ],
)
@pytest.mark.slow
def test_failures_exit_with_their_status_and_one_line(
    tmp_path, site_env, kind, code, words
):
    var = Path(site_env["SANDBOX_VAR"])
    archive = _hostile(tmp_path, kind)
    rows, files = _rows(var / "db.sqlite3"), snapshot(var / "media")
    result = run_manage("diskette_load", str(archive), env=site_env)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert _rows(var / "db.sqlite3") == rows
    assert snapshot(var / "media") == files
    assert archive.is_file()
    assert not list(var.glob(".diskette-load-*"))


@pytest.mark.slow
def test_flush_asks_for_confirmation(tmp_path, site_env, archive_for_subprocess):
    var = Path(site_env["SANDBOX_VAR"])
    rows = _rows(var / "db.sqlite3")
    result = subprocess.run(
        [
            sys.executable,
            str(MANAGE_PY),
            "diskette_load",
            str(archive_for_subprocess),
            "--flush",
        ],
        env=site_env,
        cwd=REPO_ROOT,
        input="no\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "cancelled" in result.stderr
    assert _rows(var / "db.sqlite3") == rows


@pytest.fixture
def archive_for_subprocess(tmp_path) -> Path:
    return make_archive(
        tmp_path / "many.tar.gz",
        data={
            "sites.json": sites(*[(100 + i, f"s{i}.example.org") for i in range(60)])
        },
        storages={"media": {"new.txt": b"new"}},
    )


HOOK_APP = '''
"""Test-only app: once enabled, stalls the load inside its transaction."""
import os
import time
from pathlib import Path

from django.apps import AppConfig
from django.db.models.signals import post_save


def stall(sender, instance, raw, **kwargs):
    marker = Path(os.environ["DISKETTE_TEST_KILL_MARKER"])
    stall.count = getattr(stall, "count", 0) + 1
    if raw and stall.count == 20:
        marker.write_text(str(os.getpid()))
        time.sleep(60)


class KillHookConfig(AppConfig):
    name = "killhook"

    def ready(self):
        if os.environ.get("DISKETTE_TEST_KILL_MARKER"):
            post_save.connect(stall, dispatch_uid="killhook")
'''


@pytest.mark.slow
def test_load_killed_mid_way_leaves_database_and_media_as_before(
    tmp_path, site_env, archive_for_subprocess
):
    hooks = tmp_path / "hooks"
    (hooks / "killhook").mkdir(parents=True)
    (hooks / "killhook" / "__init__.py").write_text(textwrap.dedent(HOOK_APP))
    (hooks / "killsettings.py").write_text(
        "from sandbox.settings import *  # noqa: F403\n"
        "INSTALLED_APPS = [*INSTALLED_APPS, 'killhook.KillHookConfig']  # noqa: F405\n"
    )
    marker = tmp_path / "inside-the-transaction"
    env = {
        **site_env,
        "DJANGO_SETTINGS_MODULE": "killsettings",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(hooks)]),
        "DISKETTE_TEST_KILL_MARKER": str(marker),
    }
    var = Path(site_env["SANDBOX_VAR"])
    rows, files = _rows(var / "db.sqlite3"), snapshot(var / "media")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(MANAGE_PY), "diskette_load", str(archive_for_subprocess)],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the load never reached the hook"
            time.sleep(0.05)
        # 19 sites are saved in the open transaction when the hook signals.
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    assert _rows(var / "db.sqlite3") == rows
    assert snapshot(var / "media") == files
    assert archive_for_subprocess.is_file()


@pytest.mark.django_db
def test_warnings_of_the_core_name_the_command_flags(archive, base):
    err = StringIO()
    call_command(
        "diskette_load",
        str(archive),
        "--exclude-data",
        "nope",
        no_storages=True,
        stdout=StringIO(),
        stderr=err,
    )
    assert "--exclude-data 'nope' matches no data file of the archive" in (
        err.getvalue()
    )
    assert "exclude_data" not in err.getvalue()


@pytest.mark.django_db
def test_errors_of_the_core_name_the_command_flags(archive, base):
    # The core names the Python argument; the command prints its flag instead.
    with pytest.raises(ConfigurationError, match=r"^checksum='nope' is not a BLAKE"):
        api.load(archive, checksum="nope")
    with pytest.raises(CommandError, match=r"^--checksum 'nope' is not a BLAKE"):
        load(str(archive), "--checksum", "nope")
    with pytest.raises(CommandError) as caught:
        load(str(archive), "--storage", "other", storages_basepath=str(base))
    assert str(caught.value).endswith(
        "or name it for this load (--storage), or load without storages "
        "(--no-storages); nothing was changed"
    )


def test_the_commands_translate_python_arguments_into_their_flags():
    assert command_words("exact: 'a.b' is not an installed model") == (
        "--exact-model 'a.b' is not an installed model"
    )
    assert command_words("or use storages_mode='replace'") == (
        "or use --storages-mode replace"
    )
    # A name inside a longer one, or already followed by its flag, stays.
    assert command_words("my_exclude_data and flush=True (--flush)") == (
        "my_exclude_data and flush=True (--flush)"
    )
    assert command_words("give storages_basepath", {"storages_basepath": "--to"}) == (
        "give --to"
    )
