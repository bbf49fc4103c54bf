"""api.list_archives() and api.prune() on real destinations: a directory, a
FileSystemStorage alias of STORAGES, S3 (moto) and SFTP (sshd).

Listing reads sidecars only: on S3 a counting backend wrapped around the real
one proves that no archive body is ever opened. A prune deletes only archives
written by diskette, each before its sidecar, and never a foreign file.
"""

from __future__ import annotations

import datetime
import io
import os
from collections import Counter
from typing import IO, Any

import pytest
from django.core.files.storage import storages

import diskette
from diskette import api
from diskette.checks import settings_problems
from diskette.destinations import LocalDestination, StorageDestination
from diskette.destinations.retention import Retention, configured_retention
from diskette.destinations.sidecar import build_sidecar, sidecar_name, write_sidecar
from diskette.exceptions import ConfigurationError
from tests.destinations import test_s3_sftp
from tests.destinations.dict_backend import CHECKSUM, manifest_dict, utc
from tests.destinations.test_s3_sftp import s3_remote

OLD = "diskette_20261120T100000.000000Z.tar.gz"
MIDDLE = "diskette_20261125T100000.000000Z.tar.gz"
NEW = "diskette_20261201T100000.000000Z.tar.gz"
FOREIGN = "backup-by-hand.tar.gz"
FILESYSTEM = "django.core.files.storage.FileSystemStorage"
#: The fixture of test_s3_sftp: each test using it runs on S3, then on SFTP.
remote = test_s3_sftp.remote


def put_archive(
    destination: Any, name: str, created: datetime.datetime, body: bytes = b""
) -> bytes:
    """Write an archive body and its sidecar in a destination, as a dump does."""
    body = body or os.urandom(2048)
    destination.write(name, io.BytesIO(body))
    sidecar = build_sidecar(name, len(body), CHECKSUM, manifest_dict(), created=created)
    write_sidecar(destination, sidecar)
    return body


def three_archives_and_a_foreign_file(destination: Any) -> None:
    """Three archives written out of order, and an archive diskette did not write."""
    put_archive(destination, MIDDLE, utc(2026, 11, 25, 10))
    put_archive(destination, NEW, utc(2026, 12, 1, 10))
    put_archive(destination, OLD, utc(2026, 11, 20, 10))
    destination.write(FOREIGN, io.BytesIO(b"not ours" * 100))


class CountingStream(io.RawIOBase):
    """A backend's stream that adds what is read to a tally."""

    def __init__(self, stream: IO[bytes], tally: Counter, path: str):
        self.stream, self.tally, self.path = stream, tally, path

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.tally[self.path] += len(data)
        return data

    def close(self) -> None:
        self.stream.close()
        super().close()


class CountingDestination:
    """Delegates to a real destination; records every ``read`` and its bytes, and
    fails the test when a ``forbidden`` path is opened."""

    def __init__(self, inner: StorageDestination):
        self.inner = inner
        self.opened: list[str] = []
        self.bytes_read: Counter = Counter()
        self.forbidden: set[str] = set()

    def read(self, path: str) -> IO[bytes]:
        assert path not in self.forbidden, f"{path!r} was opened"
        self.opened.append(path)
        return CountingStream(self.inner.read(path), self.bytes_read, path)  # type: ignore[return-value]

    def __getattr__(self, name: str) -> Any:  # write, list, delete, exists, size...
        return getattr(self.inner, name)


@pytest.fixture
def local(tmp_path, settings) -> LocalDestination:
    """The default destination: DISKETTE_DUMP_PATH, a directory."""
    settings.DISKETTE_DUMP_PATH = str(tmp_path / "dumps")
    settings.DISKETTE_ARCHIVE_STORAGE = None
    return LocalDestination(tmp_path / "dumps")


# -- listing ------------------------------------------------------------------------


def test_the_default_destination_is_listed_newest_first(local):
    three_archives_and_a_foreign_file(local)

    entries = api.list_archives()

    ours = [entry for entry in entries if entry.written_by_diskette]
    assert [entry.name for entry in ours] == [NEW, MIDDLE, OLD]
    assert ours[0].data_files == (("data/auth.json", 2), ("data/library.jsonl", 40))
    (foreign,) = [entry for entry in entries if not entry.written_by_diskette]
    assert foreign.name == FOREIGN
    assert foreign.checksum is None and foreign.data_files == ()
    assert foreign.size == 800 and foreign.created is not None  # the file's mtime
    assert diskette.list_archives is api.list_archives


def test_a_storages_alias_is_listed(tmp_path, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {"BACKEND": FILESYSTEM, "OPTIONS": {"location": str(tmp_path)}},
    }
    put_archive(StorageDestination(storages["backups"]), NEW, utc(2026, 12, 1))

    entries = api.list_archives("backups")

    assert [(e.name, e.written_by_diskette) for e in entries] == [(NEW, True)]
    assert entries[0].to_dict()["created"] == "2026-12-01T00:00:00+00:00"


@pytest.mark.slow
def test_listing_s3_reads_the_sidecars_and_never_an_archive_body(s3_server):
    real = s3_remote(s3_server)
    bodies = {name: os.urandom(200_000) for name in (OLD, MIDDLE, NEW)}
    for name, created in ((OLD, utc(2026, 11, 20)), (MIDDLE, utc(2026, 11, 25))):
        put_archive(real.destination, name, created, bodies[name])
    put_archive(real.destination, NEW, utc(2026, 12, 1), bodies[NEW])
    counting = CountingDestination(real.destination)
    counting.forbidden.update(bodies)

    entries = api.list_archives(counting)

    assert [entry.name for entry in entries] == [NEW, MIDDLE, OLD]
    assert all(entry.written_by_diskette for entry in entries)
    sidecars = {sidecar_name(name) for name in bodies}
    assert sorted(counting.opened) == sorted(sidecars)  # each once
    for name in sidecars:
        with real.destination.read(name) as stream:
            assert counting.bytes_read[name] == len(stream.read())
    assert sum(counting.bytes_read.values()) < 3 * 20_000  # no body: 200 kB each


# -- pruning ------------------------------------------------------------------------


@pytest.mark.slow
def test_prune_on_a_remote_deletes_old_archives_and_never_a_foreign_file(remote):
    three_archives_and_a_foreign_file(remote.destination)

    result = api.prune(Retention(keep_last=1), destination=remote.destination)

    assert result.deleted == [OLD, sidecar_name(OLD), MIDDLE, sidecar_name(MIDDLE)]
    assert result.kept == [(NEW, ("keep_last (1 of 1)",))]
    assert result.ignored == [FOREIGN]
    assert sorted(remote.raw_names()) == sorted([NEW, sidecar_name(NEW), FOREIGN])


@pytest.mark.slow
def test_a_dry_run_on_a_remote_deletes_nothing(remote):
    three_archives_and_a_foreign_file(remote.destination)
    before = sorted(remote.raw_names())

    result = api.prune(
        Retention(keep_last=1), destination=remote.destination, dry_run=True
    )

    assert result.dry_run
    assert result.deleted == [OLD, sidecar_name(OLD), MIDDLE, sidecar_name(MIDDLE)]
    assert sorted(remote.raw_names()) == before


def test_only_bounds_what_a_prune_deletes(local):
    three_archives_and_a_foreign_file(local)
    shown = [OLD, sidecar_name(OLD)]  # what a dry run showed, before MIDDLE aged

    result = api.prune(Retention(keep_last=1), only=shown)

    assert result.deleted == shown
    assert sorted(local.list()) == sorted(
        [MIDDLE, sidecar_name(MIDDLE), NEW, sidecar_name(NEW), FOREIGN]
    )


def test_prune_applies_the_retention_setting(local, settings):
    three_archives_and_a_foreign_file(local)
    settings.DISKETTE_RETENTION = {"keep_last": 2, "newer_than": "3650d"}

    result = api.prune(dry_run=True)

    assert [name for name, _ in result.kept] == [NEW, MIDDLE, OLD]
    assert result.deleted == []


def test_prune_without_a_retention_says_so(local):
    with pytest.raises(ConfigurationError, match="DISKETTE_RETENTION is not set"):
        api.prune()
    with pytest.raises(ConfigurationError, match="is not a Retention"):
        api.prune({"keep_last": 1})  # type: ignore[arg-type]


# -- the DISKETTE_RETENTION setting -------------------------------------------------


def test_the_setting_reads_durations_and_sizes_as_text():
    retention = Retention.from_setting(
        {"keep_last": 3, "newer_than": "30d", "max_total_size": "2GiB", "weekly": 4}
    )
    assert retention == Retention(
        keep_last=3,
        newer_than=datetime.timedelta(days=30),
        max_total_size=2 * 1024**3,
        weekly=4,
    )
    same = Retention.from_setting(
        {"newer_than": datetime.timedelta(hours=12), "max_total_size": 1000}
    )
    assert same == Retention(
        newer_than=datetime.timedelta(hours=12), max_total_size=1000
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({}, "a retention needs at least one rule"),
        ({"keep": 3}, "'keep': no such rule"),
        ({"keep_last": 0}, "keep_last 0 is not a positive whole number"),
        ({"daily": "7"}, "daily '7' is not a positive whole number"),
        ({"newer_than": "30 days"}, "newer_than '30 days' is not a duration"),
        ({"max_total_size": "2G"}, "max_total_size '2G' is not a size"),
        (7, "7 (an int) is not a dict of rules"),
    ],
)
def test_a_wrong_setting_is_a_system_check_error_and_refused(settings, value, words):
    settings.DISKETTE_RETENTION = value

    (problem,) = [p for p in settings_problems() if p.id == "E019"]
    assert problem.message.startswith("DISKETTE_RETENTION: ")
    assert words in problem.message
    assert not problem.warning
    with pytest.raises(ConfigurationError, match="DISKETTE_RETENTION: ") as raised:
        configured_retention()
    assert words in str(raised.value)


def test_an_unset_or_valid_setting_is_no_problem(settings):
    for value in (None, {"monthly": 12}):
        settings.DISKETTE_RETENTION = value
        assert [p for p in settings_problems() if p.id == "E019"] == []


def test_the_types_are_exported():
    assert api.PruneResult is diskette.PruneResult
    assert api.ArchiveEntry is diskette.ArchiveEntry
    assert api.Retention is Retention
    assert diskette.prune is api.prune
