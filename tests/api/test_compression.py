"""dump(compression=...) and load() end to end: zstd and no compression are as
exact as gzip, the name follows the compression, and a load reads the archive
file once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from diskette import api
from diskette.destinations import LocalDestination
from diskette.destinations.listing import list_archives
from diskette.exceptions import ConfigurationError
from sandbox.library.models import Book, Publisher
from sandbox.library.seeding import seed_database, seed_media
from tests.api.test_api_load import data, files

pytestmark = pytest.mark.django_db

SUFFIXES = {"gzip": ".tar.gz", "zstd": ".tar.zst", "none": ".tar"}
MAGIC = {"gzip": b"\x1f\x8b", "zstd": b"\x28\xb5\x2f\xfd"}


def dump(tmp_path: Path, **options) -> api.DumpResult:
    return api.dump(
        destination=tmp_path / "dumps",
        storages=["media"],
        storages_basepath=tmp_path / "source",
        no_storages_excludes=True,
        **options,
    )


@pytest.mark.slow
@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_a_round_trip_is_exact_with_each_compression(tmp_path, compression):
    seed_database(30)
    seed_media(tmp_path / "source" / "media", files=4)
    big = tmp_path / "source" / "media" / "video.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    os.utime(big, (1_700_000_000.5, 1_700_000_000.5))
    original = data("default")
    result = dump(tmp_path, compression=compression)
    archive = Path(result.path)
    assert archive.name.endswith(SUFFIXES[compression])
    head = archive.read_bytes()[:262]
    assert (
        head.startswith(MAGIC[compression])
        if compression in MAGIC
        else head[257:] == b"ustar"
    )
    [entry] = list_archives(LocalDestination(tmp_path / "dumps"))
    assert (entry.name, entry.format) == (archive.name, SUFFIXES[compression][1:])

    Book.objects.all().update(title="overwritten")
    Publisher.objects.create(name="not in the archive")
    home = tmp_path / "home"
    (home / "media").mkdir(parents=True)
    (home / "media" / "stale.txt").write_bytes(b"stale")
    api.load(archive, storages_basepath=home, flush=True)
    assert data("default") == original
    assert files(home / "media") == files(tmp_path / "source" / "media")
    assert (home / "media" / "video.bin").stat().st_mtime == 1_700_000_000.5


def test_a_renamed_archive_loads_by_its_magic_bytes(tmp_path):
    seed_media(tmp_path / "source" / "media", files=2)
    result = dump(tmp_path, compression="zstd", with_data=False)
    renamed = Path(result.path).with_name("looks-like.tar.gz")
    Path(result.path).rename(renamed)
    home = tmp_path / "home"
    home.mkdir()
    loaded = api.load(renamed, storages_basepath=home)
    assert loaded.files == sum(1 for p in (home / "media").rglob("*") if p.is_file())
    assert files(home / "media") == files(tmp_path / "source" / "media")


def test_the_default_name_ends_as_the_compression(tmp_path, settings):
    settings.DISKETTE_APPS = [["django.contrib.sites", {"models": "sites"}]]
    seed_media(tmp_path / "source" / "media", files=1)
    names = {
        compression: Path(dump(tmp_path, compression=compression).path).name
        for compression in SUFFIXES
    }
    for compression, name in names.items():
        assert name.startswith("diskette_data_storages_")
        assert name.endswith(SUFFIXES[compression])


def test_zstd_without_zstandard_is_refused_before_anything_is_written(
    tmp_path, monkeypatch
):
    seed_media(tmp_path / "source" / "media", files=1)
    monkeypatch.setitem(sys.modules, "zstandard", None)  # as if not installed
    with pytest.raises(ConfigurationError) as caught:
        dump(tmp_path, compression="zstd", with_data=False)
    assert str(caught.value) == (
        "compression 'zstd' needs the zstandard package, which is not installed: "
        "pip install 'diskette[zstd]'"
    )
    assert not (tmp_path / "dumps").exists() or not any((tmp_path / "dumps").iterdir())


def test_an_unknown_compression_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="compression 'xz' is unknown"):
        dump(tmp_path, compression="xz")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="Linux counts reads")
@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_load_opens_and_reads_the_archive_once(tmp_path, compression):
    """Counted by the interpreter's audit events (opens) and the kernel (bytes
    read by this process): a second pass would read the archive twice."""
    (tmp_path / "source" / "media").mkdir(parents=True)
    (tmp_path / "source" / "media" / "big.bin").write_bytes(os.urandom(8 * 2**20))
    archive = Path(dump(tmp_path, compression=compression, with_data=False).path)
    size = archive.stat().st_size
    home = tmp_path / "home"
    home.mkdir()
    opened: list[str] = []
    watching = [True]

    def audit(event: str, arguments: tuple) -> None:
        if watching[0] and event == "open" and str(arguments[0]) == str(archive):
            opened.append(f"{arguments[1]} {arguments[2]}")

    sys.addaudithook(audit)  # hooks stay for the process: this one goes quiet
    before = _bytes_read()
    try:
        api.load(archive, storages_basepath=home)
    finally:
        watching[0] = False
    read = _bytes_read() - before
    assert len(opened) == 1, opened
    assert size <= read < 1.3 * size, (read, size)
    assert (home / "media" / "big.bin").stat().st_size == 8 * 2**20


def _bytes_read() -> int:
    """Bytes this process read with read() and its kind, as Linux counts them."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")
