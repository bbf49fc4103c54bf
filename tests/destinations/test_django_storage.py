"""StorageDestination over Django's own storages: FileSystemStorage and InMemoryStorage."""

from __future__ import annotations

import ast
import importlib.util
import io
import stat
from datetime import timezone
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage

from diskette.destinations import StorageDestination
from diskette.destinations.django_storage import (
    PUBLICATION_BY_CLASS,
    Publication,
    class_path,
    publication_for,
)
from diskette.destinations.protocols import PARTIAL_PREFIX
from tests.destinations.test_local import FailingStream, names


class WatchedStream(io.BytesIO):
    """Content that looks at the storage's directory each time it is read."""

    def __init__(self, data: bytes, directory, final: str):
        super().__init__(data)
        self.directory = directory
        self.final = final
        self.seen: list[list[str]] = []

    def read(self, size: int | None = -1) -> bytes:
        self.seen.append(names(self.directory))
        return super().read(size)


@pytest.fixture(params=["filesystem", "memory"])
def destination(request, tmp_path):
    if request.param == "filesystem":
        return StorageDestination(FileSystemStorage(location=tmp_path / "media"))
    return StorageDestination(InMemoryStorage())


def test_a_round_trip(destination):
    destination.write("site.tar.gz", io.BytesIO(b"archive"))
    with destination.read("site.tar.gz") as stream:
        assert stream.read() == b"archive"
    assert destination.exists("site.tar.gz")
    assert destination.size("site.tar.gz") == 7
    assert destination.modified("site.tar.gz").tzinfo is timezone.utc
    assert destination.list() == ["site.tar.gz"]
    destination.delete("site.tar.gz")
    destination.delete("site.tar.gz")  # a missing name is not an error
    assert not destination.exists("site.tar.gz")
    assert destination.list() == []


def test_listing_is_one_directory_without_temporaries(destination):
    for name in ("a.tar.gz", "a.tar.gz.manifest.json", "b.tgz", "2026/c.tar.gz"):
        destination.write(name, io.BytesIO(b"x"))
    destination.storage.save(PARTIAL_PREFIX + "left", io.BytesIO(b"x"))
    assert destination.list() == ["a.tar.gz", "a.tar.gz.manifest.json", "b.tgz"]
    assert destination.list("a") == ["a.tar.gz", "a.tar.gz.manifest.json"]
    assert destination.list("2026/") == ["2026/c.tar.gz"]
    assert destination.list("missing/") == []


def test_open_write_uploads_on_a_clean_exit_only(destination):
    with destination.open_write("sidecar.json") as stream:
        stream.write(b"{}")
        assert not destination.exists("sidecar.json")
    assert destination.read("sidecar.json").read() == b"{}"
    with (
        pytest.raises(KeyboardInterrupt),
        destination.open_write("gone.json") as stream,
    ):
        stream.write(b"{")
        raise KeyboardInterrupt
    assert destination.list() == ["sidecar.json"]


def test_the_local_file_system_publishes_by_rename(tmp_path):
    media = tmp_path / "media"
    destination = StorageDestination(FileSystemStorage(location=media))
    assert destination.publication is Publication.LOCAL_RENAME
    destination.write("keep.txt", io.BytesIO(b"k"))
    content = WatchedStream(b"y" * 200_000, media, "site.tar.gz")
    destination.write("site.tar.gz", content)
    # While the bytes flowed, only a temporary name was there.
    during = {name for listing in content.seen[1:] for name in listing}
    assert "site.tar.gz" not in during
    assert any(name.startswith(PARTIAL_PREFIX) for name in during), during
    assert names(media) == ["keep.txt", "site.tar.gz"]


def test_a_rename_replaces_the_archive_under_the_name_asked(tmp_path):
    media = tmp_path / "media"
    destination = StorageDestination(FileSystemStorage(location=media))
    destination.write("site.tar.gz", io.BytesIO(b"old"))
    destination.write("site.tar.gz", io.BytesIO(b"new"))
    # FileSystemStorage.save alone would have made site_<random>.tar.gz.
    assert names(media) == ["site.tar.gz"]
    assert (media / "site.tar.gz").read_bytes() == b"new"


def test_an_archive_is_private_whatever_file_upload_permissions_say(tmp_path, settings):
    settings.FILE_UPLOAD_PERMISSIONS = 0o644
    media = tmp_path / "media"
    StorageDestination(FileSystemStorage(location=media)).write(
        "site.tar.gz", io.BytesIO(b"a")
    )
    assert stat.S_IMODE((media / "site.tar.gz").stat().st_mode) == 0o600
    StorageDestination(FileSystemStorage(location=media), permissions=0o640).write(
        "other.tar.gz", io.BytesIO(b"a")
    )
    assert stat.S_IMODE((media / "other.tar.gz").stat().st_mode) == 0o640


@pytest.mark.parametrize("error", [OSError("broken"), KeyboardInterrupt()])
def test_a_failed_upload_leaves_no_temporary_and_keeps_the_archive(tmp_path, error):
    media = tmp_path / "media"
    destination = StorageDestination(FileSystemStorage(location=media))
    destination.write("site.tar.gz", io.BytesIO(b"previous"))
    with pytest.raises(type(error)):
        destination.write("site.tar.gz", FailingStream(300_000, error))
    assert names(media) == ["site.tar.gz"]
    assert (media / "site.tar.gz").read_bytes() == b"previous"


def test_a_storage_that_renames_on_collision_is_an_error_not_a_new_name():
    storage = InMemoryStorage()  # no overwrite: save() would pick another name
    destination = StorageDestination(storage)
    assert destination.publication is Publication.DIRECT
    destination.write("site.tar.gz", io.BytesIO(b"first"))
    with pytest.raises(FileExistsError, match="would have saved 'site.tar.gz' as"):
        destination.write("site.tar.gz", io.BytesIO(b"second"))
    assert storage.listdir("") == ([], ["site.tar.gz"])
    assert destination.read("site.tar.gz").read() == b"first"


def test_a_naive_modified_time_is_local_time_made_utc(tmp_path, settings):
    settings.USE_TZ = False
    destination = StorageDestination(FileSystemStorage(location=tmp_path))
    destination.write("site.tar.gz", io.BytesIO(b"a"))
    modified = destination.modified("site.tar.gz")
    assert modified.tzinfo is timezone.utc
    assert modified.timestamp() == pytest.approx(
        (tmp_path / "site.tar.gz").stat().st_mtime, abs=1e-3
    )


class Custom(Storage):
    """A storage the table does not know."""


class MyFileSystem(FileSystemStorage):
    pass


def test_publication_is_decided_by_the_class_table():
    assert publication_for(FileSystemStorage()) is Publication.LOCAL_RENAME
    assert publication_for(MyFileSystem()) is Publication.LOCAL_RENAME  # inherited
    assert publication_for(InMemoryStorage()) is Publication.DIRECT
    assert publication_for(Custom()) is Publication.DIRECT  # the default


def names_defined_in(module: str) -> set[str] | None:
    """The classes a module defines or imports, read from its source without
    importing it (django-storages' modules refuse to import without their SDK);
    ``None`` when the module is not installed."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return None
    if spec is None or spec.origin is None:
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    names = {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def test_the_table_names_real_classes():
    """Each entry is the module path and name of a class of the installed packages."""
    checked = []
    for path in PUBLICATION_BY_CLASS:
        module, _, name = path.rpartition(".")
        defined = names_defined_in(module)
        if defined is None:
            continue  # django-storages is an optional dependency
        assert name in defined, path
        checked.append(path)
    for cls in (FileSystemStorage, InMemoryStorage):
        assert class_path(cls) in PUBLICATION_BY_CLASS
    assert len(checked) >= 2
