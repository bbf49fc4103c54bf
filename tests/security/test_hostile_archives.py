"""Hostile and broken archives: each refused with a clear error, nothing changed.

Every test builds one archive in code that breaks one rule, runs a real load
into the test database and a real storages base path, and checks that the load
is refused with the right error, that no file changed anywhere under the test's
directory (so nothing was written outside the staging directory, and the staging
directory is gone) and that the database rows are as before.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.sites.models import Site

from diskette import api
from diskette.exceptions import (
    ArchiveError,
    ChecksumError,
    ConfigurationError,
    DisketteError,
    IntegrityLoadError,
    LoadError,
    ManifestError,
    UnsafeArchiveError,
    UnsupportedVersionError,
)
from tests.archives import (
    Entry,
    directory,
    groups,
    make_archive,
    sites,
    snapshot,
    write_tar,
)

pytestmark = pytest.mark.django_db

GOOD_DATA = {"sites.json": sites((7, "seven.example.org"))}
GOOD_MEDIA = {"media": {"a.txt": b"archived"}}


def rows() -> dict[str, int]:
    return {
        "sites": Site.objects.count(),
        "groups": Group.objects.count(),
        "users": User.objects.count(),
        "permissions": Permission.objects.count(),
        "site_domains": hash(tuple(Site.objects.values_list("domain", flat=True))),
    }


@pytest.fixture
def site(tmp_path):
    """A site with a storages base path holding a media directory, and the archives' home."""
    base = tmp_path / "site"
    (base / "media" / "old").mkdir(parents=True)
    (base / "media" / "old" / "kept.txt").write_bytes(b"before")
    (tmp_path / "archives").mkdir()
    return tmp_path


def refused(site: Path, archive: Path, error: type[DisketteError], match: str, **kw):
    """Load ``archive``; assert the error and that nothing changed."""
    before_files = snapshot(site)
    before_rows = rows()
    with pytest.raises(error, match=match) as caught:
        api.load(archive, storages_basepath=site / "site", **kw)
    assert type(caught.value) is error
    message = str(caught.value)
    assert "\n" not in message
    assert snapshot(site) == before_files
    assert rows() == before_rows
    assert not list((site / "site").glob(".diskette-load-*"))
    return message


def archive_path(site: Path, name: str = "hostile.tar.gz") -> Path:
    return site / "archives" / name


def hostile(site: Path, *extra: Entry, **kw) -> Path:
    return make_archive(
        archive_path(site), data=GOOD_DATA, storages=GOOD_MEDIA, extra=extra, **kw
    )


def test_the_good_archive_loads(site):
    """The baseline the hostile ones differ from: it loads and changes things."""
    result = api.load(hostile(site), storages_basepath=site / "site")
    assert Site.objects.filter(domain="seven.example.org").exists()
    assert (site / "site" / "media" / "a.txt").read_bytes() == b"archived"
    assert not (site / "site" / "media" / "old").exists()
    assert result.files == 1


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        (
            Entry("media/link", type=tarfile.SYMTYPE, linkname="/etc/passwd"),
            "symbolic link",
        ),
        (
            Entry("media/hard", type=tarfile.LNKTYPE, linkname="media/a.txt"),
            "hard link",
        ),
        (Entry("media/dev", type=tarfile.CHRTYPE), "device"),
        (Entry("media/blk", type=tarfile.BLKTYPE), "device"),
        (Entry("media/fifo", type=tarfile.FIFOTYPE), "FIFO"),
        (Entry("media/sparse", b"x", type=tarfile.GNUTYPE_SPARSE), "sparse"),
        (Entry("media/odd", b"x", type=b"Z"), "unsupported member type"),
        (Entry("media/contiguous", b"x", type=tarfile.CONTTYPE), "unsupported"),
    ],
    ids=[
        "symlink",
        "hardlink",
        "chardevice",
        "blockdevice",
        "fifo",
        "sparse",
        "unknown",
        "contiguous",
    ],
)
def test_member_types_other_than_file_and_directory_are_refused(site, entry, match):
    refused(site, hostile(site, entry), UnsafeArchiveError, match)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("/etc/evil", "absolute path"),
        ("media/../../evil", r"'\.\.'"),
        ("../evil", r"'\.\.'"),
        ("media\\..\\evil", "backslash"),
        ("media/nul\x00.txt", "NUL"),
        ("media/" + "x" * 300, "longer than"),
        ("media/" + "/".join(["d" * 200] * 6), "longer than"),
        ("media/./a", "not a normalised"),
        ("media//a", "not a normalised"),
    ],
    ids=[
        "absolute",
        "dotdot",
        "dotdot-top",
        "backslash",
        "nul",
        "component",
        "name",
        "dot",
        "double-slash",
    ],
)
def test_unsafe_member_names_are_refused(site, name, match):
    # A NUL ends a ustar name field: only a pax "path" record can carry one.
    entry = Entry("media/placeholder", b"evil", pax={"path": name})
    refused(site, hostile(site, entry), UnsafeArchiveError, match)


def test_member_outside_the_declared_prefixes_is_refused(site):
    refused(
        site,
        hostile(site, Entry("elsewhere/evil.txt", b"evil")),
        UnsafeArchiveError,
        "outside every prefix",
    )


def test_undeclared_data_file_is_refused(site):
    refused(
        site,
        hostile(site, Entry("data/sneaky.json", b"[]")),
        UnsafeArchiveError,
        "not listed in the manifest",
    )


def test_member_without_checksum_in_our_manifest_is_refused(site):
    refused(
        site,
        hostile(site, Entry("media/unlisted.txt", b"evil")),
        ManifestError,
        "no checksum",
    )


def test_duplicate_member_is_refused(site):
    refused(
        site,
        hostile(site, Entry("media/a.txt", b"second")),
        UnsafeArchiveError,
        "appears twice",
    )


def test_path_that_is_both_file_and_directory_is_refused(site):
    archive = make_archive(
        archive_path(site),
        storages={"media": {"a": b"file", "a/b": b"below a file"}},
        legacy=True,
    )
    refused(site, archive, UnsafeArchiveError, "both a file and a directory")


@pytest.mark.parametrize(
    ("storage", "match"),
    [
        ("..", r"'\.\.'"),
        ("../outside", r"'\.\.'"),
        ("/tmp/abs", "absolute"),
        (".", "empty or the whole destination"),
        ("", "schema|empty"),
        ("data", "collides"),
        ("media/../..", r"'\.\.'"),
    ],
    ids=["dotdot", "dotdot-child", "absolute", "dot", "empty", "data", "nested-dotdot"],
)
def test_unsafe_storage_names_are_refused(site, storage, match):
    def rename(payload):
        payload["storages"] = [storage]
        if "diskette" in payload:
            payload["diskette"]["storages"][0]["name"] = storage

    archive = make_archive(
        archive_path(site), data=GOOD_DATA, storages={"media": {}}, tamper=rename
    )
    expected = ManifestError if storage == "" else UnsafeArchiveError
    refused(site, archive, expected, match)


def test_unsafe_storage_name_in_a_legacy_manifest_is_refused(site):
    archive = make_archive(
        archive_path(site),
        data=GOOD_DATA,
        legacy=True,
        tamper=lambda payload: payload.update(storages=["../../escape"]),
    )
    refused(site, archive, UnsafeArchiveError, r"'\.\.'")


def test_nested_storages_are_refused(site):
    archive = make_archive(
        archive_path(site),
        storages={"media": {"a.txt": b"a"}, "media/sub": {"b": b"b"}},
    )
    refused(site, archive, UnsafeArchiveError, "nests")


def test_total_size_above_the_limit_is_refused(site, settings):
    settings.DISKETTE_LOAD_MAX_SIZE = 1000
    archive = make_archive(
        archive_path(site), storages={"media": {"big.bin": b"x" * 2000}}
    )
    refused(site, archive, UnsafeArchiveError, "DISKETTE_LOAD_MAX_SIZE")


def test_gzip_bomb_is_refused_while_decompressing(site, settings):
    """A member whose header lies small hides megabytes of zeros: counting stops it."""
    settings.DISKETTE_LOAD_MAX_SIZE = 64 * 1024
    settings.DISKETTE_LOAD_MAX_MEMBERS = 10
    # A valid tar stream followed by 20 MiB of junk after the end-of-archive
    # marker is read to the end (to check the gzip trailer) and must stop early.
    archive = hostile(site)
    raw = gzip.decompress(archive.read_bytes()) + b"\0" * (20 * 1024 * 1024)
    archive.write_bytes(gzip.compress(raw, compresslevel=9))
    assert archive.stat().st_size < 100 * 1024
    refused(site, archive, UnsafeArchiveError, "decompression bomb")


def test_huge_declared_member_is_refused_before_extraction(site, settings):
    settings.DISKETTE_LOAD_MAX_SIZE = 1024 * 1024
    zeros = b"\0" * (4 * 1024 * 1024)
    archive = make_archive(archive_path(site), storages={"media": {"zeros.bin": zeros}})
    assert archive.stat().st_size < 64 * 1024
    refused(site, archive, UnsafeArchiveError, "DISKETTE_LOAD_MAX_SIZE")


def test_too_many_members_are_refused(site, settings):
    settings.DISKETTE_LOAD_MAX_MEMBERS = 5
    files = {f"f{index}.txt": b"x" for index in range(10)}
    archive = make_archive(archive_path(site), storages={"media": files})
    refused(site, archive, UnsafeArchiveError, "DISKETTE_LOAD_MAX_MEMBERS")


def test_truncated_archive_is_refused(site):
    archive = make_archive(
        archive_path(site),
        storages={"media": {"random.bin": hashlib.sha512(b"seed").digest() * 2000}},
    )
    content = archive.read_bytes()
    archive.write_bytes(content[: len(content) // 2])
    refused(site, archive, ArchiveError, "truncated")


def test_archive_missing_its_gzip_trailer_is_refused(site):
    archive = hostile(site)
    archive.write_bytes(archive.read_bytes()[:-8])
    refused(site, archive, ArchiveError, "truncated")


def test_not_gzip_is_refused(site):
    archive = archive_path(site)
    archive.write_bytes(b"PK\x03\x04 this is a zip file, not a gzip one" * 4)
    refused(site, archive, ArchiveError, "not a gzip file")


def test_uncompressed_tar_is_checked_as_strictly(site):
    """A plain tar (compression none) is read, and its members refused the same."""
    link = Entry("media/link", type=tarfile.SYMTYPE, linkname="/etc/passwd")
    archive = hostile(site, link, compress=False)
    assert archive.read_bytes()[257:262] == b"ustar"
    refused(site, archive, UnsafeArchiveError, "symbolic link")


def test_gzip_of_something_else_than_tar_is_refused(site):
    archive = archive_path(site)
    archive.write_bytes(gzip.compress(b"just some text, not a tar archive\n" * 50))
    refused(site, archive, ArchiveError, "not a tar archive")


def test_empty_file_is_refused(site):
    archive = archive_path(site)
    archive.write_bytes(b"")
    refused(site, archive, ArchiveError, "MINIMAL_FILESIZE")


def test_file_below_the_minimal_size_is_refused(site, settings):
    settings.DISKETTE_LOAD_MINIMAL_FILESIZE = 10_000
    refused(site, hostile(site), ArchiveError, "MINIMAL_FILESIZE")


def test_missing_archive_is_refused(site):
    refused(site, archive_path(site, "absent.tar.gz"), ArchiveError, "does not exist")


def test_manifest_missing_is_refused(site):
    archive = write_tar(
        archive_path(site),
        [
            directory("data"),
            Entry("data/sites.json", json.dumps(sites((7, "x"))).encode()),
        ],
    )
    refused(site, archive, ManifestError, "no manifest.json")


def test_manifest_not_json_is_refused(site):
    refused(site, hostile(site, manifest=b"{not json"), ManifestError, "not valid JSON")


def test_manifest_failing_the_schema_is_refused(site):
    def damage(payload):
        payload["diskette"]["members"]["media/a.txt"] = "not-a-sha256"

    refused(site, hostile(site, tamper=damage), ManifestError, "schema")


def test_manifest_listing_a_missing_data_file_is_refused(site):
    def add(payload):
        payload["datas"].append("data/missing.json")
        payload["diskette"]["data"].append(
            {**payload["diskette"]["data"][0], "path": "data/missing.json"}
        )

    refused(site, hostile(site, tamper=add), ManifestError, "missing from the archive")


def test_newer_format_version_is_refused_naming_both(site):
    def newer(payload):
        payload["diskette"]["format"] = 99

    message = refused(site, hostile(site, tamper=newer), UnsupportedVersionError, "99")
    assert "format 1" in message


def test_member_checksum_mismatch_is_refused(site):
    def lie(payload):
        payload["diskette"]["members"]["media/a.txt"] = "0" * 64

    refused(site, hostile(site, tamper=lie), ChecksumError, "media/a.txt")


def test_data_file_checksum_mismatch_is_refused(site):
    def lie(payload):
        payload["diskette"]["data"][0]["sha256"] = "1" * 64
        payload["diskette"]["members"]["data/sites.json"] = "1" * 64

    refused(site, hostile(site, tamper=lie), ChecksumError, "data/sites.json")


def test_whole_archive_checksum_mismatch_is_refused(site):
    refused(site, hostile(site), ChecksumError, "BLAKE2b-512", checksum="ab" * 64)


def test_malformed_checksum_option_is_refused(site):
    refused(site, hostile(site), ConfigurationError, "128", checksum="abc")


def test_data_violating_a_foreign_key_is_refused(site):
    orphan = [
        {
            "model": "auth.permission",
            "pk": 99001,
            "fields": {"name": "Orphan", "content_type": 987654, "codename": "orphan"},
        }
    ]
    archive = make_archive(
        archive_path(site),
        data={"groups.json": groups((50, "before-orphan")), "perms.json": orphan},
        storages=GOOD_MEDIA,
    )
    message = refused(site, archive, IntegrityLoadError, "perms.json")
    assert "auth_permission" in message


def test_data_naming_an_unknown_model_is_refused(site):
    unknown = [{"model": "nowhere.ghost", "pk": 1, "fields": {}}]
    archive = make_archive(
        archive_path(site),
        data={"sites.json": sites((7, "seven.example.org")), "ghost.json": unknown},
    )
    message = refused(site, archive, LoadError, "ghost.json")
    assert "nowhere.ghost" in message


def test_data_with_an_unknown_field_is_refused(site):
    bad = [
        {"model": "sites.site", "pk": 8, "fields": {"domain": "x.org", "colour": "red"}}
    ]
    archive = make_archive(archive_path(site), data={"sites.json": bad})
    refused(site, archive, LoadError, "sites.json")


def test_storage_file_count_differing_from_the_manifest_is_refused(site):
    def lie(payload):
        payload["diskette"]["storages"][0]["files"] = 5

    refused(site, hostile(site, tamper=lie), ManifestError, "holds 1 files")


def test_data_size_differing_from_the_manifest_is_refused(site):
    def lie(payload):
        payload["diskette"]["data"][0]["size"] = 3

    refused(site, hostile(site, tamper=lie), ManifestError, "the manifest says 3")


def test_huge_extended_header_is_refused_before_it_is_read(site):
    """A pax header announcing 1 GiB would be read into memory by tarfile."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 1024**3
    raw = header.tobuf(format=tarfile.USTAR_FORMAT) + b"\0" * 4096
    archive = archive_path(site)
    archive.write_bytes(gzip.compress(raw))
    refused(site, archive, UnsafeArchiveError, "extended header")


def test_corrupt_compressed_data_is_refused(site):
    archive = hostile(site)
    content = bytearray(archive.read_bytes())
    middle = len(content) // 2
    content[middle : middle + 16] = bytes(16)
    archive.write_bytes(bytes(content))
    refused(site, archive, ArchiveError, "corrupt|truncated|not a")


# -- one pass, any compression -------------------------------------------------


def _zstd(archive: Path) -> Path:
    """The same archive, compressed with zstd (its name unchanged: the magic
    bytes tell)."""
    import zstandard

    raw = gzip.decompress(archive.read_bytes())
    archive.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(raw))
    return archive


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_a_checksum_mismatch_in_the_last_member_changes_nothing(site, compression):
    """Every member before it was staged, the data among them: none of it is used."""

    def lie(payload):
        payload["diskette"]["members"]["media/z/last.bin"] = "0" * 64

    media = {"media": {"a.txt": b"archived", "z/last.bin": b"l" * 100_000}}
    archive = make_archive(
        archive_path(site), data=GOOD_DATA, storages=media, tamper=lie
    )
    with tarfile.open(archive) as tar:
        assert tar.getnames()[-1] == "media/z/last.bin"
    if compression == "zstd":
        _zstd(archive)
    elif compression == "none":
        archive.write_bytes(gzip.decompress(archive.read_bytes()))
    refused(site, archive, ChecksumError, "'media/z/last.bin' has sha256")


def test_a_truncated_zstd_archive_changes_nothing(site):
    archive = _zstd(hostile(site))
    archive.write_bytes(archive.read_bytes()[:-3])
    refused(site, archive, ArchiveError, "truncated")


def _random(size: int, seed: int) -> bytes:
    count = size // 64
    return b"".join(
        hashlib.sha512(f"{seed}-{i}".encode()).digest() for i in range(count)
    )


@pytest.mark.parametrize(
    ("where", "error", "match"),
    [
        # The frame's own checksum of its content, after every member read well.
        ("end", ArchiveError, "corrupt compressed data"),
        # A byte of big.bin (stored as it is: incompressible): its sha256 says it,
        # megabytes before the frame ends.
        ("member", ChecksumError, "'media/big.bin' has sha256"),
    ],
)
@pytest.mark.slow
def test_a_corrupt_zstd_archive_changes_nothing(site, where, error, match):
    big = os.urandom(256 * 1024)
    media = {"a.txt": b"archived", "big.bin": big, "z/after.bin": os.urandom(4 * 2**20)}
    archive = _zstd(
        make_archive(archive_path(site), data=GOOD_DATA, storages={"media": media})
    )
    content = bytearray(archive.read_bytes())
    offset = -2 if where == "end" else content.find(big[5000:5064])
    assert offset != -1
    content[offset] ^= 0xFF
    archive.write_bytes(bytes(content))
    refused(site, archive, error, match)


def test_a_link_in_a_zstd_archive_is_refused(site):
    link = Entry("media/link", type=tarfile.SYMTYPE, linkname="../../outside")
    refused(site, _zstd(hostile(site, link)), UnsafeArchiveError, "symbolic link")
