"""PostgreSQL's foreign keys, set aside while a load writes and added again.

A broken reference is still named, by the foreign key added again; a role that
may not alter a table keeps its triggers (and the load works as before); a
table another session holds keeps its triggers without a long wait; a savepoint
rolled back puts its foreign keys back, which the end of the load leaves alone;
nothing is set aside outside a load.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext

from diskette.exceptions import IntegrityLoadError
from diskette.loading import constraints, sql
from diskette.loading.loader import Fixture, load_fixtures
from sandbox.library.models import Author, Book, Publisher, Review
from tests.load.postgres_tools import (
    containing,
    foreign_keys,
    forget_content_types,  # noqa: F401  (fixture)
    write,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(databases=["default", "postgres"]),
]


def _broken_authors(tmp_path) -> Fixture:
    authors = [
        {
            "model": "library.author",
            "pk": pk,
            "fields": {
                "first_name": f"A{pk}",
                "last_name": "B",
                "mentor": 999 if pk == 5 else pk - 1 or None,
                "bio": "",
            },
        }
        for pk in range(1, 9)
    ]
    return write(tmp_path / "authors.json", authors)


BROKEN = (
    "data file 'authors.json': library.Author(pk=5) refers by its field 'mentor' to "
    "library.Author(pk=999), which no data file holds and the database lacks "
    "(library_author.mentor_id); the database is unchanged (dump library.Author "
    "too: add its definition to DISKETTE_APPS, or remove the reference)"
)


def test_a_broken_reference_is_named_when_its_foreign_key_is_added_again(
    postgres_db, tmp_path
):
    keys = foreign_keys(postgres_db)
    connection = connections[postgres_db]
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(IntegrityLoadError) as caught,
    ):
        load_fixtures([_broken_authors(tmp_path)], using=postgres_db)
    assert str(caught.value) == BROKEN
    # Found by the foreign key added again, not by a trigger.
    assert [q for q in containing(queries, "ADD CONSTRAINT") if "library_author" in q]
    assert not Author.objects.using(postgres_db).exists()
    assert foreign_keys(postgres_db) == keys


@pytest.fixture
def other_role(postgres_db):
    """The test database's connection as a role that owns no table (but may
    read and write them all): ``SET ROLE``, reset afterwards."""
    name = f"diskette_other_{os.getpid()}"
    connection = connections[postgres_db]
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}"')
        cursor.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{name}"')
        cursor.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{name}"')
        cursor.execute(f'SET ROLE "{name}"')
    try:
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def test_a_role_that_does_not_own_the_tables_keeps_their_triggers(
    postgres_db, other_role, tmp_path
):
    """Nothing is dropped (the load does not even try); rows and foreign keys
    are as they would be, and a broken reference is named the same way."""
    keys = foreign_keys(postgres_db)
    objects = [
        {"model": "library.publisher", "pk": 1, "fields": {"name": "P"}},
        {
            "model": "library.author",
            "pk": 1,
            "fields": {"first_name": "A", "last_name": "B", "mentor": 2, "bio": ""},
        },
        {
            "model": "library.author",
            "pk": 2,
            "fields": {"first_name": "C", "last_name": "D", "mentor": None, "bio": ""},
        },
    ]
    connection = connections[postgres_db]
    with CaptureQueriesContext(connection) as queries:
        load_fixtures([write(tmp_path / "ok.json", objects)], using=postgres_db)
    assert not containing(queries, "ALTER TABLE")
    assert containing(queries, "COPY ")
    assert list(
        Author.objects.using(postgres_db).order_by("pk").values_list("pk", "mentor_id")
    ) == [(1, 2), (2, None)]
    Author.objects.using(postgres_db).all().delete()
    with pytest.raises(IntegrityLoadError) as caught:
        load_fixtures([_broken_authors(tmp_path)], using=postgres_db)
    assert str(caught.value) == BROKEN
    assert not Author.objects.using(postgres_db).exists()
    assert foreign_keys(postgres_db) == keys


def _library(count: int, *, reviewers: bool = False) -> list[dict]:
    """A publisher, authors, books (with authors) and reviews (by users)."""
    objects: list[dict] = [
        {"model": "library.publisher", "pk": 1, "fields": {"name": "P"}}
    ]
    for n in range(1, count + 1):
        book = str(uuid.UUID(int=n))
        objects += [
            {
                "model": "library.author",
                "pk": n,
                "fields": {"first_name": f"A{n}", "last_name": "B", "bio": ""},
            },
            {
                "model": "library.book",
                "pk": book,
                "fields": {
                    "title": f"T{n}",
                    "publisher": 1,
                    "authors": [n],
                    "price": "1.00",
                    "published_at": "2024-01-01T00:00:00Z",
                    "metadata": {"n": n},
                },
            },
            {
                "model": "library.review",
                "pk": n,
                "fields": {
                    "book": book,
                    "reviewer": n if reviewers else None,
                    "rating": 3,
                    "body": "",
                    "created": "2024-01-01T00:00:00Z",
                },
            },
        ]
    return objects


def test_a_lock_another_session_holds_keeps_that_tables_triggers(
    postgres_db, tmp_path, monkeypatch
):
    """Dropping library_book's foreign keys needs library_publisher, which
    another session reads: the load does not wait for it, library_book keeps
    its foreign keys (and triggers), and so does library_review, whose foreign
    key names library_book, by then with queued checks; library_author's and
    the link table's (dropped with library_book's) are set aside. The rows are
    right."""
    from django.db.models.signals import post_save

    monkeypatch.setattr(constraints, "LOCK_TIMEOUT", "100ms")
    keys = foreign_keys(postgres_db)
    during: list[set[str]] = []

    def look(sender, **kwargs):
        if not during:
            during.append({table for table, *_ in foreign_keys(postgres_db)})

    post_save.connect(look, sender=Review)
    try:
        with _other_session(postgres_db) as other:
            other.execute("LOCK TABLE library_publisher IN ACCESS SHARE MODE")
            fixture = write(tmp_path / "library.json", _library(5))
            load_fixtures([fixture], using=postgres_db)
            other.rollback()
    finally:
        post_save.disconnect(look, sender=Review)
    assert {"library_book", "library_review"} <= during[0]
    assert not {"library_book_authors", "library_author"} & during[0]
    assert Review.objects.using(postgres_db).count() == 5
    assert sorted(
        Book.objects.using(postgres_db).values_list("title", "authors__first_name")
    ) == [(f"T{n}", f"A{n}") for n in range(1, 6)]
    assert foreign_keys(postgres_db) == keys


def _other_session(using: str):
    import psycopg

    settings = connections[using].settings_dict
    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        dbname=settings["NAME"],
    )


def test_a_table_another_session_holds_is_waited_for_once(
    postgres_db, tmp_path, monkeypatch
):
    """auth_user is read by another session: the first foreign key that needs
    it waits for it and gives up; the others that need it do not even try."""
    monkeypatch.setattr(constraints, "LOCK_TIMEOUT", "100ms")
    users = [
        {"model": "auth.user", "pk": n, "fields": {"username": f"u{n}", "password": ""}}
        for n in range(1, 4)
    ]
    fixture = write(tmp_path / "all.json", users + _library(3, reviewers=True))
    connection = connections[postgres_db]
    with _other_session(postgres_db) as other:
        other.execute("LOCK TABLE auth_user IN ACCESS SHARE MODE")
        with CaptureQueriesContext(connection) as queries:
            load_fixtures([fixture], using=postgres_db)
        other.rollback()
    tried = {q.split('"')[1] for q in containing(queries, "DROP CONSTRAINT")}
    assert "auth_user_groups" in tried
    assert not {"auth_user_user_permissions", "library_review"} & tried
    assert {"library_book", "library_book_authors"} <= tried
    assert list(
        Review.objects.using(postgres_db).order_by("pk").values_list("reviewer_id")
    ) == [(1,), (2,), (3,)]


def test_foreign_keys_a_rolled_back_savepoint_put_back_are_left_alone(postgres_db):
    """A batch's savepoint that dropped a table's foreign keys and then failed
    puts them back: the end of the load does not add them twice, and the rows
    written since (checked by the triggers again) are fine."""
    connection = connections[postgres_db]
    keys = foreign_keys(postgres_db)
    with constraints.set_aside(connection, flushed=False) as foreign:
        assert foreign is not None
        with pytest.raises(ZeroDivisionError), transaction.atomic(using=postgres_db):
            constraints.before_write(Author, postgres_db)
            assert foreign.set_aside
            assert foreign_keys(postgres_db) != keys
            1 / 0  # noqa: B018 - the batch fails
        assert foreign_keys(postgres_db) == keys
        Author.objects.using(postgres_db).create(pk=1, first_name="A", last_name="B")
        constraints.before_write(Author, postgres_db)  # already looked at
    foreign.restore()
    connection.check_constraints()
    assert foreign_keys(postgres_db) == keys


def test_nothing_is_set_aside_outside_a_load(postgres_db):
    keys = foreign_keys(postgres_db)
    sql.insert_rows(Publisher, [Publisher(pk=1, name="P")], postgres_db)
    sql.insert_rows(Author, [Author(pk=1, first_name="A", last_name="B")], postgres_db)
    assert foreign_keys(postgres_db) == keys
