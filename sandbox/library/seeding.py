"""Deterministic sample data for the sandbox: database rows and media files.

The same ``count`` and ``seed`` always give the same rows with the same primary
keys (UUIDs come from a seeded ``random.Random``, datetimes are fixed offsets from a
constant), so two seeded databases dump to identical fixtures. Rows are written
with ``bulk_create`` in one transaction, so tens of thousands seed in seconds.
"""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import connections, models, transaction

from sandbox.library.models import (
    Author,
    Book,
    EBook,
    Note,
    Publisher,
    Review,
    Shelf,
    ShelfEntry,
    Tag,
)

#: Every seeded datetime is an offset from this instant.
BASE_TIME = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
#: Step of seeded sub-second times, in microseconds. Whole milliseconds, so that
#: the tests comparing diskette's JSON with ``dumpdata``'s byte for byte hold:
#: Django's encoder cuts finer digits, which diskette's fixtures keep (set it to 1
#: to seed them; the tests of values seed them on their own).
TIME_RESOLUTION_US = 1000
#: Smallest ``count`` that gives every model at least one row.
MIN_COUNT = 20
#: Number of cover files; ``Book.cover`` values point at ``covers/cover-NNN.png``.
COVER_COUNT = 12
#: Members that ``DISKETTE_STORAGES_EXCLUDES`` of the sandbox must skip.
EXCLUDED_FILES = ("cache/thumb.bin", "docs/draft.tmp", "docs/2024/.DS_Store")
#: Directory without any file in it (its parent ``empty/`` has only this child).
EMPTY_DIR = "empty/nested-empty"
#: File written with a restricted mode and its own fixed mtime.
RESTRICTED_FILE = "docs/private/contract.pdf"
RESTRICTED_MODE = 0o640
#: Modification time of every seeded file (the restricted one gets its own).
MEDIA_MTIME = int(datetime(2024, 11, 5, 9, 30, tzinfo=timezone.utc).timestamp())
RESTRICTED_MTIME = int(datetime(2023, 3, 14, 15, 9, tzinfo=timezone.utc).timestamp())

#: Models that ``seed_database`` fills (auto-created M2M tables come with them).
SEEDED_MODELS: tuple[type[models.Model], ...] = (
    Group,
    User,
    Publisher,
    Tag,
    Author,
    Book,
    EBook,
    Review,
    Note,
    Shelf,
    ShelfEntry,
)

FIRST_NAMES = (
    "Ada", "Zoë", "José", "Åsa", "Chloé", "Ольга", "明美", "Noor", "Ève", "Liam",
    "Søren", "María", "Jürgen", "Aoife", "Tomás", "Ngozi", "Ilse", "Mateus",
)  # fmt: skip
LAST_NAMES = (
    "Lovelace", "O'Brien", "Müller", "García Márquez", "Dupont", "李", "Nakamura",
    "Østergaard", "Ndiaye", "Kowalska", "de la Fontaine", "Smith-Jones", "Björk",
)  # fmt: skip
WORDS = (
    "river", "night", "garden", "café", "naïve", "library", "ocean", "silence",
    "mirror", "北風", "storm", "atlas", "émigré", "lantern", "orchard", "comet",
    "🚀", "quiet", "harbour", "ñandú", "glass", "\"quoted\"", "winter", "ash",
)  # fmt: skip
PUBLISHER_NAMES = (
    "Éditions du Seuil", "Penguin", "岩波書店", "Gallimard", "O'Reilly",
    "Suhrkamp", "Новое издательство", "Faber & Faber",
)  # fmt: skip
FORMATS = ("epub", "pdf", "mobi", "azw3")


@dataclass(frozen=True)
class SeedPlan:
    """How many rows each model gets for a given ``count``."""

    groups: int
    users: int
    publishers: int
    tags: int
    authors: int
    books: int
    ebooks: int
    reviews: int
    notes: int
    shelves: int
    shelf_entries: int

    @classmethod
    def for_count(cls, count: int) -> SeedPlan:
        if count < MIN_COUNT:
            raise ValueError(f"count must be at least {MIN_COUNT}, got {count}")
        plan = {
            "groups": max(1, count // 100),
            "users": max(2, count * 5 // 100),
            "publishers": max(1, count * 3 // 100),
            "tags": max(2, count * 4 // 100),
            "authors": max(3, count * 15 // 100),
            "books": max(3, count * 18 // 100),
            "ebooks": max(1, count * 4 // 100),
            "reviews": max(1, count * 18 // 100),
            "notes": max(1, count * 10 // 100),
            "shelves": max(1, count // 100),
        }
        # An e-book is two rows (library.Book and library.EBook).
        used = sum(plan.values()) + plan["ebooks"]
        capacity = plan["shelves"] * (plan["books"] + plan["ebooks"])
        plan["shelf_entries"] = min(max(count - used, 0), capacity)
        return cls(**plan)


def seed_database(
    count: int, *, seed: int = 0, using: str = "default"
) -> dict[str, int]:
    """Fill the (empty) seeded tables with about ``count`` rows, deterministically.

    Returns the number of rows written per model label, including the
    auto-created M2M tables (e.g. ``library.Book_authors``), which are not part of
    ``count``. Raises ``ValueError`` when ``count`` is too small or when a seeded
    table already has rows (the primary keys are fixed and would clash).
    """
    plan = SeedPlan.for_count(count)
    occupied = existing_rows(using=using)
    if occupied:
        listing = ", ".join(f"{label}: {n}" for label, n in occupied.items())
        raise ValueError(f"the database {using!r} already has data ({listing})")
    with transaction.atomic(using=using):
        counts = _Seeder(plan, random.Random(seed), using).run()
        _reset_sequences(using)
    return counts


def existing_rows(*, using: str = "default") -> dict[str, int]:
    """Row counts of the seeded models that are not empty."""
    counts = {
        model._meta.label: model._base_manager.using(using).count()
        for model in SEEDED_MODELS
    }
    return {label: n for label, n in counts.items() if n}


def _reset_sequences(using: str) -> None:
    """Move database sequences past the explicit primary keys (PostgreSQL)."""
    connection = connections[using]
    statements = connection.ops.sequence_reset_sql(no_style(), list(SEEDED_MODELS))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


class _Seeder:
    """Builds the rows of one seeding run; the random stream fixes every value."""

    def __init__(self, plan: SeedPlan, rng: random.Random, using: str) -> None:
        self.plan = plan
        self.rng = rng
        self.using = using
        self.counts: dict[str, int] = {}

    def save(self, model: type[models.Model], objs: list[Any]) -> list[Any]:
        model._base_manager.using(self.using).bulk_create(objs, batch_size=500)
        label = model._meta.label
        self.counts[label] = self.counts.get(label, 0) + len(objs)
        return objs

    def when(self, days_before: int, days_after: int = 0) -> datetime:
        """An aware datetime around ``BASE_TIME``, with sub-second precision."""
        seconds = self.rng.randint(-days_before * 86400, days_after * 86400)
        micro = self.rng.randrange(0, 1_000_000, TIME_RESOLUTION_US)
        return BASE_TIME + timedelta(seconds=seconds, microseconds=micro)

    def words(self, low: int, high: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=self.rng.randint(low, high)))

    def run(self) -> dict[str, int]:
        groups = self.seed_groups()
        users = self.seed_users(groups)
        publishers = self.seed_publishers()
        tags = self.seed_tags()
        authors = self.seed_authors()
        books = self.seed_books(publishers, authors, tags)
        self.seed_reviews(books, users)
        self.seed_notes(books, authors, publishers)
        self.seed_shelves(books)
        return dict(sorted(self.counts.items()))

    def seed_groups(self) -> list[Group]:
        groups = self.save(
            Group,
            [
                Group(pk=i, name=f"Group {i:03d}")
                for i in range(1, self.plan.groups + 1)
            ],
        )
        permissions = list(
            Permission.objects.using(self.using)
            .filter(content_type__app_label="library")
            .order_by("content_type__model", "codename")
            .values_list("pk", flat=True)
        )
        through = Group.permissions.through
        links = [
            through(group_id=group.pk, permission_id=pk)
            for group in groups
            for pk in self.rng.sample(permissions, k=min(len(permissions), 3))
        ]
        self.save(through, links)
        return groups

    def seed_users(self, groups: list[Group]) -> list[User]:
        # One fixed salt: deterministic and a single (slow) hash for every user.
        password = make_password("sandbox", salt="disketteseed")
        users = []
        for i in range(1, self.plan.users + 1):
            first = FIRST_NAMES[i % len(FIRST_NAMES)]
            users.append(
                User(
                    pk=i,
                    username="admin" if i == 1 else f"reader{i:05d}",
                    first_name=first,
                    last_name=LAST_NAMES[i % len(LAST_NAMES)],
                    email=f"user{i}@example.org",
                    password=password,
                    is_staff=i == 1,
                    is_superuser=i == 1,
                    is_active=i % 17 != 0,
                    date_joined=self.when(900),
                    last_login=None if i % 3 == 0 else self.when(30),
                )
            )
        self.save(User, users)
        through = User.groups.through
        links = [
            through(user_id=user.pk, group_id=self.rng.choice(groups).pk)
            for user in users
            if user.pk % 2 == 0
        ]
        self.save(through, links)
        return users

    def seed_publishers(self) -> list[Publisher]:
        names = PUBLISHER_NAMES
        publishers = [
            Publisher(
                pk=i,
                name=names[(i - 1) % len(names)]
                + ("" if i <= len(names) else f" {i // len(names) + 1}"),
            )
            for i in range(1, self.plan.publishers + 1)
        ]
        return self.save(Publisher, publishers)

    def seed_tags(self) -> list[Tag]:
        tags = []
        for i in range(1, self.plan.tags + 1):
            word = self.rng.choice(WORDS)
            tags.append(Tag(pk=i, slug=f"tag-{i:05d}", label=word.capitalize()))
        return self.save(Tag, tags)

    def seed_authors(self) -> list[Author]:
        total = self.plan.authors
        per_cycle = len(FIRST_NAMES) * len(LAST_NAMES)
        authors = []
        for i in range(1, total + 1):
            first = FIRST_NAMES[(i - 1) % len(FIRST_NAMES)]
            last = LAST_NAMES[((i - 1) // len(FIRST_NAMES)) % len(LAST_NAMES)]
            if i > per_cycle:
                last = f"{last} {(i - 1) // per_cycle + 1}"
            # Every third author's mentor comes later (a forward reference).
            mentor = None
            if i % 3 == 0 and i < total:
                mentor = self.rng.randint(i + 1, total)
            elif i % 5 == 0:
                mentor = self.rng.randint(1, i - 1)
            bio = "" if i % 4 == 0 else f"{self.words(5, 20)}.\nLine two: «{first}»."
            authors.append(
                Author(
                    pk=i, first_name=first, last_name=last, mentor_id=mentor, bio=bio
                )
            )
        return self.save(Author, authors)

    def book_fields(self, i: int, publishers: list[Publisher]) -> dict[str, Any]:
        rng = self.rng
        metadata: Any
        if i % 7 == 0:
            metadata = {}
        elif i % 11 == 0:
            metadata = ["list", "at", "top level", 1, None]
        else:
            metadata = {
                "isbn": f"978-{rng.randrange(10**9):09d}",
                "edition": rng.randint(1, 12),
                "languages": rng.sample(["fr", "en", "日本語", "ру́сский", "es"], k=2),
                "rating": None if i % 3 else round(rng.uniform(1, 5), 2),
                "dimensions": {"height_cm": 21.5, "width_cm": 13.5, "pages": i * 3},
                "flags": [True, False, None],
                "blurb": f"{self.words(3, 8)} — «{i}» ✓",
            }
        signature = b""
        if i % 4:
            signature = b"\x00" + rng.randbytes(rng.randint(1, 40)) + b"\xff\x00"
        cents = rng.randrange(100_000_000)
        price = Decimal(f"{cents // 100}.{cents % 100:02d}")
        return {
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "title": self.words(1, 6).capitalize(),
            "publisher_id": publishers[rng.randrange(len(publishers))].pk,
            "price": price if i % 13 else Decimal("0.00"),
            # Mostly in the past; a few in the future (the proxy's manager hides them).
            "published_at": self.when(7300, 40 * 365 if i % 9 == 0 else 0),
            "metadata": metadata,
            "signature": signature,
            "cover": f"covers/cover-{i % COVER_COUNT:03d}.png" if i % 3 == 0 else "",
        }

    def seed_books(
        self, publishers: list[Publisher], authors: list[Author], tags: list[Tag]
    ) -> list[Book]:
        plan = self.plan
        books = [Book(**self.book_fields(i, publishers)) for i in range(plan.books)]
        ebooks = [
            EBook(
                **self.book_fields(plan.books + i, publishers),
                file_format=FORMATS[i % len(FORMATS)],
                size_bytes=self.rng.randint(0, 2**40),
            )
            for i in range(plan.ebooks)
        ]
        for ebook in ebooks:
            ebook.book_ptr_id = ebook.id  # the child's primary key is the parent's
        everything = books + ebooks
        # Some books name a sequel that is inserted after them (forward reference).
        for index, book in enumerate(everything[:-1]):
            if index % 4 == 1:
                book.sequel_id = everything[index + 1].pk
        self.save(Book, books)
        self.save_ebooks(ebooks)

        authors_through = Book.authors.through
        tags_through = Book.tags.through
        author_links, tag_links = [], []
        for book in everything:
            for author in self.rng.sample(authors, k=self.rng.randint(1, 3)):
                author_links.append(
                    authors_through(book_id=book.pk, author_id=author.pk)
                )
            for tag in self.rng.sample(tags, k=self.rng.randint(0, min(3, len(tags)))):
                tag_links.append(tags_through(book_id=book.pk, tag_id=tag.pk))
        self.save(authors_through, author_links)
        self.save(tags_through, tag_links)
        return everything

    def save_ebooks(self, ebooks: list[EBook]) -> None:
        """Insert parent then child rows: ``bulk_create`` refuses inherited models."""
        self.save(Book, [Book(**_parent_values(ebook)) for ebook in ebooks])
        connection = connections[self.using]
        fields = EBook._meta.local_concrete_fields
        table = connection.ops.quote_name(EBook._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        rows = [
            [f.get_db_prep_save(getattr(ebook, f.attname), connection) for f in fields]
            for ebook in ebooks
        ]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",  # noqa: S608
                rows,
            )
        self.counts[EBook._meta.label] = len(ebooks)

    def seed_reviews(self, books: list[Book], users: list[User]) -> None:
        reviews = []
        for i in range(1, self.plan.reviews + 1):
            reviewer = None if i % 5 == 0 else self.rng.choice(users).pk
            reviews.append(
                Review(
                    pk=i,
                    book_id=self.rng.choice(books).pk,
                    reviewer_id=reviewer,
                    rating=self.rng.randint(1, 5),
                    body="" if i % 6 == 0 else f"{self.words(4, 30)}\n\n— review {i}",
                    created=self.when(400),
                )
            )
        self.save(Review, reviews)

    def seed_notes(
        self, books: list[Book], authors: list[Author], publishers: list[Publisher]
    ) -> None:
        # Queried, not taken from ContentType's cache: a flush renumbers them.
        types = ContentType.objects.using(self.using)
        targets = [
            (types.get(app_label="library", model=model._meta.model_name), objs)
            for model, objs in (
                (Book, books),
                (Author, authors),
                (Publisher, publishers),
            )
        ]
        notes = []
        for i in range(1, self.plan.notes + 1):
            content_type, objects = targets[0 if i % 2 else (1 if i % 3 else 2)]
            target = self.rng.choice(objects)
            notes.append(
                Note(
                    pk=i,
                    content_type_id=content_type.pk,
                    object_id=str(target.pk),
                    text=f"Note {i}: {self.words(2, 12)}",
                )
            )
        self.save(Note, notes)

    def seed_shelves(self, books: list[Book]) -> None:
        plan = self.plan
        shelves = [
            Shelf(pk=i, name=f"Shelf {i:04d} {self.rng.choice(WORDS)}")
            for i in range(1, plan.shelves + 1)
        ]
        self.save(Shelf, shelves)
        entries = []
        per_shelf, extra = divmod(plan.shelf_entries, plan.shelves)
        for index, shelf in enumerate(shelves):
            size = per_shelf + (1 if index < extra else 0)
            for position, book in enumerate(self.rng.sample(books, k=size), start=1):
                entries.append(
                    ShelfEntry(
                        pk=len(entries) + 1,
                        shelf_id=shelf.pk,
                        book_id=book.pk,
                        position=position,
                    )
                )
        self.save(ShelfEntry, entries)


def _parent_values(ebook: EBook) -> dict[str, Any]:
    return {f.attname: getattr(ebook, f.attname) for f in Book._meta.concrete_fields}


# -- media -----------------------------------------------------------------


def seed_media(root: Path, *, files: int = 20, seed: int = 0) -> dict[str, Any]:
    """Write the sandbox's media files under ``root``, deterministically.

    The layout has what a storage dump must get right: ``COVER_COUNT`` covers
    (the files ``Book.cover`` names), ``files`` documents in nested directories
    (``docs/<year>/<month>/``), unicode and CJK names, an empty file, an empty
    directory (``EMPTY_DIR``), one file with mode ``RESTRICTED_MODE`` and the
    files the sandbox's exclude patterns must skip (``EXCLUDED_FILES``). Every
    file gets a fixed mtime. Returns what was written (relative POSIX paths).
    """
    rng = random.Random(seed)
    root = Path(root)
    contents: dict[str, bytes] = {}
    png_header = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    for k in range(COVER_COUNT):
        contents[f"covers/cover-{k:03d}.png"] = png_header + rng.randbytes(
            rng.randint(64, 2048)
        )
    for n in range(1, files + 1):
        year = 2023 + (n // 12) % 2
        month = 1 + n % 12
        text = f"Report {n}\n" + " ".join(rng.choices(WORDS, k=rng.randint(5, 200)))
        contents[f"docs/{year}/{month:02d}/report-{n:03d}.txt"] = text.encode()
    contents["docs/unicodé ñame.txt"] = "Déjà vu, ñandú, ça va ?\n".encode()
    contents["docs/日本語の文書.txt"] = "北風と太陽\n".encode()
    contents["docs/2024/11/minutes.txt"] = b"Minutes of November 2024\n"
    contents["docs/empty.txt"] = b""
    contents[RESTRICTED_FILE] = b"%PDF-1.4\n" + rng.randbytes(256)
    contents["cache/thumb.bin"] = rng.randbytes(128)
    contents["docs/draft.tmp"] = b"temporary draft\n"
    contents["docs/2024/.DS_Store"] = b"\x00\x00\x00\x01Bud1"

    for name, data in contents.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (MEDIA_MTIME, MEDIA_MTIME))
    restricted = root / RESTRICTED_FILE
    restricted.chmod(RESTRICTED_MODE)
    os.utime(restricted, (RESTRICTED_MTIME, RESTRICTED_MTIME))
    (root / EMPTY_DIR).mkdir(parents=True, exist_ok=True)

    return {
        "root": str(root),
        "files": len(contents),
        "bytes": sum(len(data) for data in contents.values()),
        "written": sorted(contents),
        "excluded": sorted(EXCLUDED_FILES),
        "empty_dirs": [EMPTY_DIR],
        "restricted": {"path": RESTRICTED_FILE, "mode": oct(RESTRICTED_MODE)},
    }
