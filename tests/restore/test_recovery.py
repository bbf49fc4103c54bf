"""Journals and leftovers: the next run finishes or drops, and never touches a live run."""

from __future__ import annotations

import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction

from diskette.owner import DUMP_PREFIX, LOAD_PREFIX, Owned
from diskette.restore.journal import (
    COMMITTED,
    Journal,
    insert_marker,
    marker_committed,
    prepare_marker,
)
from diskette.restore.recovery import finish_journal, recover
from diskette.restore.swaps import StagedStorage, prepare_swaps
from tests.archives import snapshot

OLD = 1_600_000_000


def killed_load(base: Path, *, state: str = "prepared", live: bool = False):
    """What a load killed after writing its journal leaves: staging holding the
    new media, the journal; the owner's lock is dropped unless ``live``."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "media").mkdir(exist_ok=True)
    (base / "media" / "old.txt").write_bytes(b"old")
    owned = Owned.create(LOAD_PREFIX, base)
    staged = owned.path / "archive" / "media"
    staged.mkdir(parents=True)
    (staged / "new.txt").write_bytes(b"new")
    journal = Journal(
        staging=str(owned.path),
        using="default",
        base=str(base),
        mode="replace",
        archive="a.tar.gz",
        swaps=prepare_swaps([StagedStorage("media", staged)], base, mode="replace"),
        state=state,
    )
    journal.write()
    if not live:
        owned.release(remove=False)  # the kernel does this when a process dies
    return journal, owned


@pytest.mark.django_db(transaction=True)
def test_a_journal_whose_marker_committed_is_rolled_forward(tmp_path):
    journal, _owned = killed_load(tmp_path / "base")
    with transaction.atomic():
        prepare_marker("default")
        insert_marker(journal)
    assert marker_committed(journal)
    assert finish_journal(journal.path, _reporter()) == "finished"
    assert sorted(p.name for p in (tmp_path / "base" / "media").iterdir()) == [
        "new.txt"
    ]
    assert sorted(p.name for p in (tmp_path / "base").iterdir()) == ["media"]
    assert not marker_committed(journal)  # the marker row is gone too


@pytest.mark.django_db(transaction=True)
def test_a_journal_whose_transaction_rolled_back_is_dropped(tmp_path):
    journal, _owned = killed_load(tmp_path / "base")
    with pytest.raises(RuntimeError), transaction.atomic():
        prepare_marker("default")
        insert_marker(journal)
        raise RuntimeError("the process died before the commit")
    before = snapshot(tmp_path / "base" / "media")
    assert finish_journal(journal.path, _reporter()) == "dropped"
    assert snapshot(tmp_path / "base" / "media") == before
    assert sorted(p.name for p in (tmp_path / "base").iterdir()) == ["media"]


@pytest.mark.django_db
def test_a_committed_journal_needs_no_marker(tmp_path):
    journal, _owned = killed_load(tmp_path / "base", state=COMMITTED)
    assert finish_journal(journal.path, _reporter()) == "finished"
    assert (tmp_path / "base" / "media" / "new.txt").read_bytes() == b"new"


@pytest.mark.django_db
def test_a_live_load_is_never_touched(tmp_path):
    journal, owned = killed_load(tmp_path / "base", state=COMMITTED, live=True)
    before = snapshot(tmp_path / "base")
    result = recover([tmp_path / "base"], using="default", reporter=_reporter())
    assert result.finished == [] and result.removed == []
    assert snapshot(tmp_path / "base") == before
    owned.release()


@pytest.mark.django_db
def test_diskette_recover_removes_what_dead_runs_left_and_keeps_live_work(
    tmp_path, settings
):
    settings.DISKETTE_LOAD_STORAGES_PATH = tmp_path / "base"
    settings.DISKETTE_DUMP_PATH = tmp_path / "dumps"
    base, dumps = tmp_path / "base", tmp_path / "dumps"
    base.mkdir()
    dumps.mkdir()
    dead_staging = Owned.create(LOAD_PREFIX, base)
    (dead_staging.path / "users.json").write_bytes(b'[{"password": "pbkdf2_sha256$"}]')
    dead_staging.release(remove=False)
    dead_dump = Owned.create(DUMP_PREFIX, dumps)
    dead_dump.release(remove=False)
    part = dumps / ".diskette.tar.gz.x1y2.part"
    part.write_bytes(b"half an archive")
    live = Owned.create(LOAD_PREFIX, base)
    try:
        out = StringIO()
        call_command("diskette_recover", "--list", stdout=out)
        listed = out.getvalue()
        assert str(dead_staging.path) in listed and str(part) in listed
        assert str(live.path) not in listed
        assert dead_staging.path.exists()  # --list removes nothing

        call_command("diskette_recover", stdout=StringIO(), stderr=StringIO())
        assert not dead_staging.path.exists()
        assert not dead_dump.path.exists()
        assert not part.exists()
        assert live.path.is_dir()
    finally:
        live.release()


def test_an_unlocked_directory_is_given_time_before_it_counts_as_left(tmp_path):
    young = tmp_path / f"{LOAD_PREFIX}young"
    old = tmp_path / f"{LOAD_PREFIX}old"
    young.mkdir()
    old.mkdir()
    os.utime(old, (OLD, OLD))
    from diskette.owner import is_abandoned

    assert not is_abandoned(young)
    assert is_abandoned(old)


@pytest.mark.django_db
def test_every_other_command_says_a_recovery_is_pending(tmp_path, settings):
    settings.DISKETTE_LOAD_STORAGES_PATH = tmp_path / "base"
    killed_load(tmp_path / "base", state=COMMITTED)
    err = StringIO()
    call_command("diskette_apps", stdout=StringIO(), stderr=err)
    assert "interrupted after its commit" in err.getvalue()
    assert "diskette_recover" in err.getvalue()
    call_command("diskette_recover", stdout=StringIO(), stderr=StringIO())
    err = StringIO()
    call_command("diskette_apps", stdout=StringIO(), stderr=err)
    assert "interrupted" not in err.getvalue()
    assert (tmp_path / "base" / "media" / "new.txt").read_bytes() == b"new"


def _reporter():
    from diskette.reporter import Reporter

    return Reporter()
