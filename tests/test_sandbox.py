"""The sandbox project: deterministic seeding, media layout, the seed command."""

import io
import stat
from datetime import datetime
from decimal import Decimal
from fnmatch import fnmatch
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.utils import timezone

from sandbox.library import seeding
from sandbox.library.models import (
    Author,
    Book,
    EBook,
    Note,
    PublishedBook,
    Review,
    ShelfEntry,
)
from sandbox.library.seeding import SeedPlan, seed_database, seed_media
from tests.conftest import SEEDED_COUNT, run_manage
from tests.factories import (
    AuthorFactory,
    BookFactory,
    EBookFactory,
    NoteFactory,
    ReviewFactory,
    ShelfEntryFactory,
    reset_sequences,
)

DUMPED = ["auth.group", "auth.user", "library"]


def dump(*labels: str) -> str:
    out = io.StringIO()
    call_command("dumpdata", *labels, natural_foreign=True, indent=1, stdout=out)
    return out.getvalue()


def flush_seeded() -> None:
    for model in reversed(seeding.SEEDED_MODELS):
        model._base_manager.all().delete()


@pytest.mark.django_db
def test_seeding_twice_gives_identical_dumps():
    first_counts = seed_database(SEEDED_COUNT, seed=3)
    first = dump(*DUMPED)
    flush_seeded()
    second_counts = seed_database(SEEDED_COUNT, seed=3)

    assert second_counts == first_counts
    assert dump(*DUMPED) == first


@pytest.mark.django_db
def test_another_seed_gives_other_data():
    seed_database(SEEDED_COUNT, seed=1)
    first = dump("library.book")
    flush_seeded()
    seed_database(SEEDED_COUNT, seed=2)

    assert dump("library.book") != first


@pytest.mark.django_db
def test_counts_match_the_rows_and_the_requested_total():
    counts = seed_database(200)

    for model in seeding.SEEDED_MODELS:
        assert counts[model._meta.label] == model._base_manager.count() > 0
    assert counts["library.Book_authors"] == Book.authors.through.objects.count()
    assert sum(seeding.existing_rows().values()) == 200


def test_count_below_minimum_is_refused():
    with pytest.raises(ValueError, match="at least"):
        SeedPlan.for_count(seeding.MIN_COUNT - 1)


@pytest.mark.django_db
def test_seeded_data_has_the_awkward_shapes(seeded):
    authors = {a.pk: a for a in Author.objects.all()}
    assert any(a.mentor_id and a.mentor_id > a.pk for a in authors.values())

    books = list(Book.objects.all())
    # E-books are inserted after plain books: a plain book's e-book sequel is a
    # forward reference.
    assert Book.objects.filter(ebook__isnull=True, sequel__ebook__isnull=False).exists()
    assert any(b"\x00" in bytes(b.signature) for b in books)
    dicts = [b.metadata for b in books if isinstance(b.metadata, dict)]
    assert any(m.get("flags") == [True, False, None] for m in dicts)
    assert any(m == {} for m in dicts)
    assert all(timezone.is_aware(b.published_at) for b in books)
    assert all(isinstance(b.price, Decimal) for b in books)
    assert EBook.objects.count() == seeded["library.EBook"]
    assert PublishedBook.objects.count() < Book.objects.count()

    note_types = {n.content_type.model for n in Note.objects.all()}
    assert {"book", "author"} <= note_types
    book_note = Note.objects.filter(content_type__model="book").first()
    assert isinstance(book_note.content_object, Book)

    assert User.objects.filter(is_superuser=True, username="admin").exists()
    assert Group.objects.filter(permissions__isnull=False).exists()
    assert Review.objects.filter(reviewer__isnull=True).exists()
    assert ShelfEntry.objects.exists()


@pytest.mark.django_db
def test_seeding_a_non_empty_database_is_refused(seeded):
    with pytest.raises(ValueError, match="already has data"):
        seed_database(SEEDED_COUNT)


def test_media_layout(tmp_path):
    summary = seed_media(tmp_path, files=30)
    written = {
        path.relative_to(tmp_path).as_posix()
        for path in tmp_path.rglob("*")
        if path.is_file()
    }

    assert written == set(summary["written"])
    assert summary["files"] == len(written)
    assert summary["bytes"] == sum((tmp_path / p).stat().st_size for p in written)
    assert "docs/unicodé ñame.txt" in written
    assert any(
        not name.isascii() and "/" in name
        for name in written - {"docs/unicodé ñame.txt"}
    )
    assert any(name.startswith("docs/2024/11/") for name in written)
    empty = tmp_path / seeding.EMPTY_DIR
    assert empty.is_dir() and not any(empty.iterdir())
    assert list((tmp_path / "empty").iterdir()) == [empty]

    restricted = tmp_path / seeding.RESTRICTED_FILE
    assert stat.S_IMODE(restricted.stat().st_mode) == 0o640
    assert int(restricted.stat().st_mtime) == seeding.RESTRICTED_MTIME
    others = {int((tmp_path / p).stat().st_mtime) for p in written} - {
        seeding.RESTRICTED_MTIME
    }
    assert others == {seeding.MEDIA_MTIME}


def test_excluded_files_exist_and_match_the_sandbox_patterns(tmp_path):
    summary = seed_media(tmp_path, files=0)
    patterns = settings.DISKETTE_STORAGES_EXCLUDES

    for name in summary["excluded"]:
        assert (tmp_path / name).is_file()
        assert any(fnmatch(name, pattern) for pattern in patterns), name
    kept = set(summary["written"]) - set(summary["excluded"])
    assert not any(fnmatch(n, p) for n in kept for p in patterns)


def test_media_is_deterministic(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    seed_media(one, seed=5)
    summary = seed_media(two, seed=5)

    for name in summary["written"]:
        assert (one / name).read_bytes() == (two / name).read_bytes()


@pytest.mark.django_db
def test_book_covers_exist_as_media_files(seeded, media_root):
    covers = [b.cover.name for b in Book.objects.exclude(cover="")]

    assert covers
    assert all((media_root / name).is_file() for name in covers)


@pytest.mark.django_db
def test_seed_command_refuses_a_non_empty_database(seeded):
    with pytest.raises(CommandError, match="--flush"):
        call_command("seed", "--objects", "40", "--no-media", stdout=io.StringIO())
    assert Author.objects.count() == seeded["library.Author"]


@pytest.mark.django_db
def test_seed_command_flush_replaces_the_data(seeded):
    out = io.StringIO()
    try:
        call_command("seed", "--objects", "100", "--no-media", "--flush", stdout=out)
    finally:
        # flush renumbered the content types; the rollback undoes it, not the cache.
        ContentType.objects.clear_cache()

    assert sum(seeding.existing_rows().values()) == 100
    assert "Seeded" in out.getvalue()


@pytest.mark.slow
def test_seed_command_in_a_subprocess(sandbox_env):
    var = Path(sandbox_env["SANDBOX_VAR"])
    unmigrated = run_manage("seed", env=sandbox_env)
    assert unmigrated.returncode == 1
    assert "run manage.py migrate first" in unmigrated.stderr
    assert "Traceback" not in unmigrated.stderr

    assert run_manage("migrate", "-v0", env=sandbox_env).returncode == 0

    first = run_manage("seed", "--objects", "40", "--media-files", "2", env=sandbox_env)
    assert first.returncode == 0, first.stderr
    assert "library.Book" in first.stdout
    assert (var / "media" / seeding.RESTRICTED_FILE).is_file()

    again = run_manage("seed", "--objects", "40", env=sandbox_env)
    assert again.returncode == 1
    assert again.stderr.strip().startswith("CommandError:")
    assert "--flush" in again.stderr
    assert "Traceback" not in again.stderr

    bad = run_manage("seed", "--objects", "3", "--flush", env=sandbox_env)
    assert bad.returncode == 1
    assert "--objects" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.django_db
def test_factories_build_every_model():
    reset_sequences()
    author = AuthorFactory()
    book = BookFactory(authors=[author])
    ebook = EBookFactory(sequel=None)
    note = NoteFactory(content_object=author)
    ReviewFactory(book=ebook)
    ShelfEntryFactory(book=book)

    assert list(book.authors.all()) == [author]
    assert Book.objects.filter(pk=ebook.pk).exists()
    assert note.content_object == author
    assert isinstance(book.published_at, datetime)
    reset_sequences()
    assert BookFactory.build().id == book.id
