"""The diskette_list command: newest first, what each archive holds, foreign files
marked, ``--json``, ``--from``."""

from __future__ import annotations

import json
import os
from io import StringIO

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command

from diskette.destinations import LocalDestination, StorageDestination
from diskette.reporter import human_size
from tests.destinations.dict_backend import utc
from tests.destinations.test_archives_api import (
    FILESYSTEM,
    FOREIGN,
    MIDDLE,
    NEW,
    OLD,
    put_archive,
    three_archives_and_a_foreign_file,
)


def run(*args: str, **options) -> str:
    out = StringIO()
    call_command("diskette_list", *args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def dumps(tmp_path, settings) -> LocalDestination:
    settings.DISKETTE_DUMP_PATH = str(tmp_path / "dumps")
    settings.DISKETTE_ARCHIVE_STORAGE = None
    destination = LocalDestination(tmp_path / "dumps")
    three_archives_and_a_foreign_file(destination)
    stamp = utc(2026, 11, 22, 8).timestamp()
    os.utime(tmp_path / "dumps" / FOREIGN, (stamp, stamp))
    return destination


def described(name: str, day: str) -> list[str]:
    return [
        name,
        f"  created 2026-{day} 10:00:00 UTC, 2.0 kB, format tar.gz, checksum "
        "blake2b:abababababababab",
        "  data: data/auth.json (2 objects), data/library.jsonl (40 objects)",
        "  storages: media (3 files)",
    ]


def test_archives_are_listed_newest_first_with_what_they_hold(dumps):
    assert run().splitlines() == [
        *described(NEW, "12-01"),
        *described(MIDDLE, "11-25"),
        f"{FOREIGN}: not written by diskette, 800 B, modified 2026-11-22 08:00:00 UTC",
        *described(OLD, "11-20"),
    ]


def test_json_gives_each_entry(dumps):
    payload = json.loads(run("--json"))

    assert [entry["name"] for entry in payload] == [NEW, MIDDLE, FOREIGN, OLD]
    assert payload[0]["written_by_diskette"] is True
    assert payload[0]["checksum"] == "blake2b:" + "ab" * 64
    assert payload[0]["data_files"][1] == {"path": "data/library.jsonl", "objects": 40}
    assert payload[0]["storages"] == [{"name": "media", "files": 3}]
    assert payload[2] == {
        "name": FOREIGN,
        "size": 800,
        "created": "2026-11-22T08:00:00+00:00",
        "written_by_diskette": False,
        "checksum": None,
        "format": None,
        "data_files": [],
        "storages": [],
        "encryption": None,
        "signed_by": None,
    }


def test_from_lists_a_storages_alias(dumps, tmp_path, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": FILESYSTEM,
            "OPTIONS": {"location": str(tmp_path / "b")},
        },
    }
    put_archive(StorageDestination(storages["backups"]), OLD, utc(2026, 11, 20, 10))

    assert run("--from", "backups").splitlines() == described(OLD, "11-20")
    assert run("--from", "local").splitlines()[0] == NEW


def test_an_empty_destination_says_so(tmp_path, settings):
    settings.DISKETTE_DUMP_PATH = str(tmp_path / "nothing-yet")
    assert run() == "no archive in DISKETTE_ARCHIVE_STORAGE\n"
    assert run("--from", "local") == "no archive in 'local'\n"


def test_an_unknown_alias_is_one_line(dumps):
    with pytest.raises(CommandError) as raised:
        run("--from", "nope")
    assert raised.value.returncode == 3
    assert "'nope', neither 'local' nor an alias of STORAGES" in str(raised.value)


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1_500_000, "1.5 MB"),
        (10**16, "10000.0 TB"),
    ],
)
def test_sizes_are_shown_in_powers_of_1000(size, shown):
    assert human_size(size) == shown
