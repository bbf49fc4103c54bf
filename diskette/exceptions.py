"""Errors raised by diskette.

Every error is a :class:`DisketteError`; its message is one line that names the
cause and the fix, and ``exit_code`` is the status the management commands exit
with (documented in the docs' exit status table).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from diskette.destinations.retention import PruneResult


class DisketteError(Exception):
    """Base class of every error diskette raises on purpose."""

    exit_code = 1


class ConfigurationError(DisketteError):
    """A setting or an option has a wrong value."""

    exit_code = 3


class DefinitionError(ConfigurationError):
    """One or more application definitions are invalid; ``problems`` lists each."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        count = len(self.problems)
        if count == 1:
            message = self.problems[0]
        else:
            message = f"{count} problems in the application definitions: " + "; ".join(
                self.problems
            )
        super().__init__(message)


class ReceiverError(DisketteError):
    """A receiver of ``pre_dump`` or ``pre_load`` raised: the operation was not
    started (:mod:`diskette.signals`)."""

    exit_code = 5


class DumpError(DisketteError):
    """The dump could not be written (permissions, disk, serialization...)."""

    exit_code = 4


class ArchiveError(DisketteError):
    """The archive cannot be read: missing, truncated, not gzip, not tar."""

    exit_code = 10


class UnsafeArchiveError(ArchiveError):
    """The archive holds a member that could write outside its destination."""

    exit_code = 11


class ManifestError(ArchiveError):
    """The manifest is missing, not JSON, or does not match the schema."""

    exit_code = 12


class ChecksumError(ArchiveError):
    """A checksum does not match: the archive or one of its members changed."""

    exit_code = 13


class UnsupportedVersionError(ManifestError):
    """The archive's format version is newer than this diskette reads."""

    exit_code = 14


class DecryptionError(ArchiveError):
    """An encrypted archive cannot be opened: no identity or passphrase given, none
    that matches, or ciphertext that was altered or cut short."""

    exit_code = 15


class SignatureError(ArchiveError):
    """An archive's signature is wrong, or missing or by an untrusted key where
    ``DISKETTE_TRUSTED_KEYS`` requires one."""

    exit_code = 16


class LoadError(DisketteError):
    """The data does not fit the models of the target database."""

    exit_code = 20


class IntegrityLoadError(LoadError):
    """The loaded data breaks a database constraint (a missing foreign key...)."""

    exit_code = 21


class StorageRestoreError(LoadError):
    """A storage directory could not be swapped in; the previous ones are back."""

    exit_code = 22


class MigrationMismatchError(LoadError):
    """The archive was made at migrations the target database has not applied."""

    exit_code = 23


class DownloadError(DisketteError):
    """An archive could not be fetched: a URL refused or not downloaded, or an
    archive of a destination (S3, SFTP, any storage) that could not be read."""

    exit_code = 30


class PruneError(DisketteError):
    """A prune stopped on a backend error; ``result`` says what was deleted and
    what was not."""

    exit_code = 40

    def __init__(self, message: str, result: PruneResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class LoadInProgressError(LoadError):
    """Another diskette load is running on the same database: wait for it."""

    exit_code = 24


class RecoveryError(StorageRestoreError):
    """A load interrupted after its commit could not be finished yet."""

    exit_code = 25


class InterruptedAfterCommitError(DisketteError):
    """SIGINT or SIGTERM arrived once the commit had begun: the load was finished
    first, and the command exits as interrupted (130 or 143)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
