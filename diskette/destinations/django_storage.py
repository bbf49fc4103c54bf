"""Any Django file storage as a destination of archives.

:class:`StorageDestination` wraps a ``django.core.files.storage.Storage``
instance: ``FileSystemStorage``, an alias of ``STORAGES``, or a django-storages
backend (S3, SFTP, Google Cloud, Azure…). Both tiers are offered: ``size`` and
``modified`` ask the storage (``size``, ``get_modified_time``), ``open_write``
spools to a local temporary file and uploads it on a clean exit.

An archive must never be seen half-uploaded under its name, and the name written
must be the name asked. How a finished upload is published depends on the store
(:data:`PUBLICATION_BY_CLASS`):

* object stores (S3, Google Cloud, Azure, Dropbox) make an object visible only
  once its upload completes, so the bytes go straight under the final name;
* storages that write a file in place (``FileSystemStorage``, SFTP) receive the
  bytes under a ``.diskette-partial-`` name, then rename it over the final name
  (``os.replace`` on ``storage.path()``, SFTP's ``posix-rename``, both atomic and
  both replacing a file already there);
* any other storage gets a direct upload: the Storage API has no rename, so
  there is no generic way to publish in one step; a storage that writes in place
  may then show a partial file while the upload runs.

``Storage.save`` picks another name when the name is taken and the storage does
not overwrite (``get_available_name``); a write that would land under another
name than the one asked is undone and raises FileExistsError.
"""

from __future__ import annotations

import enum
import os
import posixpath
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from django.core.files.base import File

from diskette.conf import get_settings
from diskette.destinations.local import sync_directory
from diskette.destinations.protocols import (
    PARTIAL_PREFIX,
    check_destination_name,
    is_partial,
    split_prefix,
)


class Publication(enum.Enum):
    """How a storage makes a finished upload visible under its name."""

    #: The upload itself is atomic (object stores): save under the final name.
    DIRECT = "direct"
    #: Save under a temporary name, then ``os.replace`` on ``storage.path()``.
    LOCAL_RENAME = "local rename"
    #: Save under a temporary name, then ``posix_rename`` through ``storage.sftp``.
    SFTP_RENAME = "sftp rename"


#: Known storage classes (module and class name; a subclass inherits its
#: parent's entry) and how each publishes. Classes are named, not imported, so
#: that no optional dependency (boto3, paramiko…) is imported to read the table.
PUBLICATION_BY_CLASS: dict[str, Publication] = {
    "django.core.files.storage.filesystem.FileSystemStorage": Publication.LOCAL_RENAME,
    "django.core.files.storage.memory.InMemoryStorage": Publication.DIRECT,
    "storages.backends.sftpstorage.SFTPStorage": Publication.SFTP_RENAME,
    "storages.backends.s3.S3Storage": Publication.DIRECT,
    # django-storages before 1.14 defined the S3 class here; later a shim.
    "storages.backends.s3boto3.S3Boto3Storage": Publication.DIRECT,
    "storages.backends.gcloud.GoogleCloudStorage": Publication.DIRECT,
    "storages.backends.azure_storage.AzureStorage": Publication.DIRECT,
    "storages.backends.dropbox.DropboxStorage": Publication.DIRECT,
    "storages.backends.apache_libcloud.LibCloudStorage": Publication.DIRECT,
    # FTP writes in place, but RNFR/RNTO over an existing file is refused by
    # some servers: no rename diskette can rely on, so a direct upload.
    "storages.backends.ftp.FTPStorage": Publication.DIRECT,
}


def class_path(cls: type) -> str:
    """``module.QualifiedName`` of a class, as :data:`PUBLICATION_BY_CLASS` names it."""
    return f"{cls.__module__}.{cls.__qualname__}"


def publication_for(storage: object) -> Publication:
    """The publication of the first class of ``storage``'s MRO in the table,
    :attr:`Publication.DIRECT` for a storage the table does not know."""
    for cls in type(storage).__mro__:
        known = PUBLICATION_BY_CLASS.get(class_path(cls))
        if known is not None:
            return known
    return Publication.DIRECT


class StorageDestination:
    """Archives in a Django storage.

    ``permissions`` is the mode given to a file published by a local rename
    (``FileSystemStorage``), whatever ``FILE_UPLOAD_PERMISSIONS`` says, since an
    archive holds password hashes; ``None`` reads ``DISKETTE_DUMP_PERMISSIONS``
    at write time. Other stores keep their own access rules (an S3 bucket's
    policy, SFTPStorage's ``file_mode``).
    """

    def __init__(self, storage: Any, *, permissions: int | None = None):
        self.storage = storage
        self.permissions = permissions
        self.publication = publication_for(storage)

    def __repr__(self) -> str:
        return f"StorageDestination({type(self.storage).__name__})"

    # -- the minimum tier ------------------------------------------------------

    def read(self, path: str) -> IO[bytes]:
        """The storage's file object for ``path``, opened ``rb``."""
        opened: IO[bytes] = self.storage.open(check_destination_name(path), "rb")
        return opened

    def write(self, path: str, content: IO[bytes]) -> None:
        """Upload ``content`` under ``path``, published as the storage allows."""
        name = check_destination_name(path)
        if self.publication is Publication.DIRECT:
            self._save_exactly(name, content)
            return
        directory, _, basename = name.rpartition("/")
        temporary = posixpath.join(directory, PARTIAL_PREFIX + secrets.token_hex(8))
        try:
            self._save_exactly(temporary, content, label=basename)
            if self.publication is Publication.LOCAL_RENAME:
                self._rename_local(temporary, name)
            else:
                self._rename_sftp(temporary, name)
        except BaseException:
            # A storage may leave a partial file when an upload fails
            # (FileSystemStorage does); the failure is the error to show.
            with suppress(Exception):
                self.storage.delete(temporary)
            raise

    def list(self, prefix: str = "") -> list[str]:
        """Files of the prefix's directory whose names start with it (``listdir``)."""
        directory, start = split_prefix(prefix)
        try:
            _, files = self.storage.listdir(directory)
        except FileNotFoundError:
            return []
        return sorted(
            posixpath.join(directory, name)
            for name in files
            if name.startswith(start) and not is_partial(name)
        )

    def delete(self, path: str) -> None:
        """Delete ``path`` (Django storages ignore a missing name)."""
        self.storage.delete(check_destination_name(path))

    def exists(self, path: str) -> bool:
        """``storage.exists(path)``."""
        return bool(self.storage.exists(check_destination_name(path)))

    # -- the advanced tier -----------------------------------------------------

    @contextmanager
    def open_write(self, path: str) -> Iterator[IO[bytes]]:
        """A local temporary file, uploaded with :meth:`write` on a clean exit.

        For small files (a sidecar): the dump uploads its finished archive with
        :meth:`write` directly, without a second local copy.
        """
        name = check_destination_name(path)
        with tempfile.TemporaryFile(prefix=PARTIAL_PREFIX) as spool:
            yield spool
            spool.flush()
            spool.seek(0)
            self.write(name, spool)

    def size(self, path: str) -> int:
        """``storage.size(path)``."""
        return int(self.storage.size(check_destination_name(path)))

    def modified(self, path: str) -> datetime:
        """``storage.get_modified_time(path)`` in UTC (a naive time is local time)."""
        when: datetime = self.storage.get_modified_time(check_destination_name(path))
        return when.astimezone(timezone.utc)

    # -- publication -----------------------------------------------------------

    def _save_exactly(self, name: str, content: IO[bytes], label: str = "") -> None:
        """``storage.save`` under ``name`` and nowhere else."""
        wrapped = File(content, name=label or posixpath.basename(name))
        saved = self.storage.save(name, wrapped)
        if saved != name:
            with suppress(Exception):  # the renamed copy must not stay behind
                self.storage.delete(saved)
            raise FileExistsError(
                f"{type(self.storage).__name__} would have saved {name!r} as "
                f"{saved!r} (the name is taken and the storage does not overwrite): "
                "nothing was written; delete the existing file, or let the storage "
                "overwrite (S3 and Google Cloud: file_overwrite=True; Azure: "
                "overwrite_files=True)"
            )

    def _rename_local(self, temporary: str, name: str) -> None:
        source = Path(self.storage.path(temporary))
        mode = self.permissions
        if mode is None:
            mode = int(get_settings().dump_permissions)
        source.chmod(mode)
        descriptor = os.open(source, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        target = source.replace(self.storage.path(name))
        sync_directory(target.parent)

    def _rename_sftp(self, temporary: str, name: str) -> None:
        """``posix-rename@openssh.com``: atomic, and replaces a file there (a
        plain SFTP rename refuses to). Uses the storage's own connection, so
        nothing of paramiko is imported here."""
        root = getattr(self.storage, "root_path", "") or ""
        self.storage.sftp.posix_rename(
            posixpath.join(root, temporary), posixpath.join(root, name)
        )
