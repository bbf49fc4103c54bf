"""File fields whose files no storage archives: the rows travel, the files would not.

A ``FileField`` (or ``ImageField``) row holds a file's name; the file itself is in
the field's storage directory (``MEDIA_ROOT`` by default). When no storage of
the dump holds that directory, the archive has the rows without their files,
and the loaded site shows broken links. :func:`unarchived_file_fields` names
those fields, grouped by directory.

Only fields on a file system storage are checked: files of a remote storage
(S3 and the like) are not on this machine and never travel in an archive. A
field counts as archived when its directory and a storage overlap (one holds
the other): ``upload_to`` may be a callable, so the exact directory is unknown.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.apps import apps as django_apps
from django.apps.registry import Apps
from django.core.files.storage import FileSystemStorage
from django.db.models import FileField, Model

from diskette.definitions import Definition
from diskette.paths import StoragePath


@dataclass(frozen=True)
class UnarchivedFiles:
    """File fields (``app_label.Model.field``) storing files in ``directory``, unarchived."""

    directory: Path
    fields: tuple[str, ...]

    def __str__(self) -> str:
        fields = ", ".join(self.fields)
        verb = "stores its" if len(self.fields) == 1 else "store their"
        return (
            f"{fields} {verb} files in {str(self.directory)!r}, which no storage of "
            "the dump holds, so the archive would have the rows without the files"
        )


def _directory(field: FileField) -> Path | None:
    """Where the field's files are, as far as it is known; ``None`` off the disk."""
    storage = field.storage
    if not isinstance(storage, FileSystemStorage):
        return None
    location = Path(storage.location)
    upload_to = field.upload_to
    if isinstance(upload_to, str):
        # Up to the first strftime placeholder ("covers/%Y/%m/").
        for part in PurePosixPath(upload_to).parts:
            if "%" in part or part == "/":
                break
            location /= part
    return location.resolve()


def _overlaps(directory: Path, storage: Path) -> bool:
    return directory.is_relative_to(storage) or storage.is_relative_to(directory)


def _file_fields(model: type[Model]) -> Iterable[FileField]:
    return (f for f in model._meta.local_fields if isinstance(f, FileField))


def unarchived_file_fields(
    definitions: Iterable[Definition],
    storages: Iterable[str | os.PathLike | StoragePath],
    apps: Apps | None = None,
) -> list[UnarchivedFiles]:
    """The file fields of the dumped models whose files no storage holds.

    ``storages`` are the dump's storage directories (paths, or objects with a
    ``path`` such as :class:`~diskette.paths.StoragePath`); none at all means
    that no file field's files are archived. One item per directory, in the
    order the fields are first met. ``apps`` is the registry the labels name
    (default: the project's).
    """
    apps = apps or django_apps
    roots = [
        Path(storage.path if isinstance(storage, StoragePath) else storage)
        .expanduser()
        .resolve()
        for storage in storages
    ]
    by_directory: dict[Path, list[str]] = {}
    seen: set[type[Model]] = set()
    for definition in definitions:
        for label in definition.models:
            try:
                model = apps.get_model(label)
            except LookupError:
                continue
            if model in seen or model._meta.proxy:
                continue
            seen.add(model)
            for field in _file_fields(model):
                try:
                    directory = _directory(field)
                except (OSError, ValueError, TypeError):
                    continue  # a storage whose location cannot be read
                if directory is None or any(_overlaps(directory, r) for r in roots):
                    continue
                by_directory.setdefault(directory, []).append(
                    f"{model._meta.label}.{field.name}"
                )
    return [
        UnarchivedFiles(path, tuple(fields)) for path, fields in by_directory.items()
    ]
