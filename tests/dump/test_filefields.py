"""File fields whose files no storage of a dump holds."""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.db import models
from django.test.utils import isolate_apps

from diskette.definitions import Definition, load_definitions
from diskette.dumping.filefields import UnarchivedFiles, unarchived_file_fields
from diskette.paths import resolve_storages

BOOKS = [["books", {"models": ["library"]}]]


def test_the_books_covers_outside_every_storage(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    definitions = load_definitions(BOOKS)
    covers = (tmp_path / "media" / "covers").resolve()
    expected = [UnarchivedFiles(covers, ("library.Book.cover",))]
    assert unarchived_file_fields(definitions, []) == expected
    assert unarchived_file_fields(definitions, [tmp_path / "other"]) == expected
    assert unarchived_file_fields(definitions, [tmp_path / "media" / "other"]) == (
        expected
    )
    assert str(expected[0]) == (
        f"library.Book.cover stores its files in {str(covers)!r}, which no storage "
        "of the dump holds, so the archive would have the rows without the files"
    )


def test_a_storage_holding_or_inside_the_directory_archives_them(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    definitions = load_definitions(BOOKS)
    (tmp_path / "media" / "covers" / "2024").mkdir(parents=True)
    for storage in ("media", "media/covers", "media/covers/2024"):
        (found,) = resolve_storages([storage], tmp_path)
        assert unarchived_file_fields(definitions, [found]) == [], storage
        assert unarchived_file_fields(definitions, [tmp_path / storage]) == []


def test_models_not_dumped_do_not_count(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    definitions = load_definitions([["authors", {"models": ["library.Author"]}]])
    assert unarchived_file_fields(definitions, []) == []


def test_storages_off_the_disk_are_not_checked_and_dates_end_the_directory(tmp_path):
    with isolate_apps("sandbox.library") as registry:

        class Scan(models.Model):
            page = models.FileField(
                storage=FileSystemStorage(location=tmp_path / "scans"),
                upload_to="pages/%Y/%m/",
            )
            remote = models.FileField(storage=InMemoryStorage(), upload_to="x/")
            picture = models.ImageField(
                storage=FileSystemStorage(location=tmp_path / "scans"),
                upload_to=lambda instance, name: name,
            )

            class Meta:
                app_label = "library"

            def __str__(self):
                return self.page.name

        scans = Definition("scans", ("library.Scan",), "scans.json", "json")
        found = unarchived_file_fields([scans], [], registry)
    assert found == [
        UnarchivedFiles(
            (tmp_path / "scans" / "pages").resolve(), ("library.Scan.page",)
        ),
        UnarchivedFiles((tmp_path / "scans").resolve(), ("library.Scan.picture",)),
    ]
