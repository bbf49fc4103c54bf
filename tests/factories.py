"""factory-boy factories for auth users and the sandbox's library models.

Values come from sequences and fixed constants, so the same sequence of calls
gives the same data (call ``reset_sequences()`` to restart the numbering).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType

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

BASE_TIME = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"group-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    first_name = factory.Sequence(lambda n: ("Zoë", "José", "明美")[n % 3])
    last_name = "Tester"
    password = factory.django.Password("secret")
    date_joined = factory.Sequence(lambda n: BASE_TIME + timedelta(days=n))


class PublisherFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Publisher
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Éditions {n}")


class AuthorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Author

    first_name = factory.Sequence(lambda n: f"Ada{n}")
    last_name = factory.Sequence(lambda n: f"Lovelace-{n}")
    bio = "Wrote the first program."


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tag-{n}")
    label = factory.Sequence(lambda n: f"Tag {n}")


class BookFactory(factory.django.DjangoModelFactory):
    """A book; ``authors=[...]`` and ``tags=[...]`` set the M2M relations."""

    class Meta:
        model = Book
        skip_postgeneration_save = True

    id = factory.Sequence(lambda n: uuid.UUID(int=n + 1, version=4))
    title = factory.Sequence(lambda n: f"Book {n} — «ñ»")
    publisher = factory.SubFactory(PublisherFactory)
    price = factory.Sequence(lambda n: Decimal(n) + Decimal("0.99"))
    published_at = factory.Sequence(lambda n: BASE_TIME - timedelta(days=n))
    metadata = factory.Sequence(lambda n: {"n": n, "nested": {"list": [1, None, "é"]}})
    signature = factory.Sequence(lambda n: b"\x00sig" + n.to_bytes(4, "big"))
    cover = ""

    @factory.post_generation
    def authors(self, create, extracted, **kwargs):
        if create and extracted:
            self.authors.set(extracted)

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set(extracted)


class EBookFactory(BookFactory):
    class Meta:
        model = EBook

    file_format = "epub"
    size_bytes = factory.Sequence(lambda n: 2**33 + n)


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    book = factory.SubFactory(BookFactory)
    reviewer = factory.SubFactory(UserFactory)
    rating = factory.Sequence(lambda n: n % 5 + 1)
    body = "Great read."
    created = factory.Sequence(lambda n: BASE_TIME + timedelta(hours=n))


class NoteFactory(factory.django.DjangoModelFactory):
    """A note on ``content_object`` (a book unless given)."""

    class Meta:
        model = Note
        exclude = ("content_object",)

    content_object = factory.SubFactory(BookFactory)
    content_type = factory.LazyAttribute(
        lambda o: ContentType.objects.get_for_model(o.content_object)
    )
    object_id = factory.LazyAttribute(lambda o: str(o.content_object.pk))
    text = factory.Sequence(lambda n: f"note {n}")


class ShelfFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shelf
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"shelf-{n}")


class ShelfEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShelfEntry

    shelf = factory.SubFactory(ShelfFactory)
    book = factory.SubFactory(BookFactory)
    position = factory.Sequence(lambda n: n)


FACTORIES = (
    GroupFactory,
    UserFactory,
    PublisherFactory,
    AuthorFactory,
    TagFactory,
    BookFactory,  # EBookFactory shares its counter
    ReviewFactory,
    NoteFactory,
    ShelfFactory,
    ShelfEntryFactory,
)


def reset_sequences() -> None:
    """Restart every factory's numbering, for tests that compare exact values."""
    for factory_class in FACTORIES:
        factory_class.reset_sequence()
