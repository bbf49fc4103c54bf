"""LocalDestination against a real directory: atomic writes, modes, links, faults."""

from __future__ import annotations

import errno
import io
import os
import stat
from datetime import timezone
from pathlib import Path

import pytest

from diskette.destinations import LocalDestination
from diskette.destinations.protocols import PARTIAL_PREFIX
from diskette.exceptions import ConfigurationError
from tests.mounts import Mounts


@pytest.fixture
def mounts():
    made = Mounts()
    yield made
    made.unmount_all()


class FailingStream(io.RawIOBase):
    """Gives ``good`` bytes in small reads, then raises ``error``."""

    def __init__(self, good: int, error: BaseException):
        self.left = good
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.left <= 0:
            raise self.error
        count = min(len(buffer), self.left, 4096)
        buffer[:count] = b"x" * count
        self.left -= count
        return count


def names(directory) -> list[str]:
    """What a directory holds, sorted."""
    return sorted(entry.name for entry in Path(directory).iterdir())


def mode_of(path) -> int:
    return stat.S_IMODE(Path(path).stat().st_mode)


def test_a_round_trip(tmp_path):
    destination = LocalDestination(tmp_path / "archives")
    destination.write("site.tar.gz", io.BytesIO(b"archive"))
    with destination.read("site.tar.gz") as stream:
        assert stream.read() == b"archive"
    assert destination.exists("site.tar.gz")
    assert destination.size("site.tar.gz") == 7
    modified = destination.modified("site.tar.gz")
    assert modified.tzinfo is timezone.utc
    assert modified.timestamp() == pytest.approx(
        (tmp_path / "archives" / "site.tar.gz").stat().st_mtime
    )
    assert destination.list() == ["site.tar.gz"]
    destination.delete("site.tar.gz")
    destination.delete("site.tar.gz")  # a missing name is not an error
    assert not destination.exists("site.tar.gz")
    assert destination.list() == []


def test_nothing_is_created_until_the_first_write(tmp_path):
    destination = LocalDestination(tmp_path / "later")
    assert destination.list() == []
    assert not destination.exists("a.tar.gz")
    with pytest.raises(FileNotFoundError):
        destination.read("a.tar.gz")
    with pytest.raises(FileNotFoundError):
        destination.size("a.tar.gz")
    assert not (tmp_path / "later").exists()


def test_directories_are_0700_and_archives_follow_dump_permissions(tmp_path, settings):
    destination = LocalDestination(tmp_path / "archives")
    destination.write("2026/12/site.tar.gz", io.BytesIO(b"a"))
    for directory in ("archives", "archives/2026", "archives/2026/12"):
        assert mode_of(tmp_path / directory) == 0o700, directory
    assert mode_of(tmp_path / "archives/2026/12/site.tar.gz") == 0o600
    settings.DISKETTE_DUMP_PERMISSIONS = 0o640
    destination.write("group.tar.gz", io.BytesIO(b"a"))
    assert mode_of(tmp_path / "archives/group.tar.gz") == 0o640


def test_explicit_permissions_win_and_existing_directories_keep_their_mode(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared").chmod(0o755)  # noqa: S103 - a shared directory stays so
    destination = LocalDestination(tmp_path / "shared", permissions=0o400)
    destination.write("site.tar.gz", io.BytesIO(b"a"))
    assert mode_of(tmp_path / "shared") == 0o755
    assert mode_of(tmp_path / "shared/site.tar.gz") == 0o400


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    destination = LocalDestination(tmp_path)
    destination.write("site.tar.gz", io.BytesIO(b"old"))
    destination.write("site.tar.gz", io.BytesIO(b"new" * 1000))
    assert (tmp_path / "site.tar.gz").read_bytes() == b"new" * 1000
    assert names(tmp_path) == ["site.tar.gz"]


def test_open_write_publishes_only_on_a_clean_exit(tmp_path):
    destination = LocalDestination(tmp_path)
    with destination.open_write("site.tar.gz") as stream:
        stream.write(b"part one, ")
        assert not destination.exists("site.tar.gz")
        (partial,) = names(tmp_path)
        assert partial.startswith(PARTIAL_PREFIX)
        assert mode_of(tmp_path / partial) == 0o600
        assert destination.list() == []  # temporaries are never listed
        stream.write(b"part two")
    assert (tmp_path / "site.tar.gz").read_bytes() == b"part one, part two"
    assert names(tmp_path) == ["site.tar.gz"]


def test_a_stream_failing_mid_way_leaves_nothing(tmp_path):
    destination = LocalDestination(tmp_path)
    error = OSError(errno.EIO, "input/output error")
    with pytest.raises(OSError, match="input/output error"):
        destination.write("site.tar.gz", FailingStream(3 * 1024 * 1024, error))
    assert names(tmp_path) == []


def test_a_failed_write_keeps_the_previous_archive(tmp_path):
    destination = LocalDestination(tmp_path)
    destination.write("site.tar.gz", io.BytesIO(b"previous"))
    with pytest.raises(ValueError, match="broken"):
        destination.write("site.tar.gz", FailingStream(100_000, ValueError("broken")))
    assert (tmp_path / "site.tar.gz").read_bytes() == b"previous"
    assert names(tmp_path) == ["site.tar.gz"]


def test_keyboard_interrupt_during_open_write_leaves_nothing(tmp_path):
    destination = LocalDestination(tmp_path)
    destination.write("site.tar.gz", io.BytesIO(b"previous"))
    with (
        pytest.raises(KeyboardInterrupt),
        destination.open_write("site.tar.gz") as stream,
    ):
        stream.write(b"x" * 100_000)
        raise KeyboardInterrupt
    assert names(tmp_path) == ["site.tar.gz"]
    assert (tmp_path / "site.tar.gz").read_bytes() == b"previous"


def test_keyboard_interrupt_from_the_content_stream_leaves_nothing(tmp_path):
    destination = LocalDestination(tmp_path / "new")
    with pytest.raises(KeyboardInterrupt):
        destination.write("site.tar.gz", FailingStream(50_000, KeyboardInterrupt()))
    assert names(tmp_path / "new") == []


def test_a_full_disk_leaves_no_temporary_and_no_archive(tmp_path, mounts):
    volume = mounts.tmpfs(tmp_path / "small", size="1m")
    destination = LocalDestination(volume)
    with pytest.raises(OSError) as caught:
        destination.write("site.tar.gz", io.BytesIO(os.urandom(3 * 1024 * 1024)))
    assert caught.value.errno == errno.ENOSPC
    assert names(volume) == []
    destination.write("small.tar.gz", io.BytesIO(b"fits"))  # the space came back
    assert names(volume) == ["small.tar.gz"]


def test_listing_is_one_directory_of_regular_files(tmp_path):
    destination = LocalDestination(tmp_path)
    for name in ("a.tar.gz", "b.tar.gz", "b.tar.gz.manifest.json", "2026/c.tar.gz"):
        destination.write(name, io.BytesIO(b"x"))
    (tmp_path / (PARTIAL_PREFIX + "left")).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "link.tar.gz").symlink_to(tmp_path / "a.tar.gz")
    assert destination.list() == ["a.tar.gz", "b.tar.gz", "b.tar.gz.manifest.json"]
    assert destination.list("b") == ["b.tar.gz", "b.tar.gz.manifest.json"]
    assert destination.list("2026/") == ["2026/c.tar.gz"]
    assert destination.list("2026/x") == []
    assert destination.list("missing/") == []
    assert destination.list("a.tar.gz/") == []  # a file is no directory


def test_a_directory_component_linking_out_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.tar.gz").write_bytes(b"secret")
    root = tmp_path / "archives"
    root.mkdir()
    (root / "sub").symlink_to(outside)
    destination = LocalDestination(root)
    for call in (
        lambda: destination.write("sub/x.tar.gz", io.BytesIO(b"x")),
        lambda: destination.open_write("sub/x.tar.gz").__enter__(),
        lambda: destination.read("sub/secret.tar.gz"),
        lambda: destination.size("sub/secret.tar.gz"),
        lambda: destination.delete("sub/secret.tar.gz"),
        lambda: destination.exists("sub/secret.tar.gz"),
        lambda: destination.list("sub/"),
    ):
        with pytest.raises(ConfigurationError, match="leads outside the destination"):
            call()
    assert names(outside) == ["secret.tar.gz"]
    assert (outside / "secret.tar.gz").read_bytes() == b"secret"


def test_a_file_linking_out_is_not_read_and_is_replaced_as_a_link(tmp_path):
    outside = tmp_path / "secret"
    outside.write_bytes(b"secret")
    root = tmp_path / "archives"
    root.mkdir()
    (root / "site.tar.gz").symlink_to(outside)
    destination = LocalDestination(root)
    with pytest.raises(ConfigurationError, match="leads outside"):
        destination.read("site.tar.gz")
    assert destination.exists("site.tar.gz")  # the link itself is there
    destination.write("site.tar.gz", io.BytesIO(b"archive"))
    assert not (root / "site.tar.gz").is_symlink()
    assert outside.read_bytes() == b"secret"
    (root / "gone.tar.gz").symlink_to(outside)
    destination.delete("gone.tar.gz")
    assert outside.exists() and not (root / "gone.tar.gz").is_symlink()


def test_links_inside_the_location_and_a_linked_location_are_fine(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    destination = LocalDestination(tmp_path / "alias")
    destination.write("2026/site.tar.gz", io.BytesIO(b"a"))
    (real / "latest").symlink_to(real / "2026")
    assert destination.read("latest/site.tar.gz").read() == b"a"
    assert (real / "2026" / "site.tar.gz").exists()


def test_a_directory_at_the_name_is_not_replaced(tmp_path):
    (tmp_path / "site.tar.gz").mkdir()
    destination = LocalDestination(tmp_path)
    with pytest.raises(IsADirectoryError):
        destination.write("site.tar.gz", io.BytesIO(b"a"))
    assert names(tmp_path) == ["site.tar.gz"]
    assert destination.exists("site.tar.gz")
