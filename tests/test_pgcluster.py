"""The throwaway PostgreSQL cluster: the ``postgres`` alias is a real server."""

import uuid

import pytest
from django.db import connections

from sandbox.library.models import Book, EBook, Note
from sandbox.library.seeding import seed_database
from tests.factories import AuthorFactory, BookFactory, NoteFactory


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
def test_postgres_alias_answers_a_query(postgres_db):
    connection = connections[postgres_db]
    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), current_setting('fsync')")
        version, fsync = cursor.fetchone()

    assert connection.vendor == "postgresql"
    assert version.startswith("PostgreSQL")
    assert fsync == "off"


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
def test_model_round_trip_on_postgres(postgres_db):
    author = AuthorFactory._meta.model.objects.db_manager(postgres_db).create(
        first_name="Zoë", last_name="Ψ"
    )
    book = BookFactory.build(metadata={"ü": [None, {"x": 1.5}]})
    book.publisher.save(using=postgres_db)
    book.publisher_id = book.publisher.pk
    book.save(using=postgres_db)
    book.authors.add(author)

    loaded = Book.objects.using(postgres_db).get(pk=book.pk)
    assert isinstance(loaded.pk, uuid.UUID)
    assert loaded.metadata == {"ü": [None, {"x": 1.5}]}
    assert bytes(loaded.signature) == book.signature
    assert loaded.price == book.price
    assert loaded.published_at == book.published_at
    assert list(loaded.authors.all()) == [author]
    assert not Book.objects.filter(pk=book.pk).exists()  # not in SQLite


@pytest.mark.django_db(databases=["default", "postgres"])
def test_seeding_works_on_each_database(db_alias):
    counts = seed_database(60, using=db_alias)

    assert EBook.objects.using(db_alias).count() == counts["library.EBook"]
    note = Note.objects.using(db_alias).filter(content_type__model="book").first()
    assert isinstance(note.content_object, Book)
    # Sequences were moved past the explicit keys: a plain insert still works.
    extra = NoteFactory.build(content_object=note.content_object)
    extra.content_type_id = note.content_type_id
    extra.save(using=db_alias)
    assert extra.pk > counts["library.Note"]
