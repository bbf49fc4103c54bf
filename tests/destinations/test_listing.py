"""Listing a destination: newest first, from the sidecars alone, foreign files marked."""

from __future__ import annotations

import io
import json
import os

from diskette.destinations.listing import (
    ArchiveEntry,
    is_archive_name,
    list_archives,
    scan_destination,
)
from diskette.destinations.sidecar import build_sidecar, sidecar_name, write_sidecar
from tests.destinations.dict_backend import (
    CHECKSUM,
    AdvancedDictBackend,
    DictBackend,
    manifest_dict,
    store_archive,
    utc,
)

OLD = "diskette_20261120T100000.000000Z.tar.gz"
MIDDLE = "diskette_20261125T100000.000000Z.tar.gz"
NEW = "diskette_20261201T100000.000000Z.tar.gz"


def three_archives(backend: DictBackend) -> None:
    # Written out of order: the listing sorts by the sidecar's time.
    store_archive(backend, MIDDLE, utc(2026, 11, 25, 10))
    store_archive(backend, NEW, utc(2026, 12, 1, 10))
    store_archive(backend, OLD, utc(2026, 11, 20, 10))


def test_archives_are_listed_newest_first_with_what_they_hold():
    backend = DictBackend()
    three_archives(backend)

    entries = list_archives(backend)

    assert [entry.name for entry in entries] == [NEW, MIDDLE, OLD]
    newest = entries[0]
    assert newest.written_by_diskette
    assert newest.created == utc(2026, 12, 1, 10)
    assert newest.size == len(backend.files[NEW])
    assert newest.checksum == f"blake2b:{CHECKSUM}"
    assert newest.format == "tar.gz"
    assert newest.data_files == (("data/auth.json", 2), ("data/library.jsonl", 40))
    assert newest.storages == (("media", 3),)
    assert newest.sidecar == sidecar_name(NEW)


def test_listing_reads_sidecars_only_never_an_archive_body():
    """Every archive body is forbidden to open; each sidecar is read once, and no
    more bytes than it holds."""
    backend = AdvancedDictBackend()
    three_archives(backend)
    backend.files["foreign.tar.gz"] = b"x" * 10_000
    backend.times["foreign.tar.gz"] = utc(2026, 1, 1)
    backend.forbidden.update([OLD, MIDDLE, NEW, "foreign.tar.gz"])

    entries = list_archives(backend)

    assert len(entries) == 4
    sidecars = {sidecar_name(name) for name in (OLD, MIDDLE, NEW)}
    assert set(backend.opened) == sidecars
    assert len(backend.opened) == 3
    for path, count in backend.bytes_read.items():
        assert path in sidecars
        assert count == len(backend.files[path])


def test_an_archive_without_a_sidecar_is_foreign_with_nothing_guessed():
    backend = AdvancedDictBackend()
    three_archives(backend)
    backend.files["backup.tgz"] = b"y" * 77
    backend.times["backup.tgz"] = utc(2026, 11, 22, 8)

    entries = list_archives(backend)

    assert [entry.name for entry in entries] == [NEW, MIDDLE, "backup.tgz", OLD]
    foreign = entries[2]
    assert foreign == ArchiveEntry(
        name="backup.tgz",
        size=77,
        created=utc(2026, 11, 22, 8),
        written_by_diskette=False,
    )
    assert foreign.checksum is None
    assert foreign.format is None
    assert foreign.data_files == ()
    assert foreign.storages == ()


def test_the_minimum_tier_gives_foreign_archives_no_size_nor_time_and_puts_them_last():
    backend = DictBackend()
    three_archives(backend)
    backend.files["zzz.tar"] = b"z"

    entries = list_archives(backend)

    assert [entry.name for entry in entries] == [NEW, MIDDLE, OLD, "zzz.tar"]
    assert entries[-1] == ArchiveEntry(
        name="zzz.tar", size=None, created=None, written_by_diskette=False
    )


def test_a_sidecar_that_names_another_archive_does_not_vouch_for_this_one():
    backend = DictBackend()
    store_archive(backend, NEW, utc(2026, 12, 1, 10))
    backend.files["copy.tar.gz"] = backend.files[NEW]
    backend.files[sidecar_name("copy.tar.gz")] = backend.files[sidecar_name(NEW)]

    entries = {entry.name: entry for entry in list_archives(backend)}

    assert entries[NEW].written_by_diskette
    assert not entries["copy.tar.gz"].written_by_diskette


def test_a_broken_sidecar_makes_its_archive_foreign():
    backend = DictBackend()
    store_archive(backend, NEW, utc(2026, 12, 1, 10))
    backend.files[sidecar_name(NEW)] = b'{"diskette_sidecar": 1}'

    (entry,) = list_archives(backend)

    assert not entry.written_by_diskette
    assert entry.checksum is None


def test_an_archive_replaced_since_its_sidecar_was_written_is_foreign():
    """When the backend tells sizes, a size that is not the sidecar's means the
    file there is not the one the sidecar describes."""
    backend = AdvancedDictBackend()
    store_archive(backend, NEW, utc(2026, 12, 1, 10))
    backend.times[NEW] = utc(2026, 12, 2)
    backend.files[NEW] = b"something else entirely"

    (entry,) = list_archives(backend)

    assert not entry.written_by_diskette
    assert entry.size == len(b"something else entirely")
    assert entry.created == utc(2026, 12, 2)


def test_only_archive_names_are_listed():
    backend = DictBackend()
    store_archive(backend, NEW, utc(2026, 12, 1, 10))
    backend.files["notes.txt"] = b"hello"
    backend.files["orphan.tar.gz.manifest.json.bak"] = b"{}"
    backend.files[".diskette-partial-abc.tar.gz"] = b"half"

    assert [entry.name for entry in list_archives(backend)] == [NEW]
    assert is_archive_name("a.tar.zst")
    assert is_archive_name("site/a.tar.gz")
    assert not is_archive_name("a.tar.gz.manifest.json")
    assert not is_archive_name("site/.diskette-partial-x.tar.gz")


def test_valid_sidecars_without_their_archive_are_orphans_others_are_not():
    backend = DictBackend()
    store_archive(backend, NEW, utc(2026, 12, 1, 10))
    store_archive(backend, OLD, utc(2026, 11, 20, 10))
    del backend.files[OLD]
    backend.files["mine.tar.gz.manifest.json"] = b'{"not": "a diskette sidecar"}'

    listing = scan_destination(backend)

    assert [entry.name for entry in listing.entries] == [NEW]
    assert listing.orphan_sidecars == [sidecar_name(OLD)]


def test_entries_are_json_ready():
    backend = AdvancedDictBackend()
    store_archive(backend, NEW, utc(2026, 12, 1, 10))
    backend.files["backup.tgz"] = b"y"
    backend.times["backup.tgz"] = utc(2026, 11, 22, 8)

    payload = json.loads(json.dumps([e.to_dict() for e in list_archives(backend)]))

    assert payload[0] == {
        "name": NEW,
        "size": len(backend.files[NEW]),
        "created": "2026-12-01T10:00:00+00:00",
        "written_by_diskette": True,
        "checksum": f"blake2b:{CHECKSUM}",
        "format": "tar.gz",
        "data_files": [
            {"path": "data/auth.json", "objects": 2},
            {"path": "data/library.jsonl", "objects": 40},
        ],
        "storages": [{"name": "media", "files": 3}],
        "encryption": None,
        "signed_by": None,
    }
    assert payload[1] == {
        "name": "backup.tgz",
        "size": 1,
        "created": "2026-11-22T08:00:00+00:00",
        "written_by_diskette": False,
        "checksum": None,
        "format": None,
        "data_files": [],
        "storages": [],
        "encryption": None,
        "signed_by": None,
    }


def test_a_legacy_manifest_lists_its_files_without_counts():
    backend = DictBackend()
    legacy = {
        "version": "0.3.0",
        "creation": "2024-01-01T10:00:00",
        "datas": ["data/auth.json"],
        "storages": ["media"],
    }
    store_archive(backend, NEW, utc(2026, 12, 1, 10), manifest=legacy)

    (entry,) = list_archives(backend)

    assert entry.data_files == (("data/auth.json", None),)
    assert entry.storages == (("media", None),)


def test_a_prefix_lists_one_directory():
    backend = DictBackend()
    store_archive(backend, "site/" + NEW, utc(2026, 12, 1, 10))
    store_archive(backend, OLD, utc(2026, 11, 20, 10))

    class OneLevel(DictBackend):
        """list() as the protocol says: the files of one directory only."""

        def list(self, prefix=""):
            directory = prefix.rpartition("/")[0]
            return [
                name
                for name in super().list(prefix)
                if name.rpartition("/")[0] == directory
            ]

    one_level = OneLevel()
    one_level.files = backend.files

    assert [e.name for e in list_archives(one_level)] == [OLD]
    assert [e.name for e in list_archives(one_level, "site/")] == ["site/" + NEW]


def test_through_a_local_destination(tmp_path):
    """The same listing from a directory: archives and sidecars written by the
    destination itself, a foreign file dated by its modification time."""
    from diskette.destinations.local import LocalDestination

    destination = LocalDestination(tmp_path, permissions=0o600)
    for name, created in ((OLD, utc(2026, 11, 20)), (NEW, utc(2026, 12, 1))):
        body = b"archive " + name.encode()
        destination.write(name, io.BytesIO(body))
        write_sidecar(
            destination,
            build_sidecar(name, len(body), CHECKSUM, manifest_dict(), created=created),
        )
    foreign = tmp_path / "foreign.tar.gz"
    foreign.write_bytes(b"not ours")
    stamp = utc(2026, 11, 25).timestamp()
    os.utime(foreign, (stamp, stamp))

    entries = list_archives(destination)

    assert [entry.name for entry in entries] == [NEW, "foreign.tar.gz", OLD]
    assert [entry.written_by_diskette for entry in entries] == [True, False, True]
    assert entries[0].data_files == (("data/auth.json", 2), ("data/library.jsonl", 40))
    assert entries[1] == ArchiveEntry(
        name="foreign.tar.gz",
        size=len(b"not ours"),
        created=utc(2026, 11, 25),
        written_by_diskette=False,
    )
