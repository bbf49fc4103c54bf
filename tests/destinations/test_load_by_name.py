"""Loading and inspecting an archive by its name in a destination, or ``latest``.

Real parts only: dumps of the seeded sandbox, a real S3 server (moto) reached
through a ``STORAGES`` alias, the local destination in a temporary directory.
The rows are compared through the ORM as the other load tests do. An archive
of S3 is streamed into the load's staging; one of a local directory is read
where it is. A body that is not the one its sidecar describes is refused
before anything changes.
"""

from __future__ import annotations

import datetime
import io
import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.sites.models import Site
from django.core.files.storage import storages
from django.core.management import CommandError, call_command

from diskette import api
from diskette.archive import ArchiveReader, archive_checksum
from diskette.destinations import LocalDestination, StorageDestination
from diskette.destinations.sidecar import build_sidecar, sidecar_name, write_sidecar
from diskette.exceptions import ArchiveError, ChecksumError
from diskette.reporter import Reporter
from sandbox.library.models import Book, Publisher
from sandbox.library.seeding import seed_database, seed_media
from tests.api.test_api_load import data, files
from tests.archives import make_archive, sites, snapshot
from tests.destinations.dict_backend import DictBackend
from tests.destinations.test_archives_api import CountingDestination
from tests.servers.s3 import unique_prefix

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
NEWER = "diskette_20261201T030000.000000Z.tar.gz"
#: How messages name the S3 destination of the ``backups`` fixture.
S3_WHERE = "STORAGES['backups'] (S3Storage)"


class Recorder(Reporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)


def publish(
    destination, archive: Path, name: str, created: datetime.datetime | None = None
) -> str:
    """Upload a finished archive under ``name`` and write its sidecar, as a dump
    to a destination does."""
    with ArchiveReader(archive, max_size=10**12, max_members=10**6) as reader:
        manifest = reader.inspect()
    with open(archive, "rb") as stream:
        destination.write(name, stream)
    sidecar = build_sidecar(
        name,
        archive.stat().st_size,
        archive_checksum(archive),
        manifest.to_dict(),
        created=created,
    )
    write_sidecar(destination, sidecar)
    return name


def dump_site(tmp_path: Path, label: str) -> str:
    """Dump the seeded database and ``<label>-source/media`` to ``backups``, as
    ``diskette_dump --to backups`` does (the archive, then its sidecar); the
    archive's name there."""
    result = api.dump(
        to="backups",
        storages=["media"],
        storages_basepath=tmp_path / f"{label}-source",
        no_storages_excludes=True,
    )
    return result.name


@pytest.fixture
def backups(s3_server, settings) -> StorageDestination:
    """The STORAGES alias ``backups``: S3, under a prefix of this test's own."""
    options = s3_server.storage_options(location=unique_prefix().rstrip("/"))
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    return StorageDestination(storages["backups"])


@pytest.fixture
def dumps(tmp_path, settings, monkeypatch) -> LocalDestination:
    """The default destination, a directory; the working directory is elsewhere."""
    settings.DISKETTE_DUMP_PATH = str(tmp_path / "dumps")
    settings.DISKETTE_ARCHIVE_STORAGE = None
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return LocalDestination(tmp_path / "dumps")


@pytest.fixture
def small(tmp_path) -> Path:
    return make_archive(
        tmp_path / "small.tar.gz",
        data={"sites.json": sites((61, "by-name.example.org"))},
        storages={"media": {"a.txt": b"a"}},
    )


def tamper(destination, name: str) -> None:
    """Flip one byte in the middle of an archive's body: same size, other digest."""
    with destination.read(name) as stream:
        body = bytearray(stream.read())
    body[len(body) // 2] ^= 0xFF
    destination.write(name, io.BytesIO(bytes(body)))


# -- S3 ---------------------------------------------------------------------------


@pytest.mark.slow
def test_load_by_name_from_s3_into_a_fresh_database(tmp_path, backups):
    seed_database(30)
    seed_media(tmp_path / "site-source" / "media", files=3)
    original = data("default")
    name = dump_site(tmp_path, "site")
    Book.objects.all().update(title="overwritten")
    Publisher.objects.create(name="not in the archive")
    home = tmp_path / "home"
    reporter = Recorder()

    result = api.load(
        name, source="backups", storages_basepath=home, flush=True, reporter=reporter
    )

    assert data("default") == original
    assert files(home / "media") == files(tmp_path / "site-source" / "media")
    assert result.archive == f"{name} in {S3_WHERE}"
    assert any(
        line.startswith(f"Fetched {name} in {S3_WHERE} (") for line in reporter.lines
    )
    assert sorted(p.name for p in home.iterdir()) == ["media"]  # staging is gone


@pytest.mark.slow
def test_latest_loads_the_newest_archive_written_by_diskette(tmp_path, backups):
    seed_database(20)
    (tmp_path / "old-source" / "media").mkdir(parents=True)
    older = dump_site(tmp_path, "old")
    Publisher.objects.create(name="only in the newer archive")
    (tmp_path / "new-source" / "media").mkdir(parents=True)
    newer_data = data("default")
    newer = dump_site(tmp_path, "new")
    # As new, but not written by diskette: "latest" never picks it.
    with backups.read(older) as stream:
        backups.write("zz-copied-by-hand.tar.gz", io.BytesIO(stream.read()))
    Book.objects.all().update(title="overwritten")
    reporter = Recorder()

    api.load(
        "latest",
        source="backups",
        storages_basepath=tmp_path / "home",
        flush=True,
        reporter=reporter,
    )

    assert data("default") == newer_data
    assert f"latest is {newer} in {S3_WHERE}" in reporter.lines
    entries = api.list_archives("backups")
    assert [e.name for e in entries if e.written_by_diskette] == [newer, older]
    assert "zz-copied-by-hand.tar.gz" in [e.name for e in entries]


def test_a_tampered_body_on_s3_is_refused_and_nothing_changes(tmp_path, backups):
    home = tmp_path / "home"
    (home / "media").mkdir(parents=True)
    (home / "media" / "old.txt").write_bytes(b"old")
    publish(
        backups,
        make_archive(
            tmp_path / "a.tar.gz",
            data={"sites.json": sites((62, "tampered.example.org"))},
            storages={"media": {"new.txt": b"new" * 1000}},
        ),
        NEWER,
    )
    tamper(backups, NEWER)
    assert [e.written_by_diskette for e in api.list_archives("backups")] == [True]
    before = (snapshot(home), data("default"))

    with pytest.raises(ChecksumError) as raised:
        api.load(NEWER, source="backups", storages_basepath=home)

    message = str(raised.value)
    assert f"its sidecar {sidecar_name(NEWER)!r} records" in message
    assert "nothing was changed" in message
    assert raised.value.exit_code == 13
    assert (snapshot(home), data("default")) == before


@pytest.mark.slow
def test_inspect_and_plan_by_name_from_s3(tmp_path, backups, small):
    publish(backups, small, NEWER)

    result = api.inspect("latest", source="backups")
    plan = api.plan_load(NEWER, source="backups", storages_basepath=tmp_path / "h")

    assert result.ok and result.checksums == "verified"
    assert result.archive == f"{NEWER} in {S3_WHERE}"
    assert [item.path for item in result.data] == ["data/sites.json"]
    assert plan.exit_code == 0 and plan.archive == result.archive

    other = make_archive(tmp_path / "other.tar.gz", data={"s.json": sites((64, "o"))})
    backups.write(NEWER, io.BytesIO(other.read_bytes()))  # readable, but not its own
    replaced = api.inspect(NEWER, source="backups")
    assert not replaced.ok
    assert "its sidecar" in replaced.problems[0]
    assert isinstance(replaced.error(), ChecksumError)

    whole = small.read_bytes()
    truncated = whole[: len(whole) // 2]  # cannot be read: the sidecar says why
    backups.write(NEWER, io.BytesIO(truncated))
    with pytest.raises(ChecksumError, match="its sidecar"):
        api.inspect(NEWER, source="backups")


def test_a_fetch_stops_at_the_load_size_limit(tmp_path, backups, settings, small):
    publish(backups, small, NEWER)
    settings.DISKETTE_LOAD_MAX_SIZE = 100
    counting = CountingDestination(backups)
    counting.forbidden.add(NEWER)  # the size is asked first: nothing is read

    with pytest.raises(ArchiveError, match=r"bytes\) is larger than DISKETTE_LOAD_MAX"):
        api.load(NEWER, source=counting, storages_basepath=tmp_path / "home")

    minimum = DictBackend()  # no size(): the bytes are counted as they come
    minimum.files[NEWER] = small.read_bytes()
    with pytest.raises(ArchiveError, match="is larger than DISKETTE_LOAD_MAX_SIZE"):
        api.inspect(NEWER, source=minimum)
    assert not list((tmp_path / "home").glob(".diskette-load-*"))


# -- the local destination --------------------------------------------------------


def test_an_archive_of_the_local_destination_is_read_in_place(
    tmp_path, dumps, small, monkeypatch
):
    publish(dumps, small, NEWER)

    read = LocalDestination.read

    def no_copy(self, path):
        assert path == sidecar_name(NEWER), f"{path!r} was read through the backend"
        return read(self, path)

    monkeypatch.setattr(LocalDestination, "read", no_copy)
    reporter = Recorder()
    result = api.load(NEWER, storages_basepath=tmp_path / "home", reporter=reporter)

    assert result.archive == f"{NEWER} in local directory {dumps.location}"
    assert not any(line.startswith("Fetched") for line in reporter.lines)
    assert (tmp_path / "home" / "media" / "a.txt").read_bytes() == b"a"
    assert sorted(p.name for p in (tmp_path / "dumps").iterdir()) == [
        NEWER,
        sidecar_name(NEWER),
    ]


def test_a_local_archive_that_is_not_its_sidecars_is_refused(tmp_path, dumps, small):
    publish(dumps, small, NEWER)
    tamper(dumps, NEWER)

    with pytest.raises(ChecksumError, match="its sidecar"):
        api.load(NEWER, storages_basepath=tmp_path / "home")


def test_a_file_here_wins_over_a_name_in_the_destination(tmp_path, dumps, small):
    publish(dumps, small, NEWER)
    here = make_archive(
        Path.cwd() / NEWER, data={"sites.json": sites((63, "here.org"))}
    )

    result = api.load(NEWER, storages_basepath=tmp_path / "home")

    assert result.archive == NEWER
    assert Path(result.archive).absolute() == here
    assert Site.objects.filter(pk=63).exists()
    assert not Site.objects.filter(pk=61).exists()


def test_an_unknown_name_is_one_line_naming_the_destination_and_close_names(
    dumps, small
):
    publish(dumps, small, NEWER)

    with pytest.raises(ArchiveError) as raised:
        api.load("diskette_20261201T030000.000001Z.tar.gz")
    assert raised.value.exit_code == 10
    assert str(raised.value) == (
        "archive 'diskette_20261201T030000.000001Z.tar.gz' does not exist: it is "
        f"neither a file, a URL nor an archive in local directory {dumps.location}; "
        f"the closest names there: {NEWER!r} (run diskette_list to see them all)"
    )
    with pytest.raises(ArchiveError, match="run diskette_list to see what it holds"):
        api.inspect("x.tgz")


def test_latest_without_an_archive_written_by_diskette_says_so(dumps):
    dumps.write("by-hand.tar.gz", io.BytesIO(b"x" * 100))

    with pytest.raises(ArchiveError) as raised:
        api.inspect("latest")
    assert str(raised.value) == (
        f"'latest' names the newest archive written by diskette, and "
        f"local directory {dumps.location} holds none (it holds 1 archive not "
        "written by diskette): dump one there, or name the archive"
    )


# -- the commands -----------------------------------------------------------------


def run(command: str, *args: str, **options) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.mark.slow
def test_diskette_load_and_inspect_take_from(tmp_path, backups, small):
    publish(backups, small, NEWER)

    inspected = json.loads(
        run("diskette_inspect", "latest", "--from", "backups", "--json")
    )
    loaded = run(
        "diskette_load",
        NEWER,
        "--from",
        "backups",
        "--storages-basepath",
        str(tmp_path / "home"),
    )

    assert inspected["archive"] == f"{NEWER} in {S3_WHERE}"
    assert inspected["checksums"]["status"] == "verified"
    assert "data/sites.json: 1 object loaded" in loaded.splitlines()


def test_the_commands_refuse_an_unknown_name_and_a_tampered_body(
    tmp_path, backups, small
):
    publish(backups, small, NEWER)
    tamper(backups, NEWER)

    with pytest.raises(CommandError) as unknown:
        run("diskette_load", "nope.tar.gz", "--from", "backups", "--noinput")
    with pytest.raises(CommandError) as tampered:
        run("diskette_inspect", NEWER, "--from", "backups", "--verify")

    assert unknown.value.returncode == 10
    assert f"neither a file, a URL nor an archive in {S3_WHERE};" in str(unknown.value)
    assert "\n" not in str(unknown.value)
    assert tampered.value.returncode == 13
    assert "its sidecar" in str(tampered.value)
