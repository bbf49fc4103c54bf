"""StorageDestination on real servers: S3 (moto) and SFTP (OpenSSH's sshd).

The servers are started by the suite (``tests/servers``). S3 publishes by
uploading under the final name (a multipart upload becomes visible only when it
completes); SFTP uploads under a ``.diskette-partial-`` name and renames. In
both cases a failed upload leaves neither a half-written archive under its
name nor a temporary file behind.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from diskette.destinations import StorageDestination
from diskette.destinations.django_storage import Publication
from diskette.destinations.protocols import PARTIAL_PREFIX
from tests.destinations.test_local import FailingStream
from tests.servers.s3 import unique_prefix
from tests.servers.sftp import unique_directory

MiB = 1024 * 1024
#: Above S3Storage's multipart threshold (8 MiB): the upload goes in parts.
LARGE = 11 * MiB


@dataclass
class Remote:
    """A destination on one of the servers, and what the test sees of the store."""

    kind: str
    destination: StorageDestination
    #: Every name stored under the destination, temporaries (and, for S3,
    #: unfinished multipart uploads) included.
    raw_names: Callable[[], list[str]]
    #: S3 only: how many parts the object was uploaded in (1: a single PUT).
    parts: Callable[[str], int] | None = None


def s3_remote(s3_server) -> Remote:
    from storages.backends.s3 import S3Storage

    prefix = unique_prefix()
    storage = S3Storage(**s3_server.storage_options(location=prefix.rstrip("/")))
    client = s3_server.client()
    bucket = s3_server.bucket

    def raw_names() -> list[str]:
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
        uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        names = [item["Key"][len(prefix) :] for item in listed.get("Contents", [])]
        unfinished = [f"(upload) {u['Key']}" for u in uploads.get("Uploads", [])]
        return names + unfinished

    def parts(name: str) -> int:
        etag = client.head_object(Bucket=bucket, Key=prefix + name)["ETag"]
        _, dash, count = etag.strip('"').rpartition("-")
        return int(count) if dash else 1  # a multipart ETag ends in -<parts>

    return Remote("s3", StorageDestination(storage), raw_names, parts)


def sftp_remote(sftp_server) -> Remote:
    from storages.backends.sftpstorage import SFTPStorage

    root = unique_directory(sftp_server)
    storage = SFTPStorage(**sftp_server.storage_options(root=root))

    def raw_names() -> list[str]:  # the server's directory, seen from this machine
        return sorted(
            str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()
        )

    return Remote("sftp", StorageDestination(storage), raw_names)


@pytest.fixture(params=["s3", "sftp"])
def remote(request) -> Iterator[Remote]:
    if request.param == "s3":
        remote = s3_remote(request.getfixturevalue("s3_server"))
    else:
        remote = sftp_remote(request.getfixturevalue("sftp_server"))
    yield remote
    if remote.kind == "sftp":
        remote.destination.storage.close()


@pytest.fixture(scope="module")
def large_archive():
    """A finished local file of random bytes, as the dump hands over."""
    with tempfile.TemporaryFile() as archive:
        data = os.urandom(LARGE)
        archive.write(data)
        yield archive, data


def test_publication_matches_the_store(remote):
    expected = Publication.DIRECT if remote.kind == "s3" else Publication.SFTP_RENAME
    assert remote.destination.publication is expected


# Reading 11 MiB back through SFTPStorage takes seconds (sequential 32 KiB
# requests): the SFTP case is slow.
@pytest.mark.parametrize(
    "remote", ["s3", pytest.param("sftp", marks=pytest.mark.slow)], indirect=True
)
@pytest.mark.slow
def test_a_large_archive_round_trip(remote, large_archive):
    archive, data = large_archive
    archive.seek(0)
    destination = remote.destination
    before = datetime.now(timezone.utc)

    destination.write("2026/site.tar.gz", archive)
    with destination.read("2026/site.tar.gz") as stream:
        read_back = stream.read()

    assert read_back == data
    assert destination.list("2026/") == ["2026/site.tar.gz"]
    assert destination.list("2026/si") == ["2026/site.tar.gz"]
    assert destination.list("2026/other") == []
    assert destination.exists("2026/site.tar.gz")
    assert not destination.exists("2026/missing.tar.gz")
    assert destination.size("2026/site.tar.gz") == LARGE
    modified = destination.modified("2026/site.tar.gz")
    assert modified.tzinfo is timezone.utc
    slack = timedelta(seconds=5)  # second-resolution clocks, loopback servers
    assert before - slack <= modified <= datetime.now(timezone.utc) + slack
    assert remote.raw_names() == ["2026/site.tar.gz"]  # no temporary left
    if remote.parts is not None:
        assert remote.parts("2026/site.tar.gz") == 2  # 8 MiB parts: 8 + 3

    destination.delete("2026/site.tar.gz")
    assert not destination.exists("2026/site.tar.gz")
    assert destination.list("2026/") == []


def test_a_write_over_an_archive_replaces_it(remote):
    destination = remote.destination

    destination.write("site.tar.gz", io.BytesIO(b"first"))
    destination.write("site.tar.gz", io.BytesIO(b"second"))

    with destination.read("site.tar.gz") as stream:
        assert stream.read() == b"second"
    assert remote.raw_names() == ["site.tar.gz"]


def test_a_write_failing_mid_stream_leaves_the_old_archive_and_no_temporary(remote):
    destination = remote.destination
    destination.write("site.tar.gz", io.BytesIO(b"the good archive"))
    # Past S3Storage's multipart threshold, so S3 has parts to abort.
    good = 9 * MiB if remote.kind == "s3" else MiB
    failing = FailingStream(good=good, error=OSError("the disk went away"))

    with pytest.raises(OSError, match="the disk went away"):
        destination.write("site.tar.gz", failing)

    with destination.read("site.tar.gz") as stream:
        assert stream.read() == b"the good archive"
    assert remote.raw_names() == ["site.tar.gz"]
    assert not any(PARTIAL_PREFIX in name for name in remote.raw_names())
    assert destination.list() == ["site.tar.gz"]


def test_open_write_publishes_on_a_clean_exit_only(remote):
    destination = remote.destination

    with destination.open_write("site.tar.gz.manifest.json") as stream:
        stream.write(b'{"diskette_sidecar": 1}')
    with pytest.raises(RuntimeError), destination.open_write("other.json") as stream:
        stream.write(b"half")
        raise RuntimeError("the dump stopped")

    assert destination.list() == ["site.tar.gz.manifest.json"]
    with destination.read("site.tar.gz.manifest.json") as stream:
        assert stream.read() == b'{"diskette_sidecar": 1}'
    assert remote.raw_names() == ["site.tar.gz.manifest.json"]
