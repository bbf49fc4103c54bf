"""The target decides what a load replaces; a failure past the commit is finished.

Each test builds its archive in code, loads it into the test database and a real
storages base path laid out as a project is (a database file, a dumps directory
holding the archive, a code directory with settings.py, media), and checks the
database rows and every file around the base path.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.sites.models import Site
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models.signals import post_save

from diskette import api
from diskette.exceptions import (
    LoadInProgressError,
    RecoveryError,
    StorageRestoreError,
    UnsafeArchiveError,
)
from diskette.restore.journal import JOURNAL_NAME
from tests.archives import make_archive, sites, snapshot
from tests.conftest import run_manage

pytestmark = pytest.mark.django_db

HOSTILE = {
    "db.sqlite3": {"x": b"not a database"},
    "dumps": {"x": b"the archives are gone"},
    "mysite": {"settings.py": b"import os; os.system('echo owned')"},
}


@pytest.fixture
def project(tmp_path, settings):
    """A project root as the README's settings make it the load base path."""
    root = tmp_path / "project"
    (root / "mysite").mkdir(parents=True)
    (root / "mysite" / "settings.py").write_text("DEBUG = False\n")
    (root / "db.sqlite3").write_bytes(b"SQLite format 3\x00 and rows")
    (root / "dumps").mkdir()
    (root / "media").mkdir()
    (root / "media" / "old.txt").write_bytes(b"old")
    settings.DISKETTE_STORAGES = [root / "media"]
    settings.DISKETTE_STORAGES_BASEPATH = root
    settings.DISKETTE_LOAD_STORAGES_PATH = root
    return root


def site_rows() -> list[tuple]:
    return sorted(Site.objects.values_list("pk", "domain", "name"))


def hostile_archive(project: Path, storages: dict) -> Path:
    return make_archive(
        project / "dumps" / "hostile.tar.gz",
        data={"sites.json": sites((71, "hostile.example.org"))},
        storages=storages,
    )


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_storage_the_target_does_not_name_is_refused(project, name):
    """Finding 1: the manifest lists the database file, the archives' directory,
    the code directory; nothing is replaced, the data is not loaded."""
    archive = hostile_archive(project, {name: HOSTILE[name]})
    before, rows = snapshot(project), site_rows()
    with pytest.raises(
        UnsafeArchiveError, match=f"storage '{name}'.*DISKETTE_STORAGES"
    ):
        api.load(archive)
    assert snapshot(project) == before
    assert site_rows() == rows
    with pytest.raises(CommandError, match=f"storage '{name}'") as caught:
        call_command("diskette_load", str(archive), "--plan")
    assert caught.value.returncode == UnsafeArchiveError.exit_code
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("mysite", "settings"),
        ("dumps", "archive"),
    ],
)
def test_a_storage_named_for_the_run_still_never_replaces_what_is_protected(
    project, settings, name, why
):
    """Named explicitly, a storage holding the settings module or the archive being
    loaded is still refused before the commit, and the plan predicts it."""
    settings_file = project / "mysite" / "settings.py"
    module = type(sys)("project_settings_under_test")
    module.__file__ = str(settings_file)
    sys.modules[module.__name__] = module
    settings.SETTINGS_MODULE = module.__name__
    try:
        archive = hostile_archive(project, {name: HOSTILE[name]})
        before, rows = snapshot(project), site_rows()
        plan = api.plan_load(archive, storages=[name])
        assert plan.exit_code == StorageRestoreError.exit_code
        assert snapshot(project) == before
        with pytest.raises(StorageRestoreError, match="nothing was changed"):
            api.load(archive, storages=[name])
        assert snapshot(project) == before
        assert site_rows() == rows
    finally:
        del sys.modules[module.__name__]


def test_a_regular_file_is_never_replaced_by_a_storage(project):
    archive = hostile_archive(project, {"db.sqlite3": HOSTILE["db.sqlite3"]})
    before = snapshot(project)
    with pytest.raises(StorageRestoreError, match="db.sqlite3"):
        api.load(archive, storages=["db.sqlite3"])
    assert snapshot(project) == before


def test_a_storage_name_with_a_trailing_slash_is_one_storage(project, tmp_path):
    """Finding 2: ``media/`` in the manifest is verified, extracted and restored
    as ``media``: its files arrive, the target's are not wiped."""
    files = {f"f{index}.txt": f"file {index}".encode() for index in range(27)}
    archive = make_archive(
        tmp_path / "slash.tar.gz",
        data={"sites.json": sites((72, "slash.example.org"))},
        storages={"media": files},
        tamper=lambda m: _rename_storage(m, "media", "media/"),
    )
    result = api.load(archive)
    assert [(s.name, s.files) for s in result.storages] == [("media", 27)]
    restored = {p.name: p.read_bytes() for p in (project / "media").iterdir()}
    assert restored == files


def _rename_storage(manifest: dict, old: str, new: str) -> None:
    manifest["storages"] = [new if s == old else s for s in manifest["storages"]]
    for entry in manifest["diskette"]["storages"]:
        if entry["name"] == old:
            entry["name"] = new


@pytest.mark.django_db(transaction=True)
def test_a_swap_failing_after_the_commit_is_journaled_and_finished(project, tmp_path):
    """Finding 5: past the commit nothing is put back to the old state; the load
    says the data was committed, keeps its journal, and diskette_recover finishes
    once the cause is fixed: database new, media new."""
    archive = make_archive(
        tmp_path / "late.tar.gz",
        data={"sites.json": sites((73, "late.example.org"))},
        storages={"media": {"blocker": b"a file", "new.txt": b"new"}},
    )
    blocker = project / "media" / "blocker"

    def block_after_the_commit(sender, instance, **kwargs):
        # Runs at the commit, after every check: what no check can foresee.
        transaction.on_commit(lambda: blocker.mkdir())

    post_save.connect(block_after_the_commit, sender=Site)
    try:
        with pytest.raises(RecoveryError, match="data was committed") as caught:
            api.load(archive, storages_mode="merge", signals=True)
    finally:
        post_save.disconnect(block_after_the_commit, sender=Site)
    message = str(caught.value)
    assert "nothing was changed" not in message and "diskette_recover" in message
    assert Site.objects.filter(pk=73).exists()
    (journal,) = project.glob(f".diskette-load-*/{JOURNAL_NAME}")
    blocker.rmdir()
    result = api.recover_interrupted()
    assert result.finished == [str(journal.parent)]
    assert (project / "media" / "blocker").read_bytes() == b"a file"
    assert (project / "media" / "new.txt").read_bytes() == b"new"
    assert not list(project.glob(".diskette-load-*"))


@pytest.mark.slow
def test_a_second_load_while_one_runs_says_so(sandbox_env, tmp_path):
    """Finding 9: the loser names the live load, not migrations or killed loads."""
    assert run_manage("migrate", "-v0", env=sandbox_env).returncode == 0
    archive = make_archive(
        tmp_path / "a.tar.gz", data={"sites.json": sites((74, "two.example.org"))}
    )
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import django, sys, time; django.setup(); "
            "from diskette.owner import DatabaseLock; "
            "lock = DatabaseLock('default').__enter__(); "
            "print('locked', flush=True); time.sleep(60)",
        ],
        env=sandbox_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result = run_manage(
            "diskette_load", str(archive), "--no-storages", env=sandbox_env
        )
        assert time.monotonic() - started < 30
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == LoadInProgressError.exit_code, result.stderr
    assert f"another diskette load (process {holder.pid})" in result.stderr
    assert "migrate" not in result.stderr and "killed" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # Once the holder is gone, the same load goes through.
    again = run_manage("diskette_load", str(archive), "--no-storages", env=sandbox_env)
    assert again.returncode == 0, again.stderr
