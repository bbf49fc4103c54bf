"""Sample models with the shapes that break naive dump/load tools.

Natural keys, forward self references, a generic relation through contenttypes,
multi-table inheritance, a proxy, JSON, binary, decimal, aware datetimes, a UUID
primary key, a file field and an M2M with an explicit through model.
"""

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class PublisherManager(models.Manager):
    def get_by_natural_key(self, name):
        return self.get(name=name)


class Publisher(models.Model):
    name = models.CharField(max_length=200, unique=True)

    objects = PublisherManager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.name,)


class AuthorManager(models.Manager):
    def get_by_natural_key(self, first_name, last_name):
        return self.get(first_name=first_name, last_name=last_name)


class Author(models.Model):
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    mentor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mentees",
    )
    bio = models.TextField(blank=True)
    notes = GenericRelation("Note")

    objects = AuthorManager()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["first_name", "last_name"], name="library_author_unique_name"
            )
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name}"

    def natural_key(self):
        return (self.first_name, self.last_name)


class TagManager(models.Manager):
    def get_by_natural_key(self, slug):
        return self.get(slug=slug)


class Tag(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    label = models.CharField(max_length=100)

    objects = TagManager()

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.label

    def natural_key(self):
        return (self.slug,)


class Book(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=300)
    publisher = models.ForeignKey(
        Publisher, on_delete=models.PROTECT, related_name="books"
    )
    authors = models.ManyToManyField(Author, related_name="books")
    tags = models.ManyToManyField(Tag, blank=True, related_name="books")
    price = models.DecimalField(max_digits=8, decimal_places=2)
    published_at = models.DateTimeField()
    metadata = models.JSONField(default=dict, blank=True)
    signature = models.BinaryField(blank=True, default=b"")
    cover = models.FileField(upload_to="covers/", blank=True)
    sequel = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="prequels",
    )
    notes = GenericRelation("Note")

    class Meta:
        ordering = ["title", "id"]

    def __str__(self):
        return self.title


class PublishedBookManager(models.Manager):
    """Only books whose publication date has passed."""

    def get_queryset(self):
        return super().get_queryset().filter(published_at__lte=timezone.now())


class PublishedBook(Book):
    objects = PublishedBookManager()

    class Meta:
        proxy = True

    def __str__(self):
        return f"{self.title} (published)"


class EBook(Book):
    file_format = models.CharField(max_length=20)
    size_bytes = models.BigIntegerField()

    def __str__(self):
        return f"{self.title} [{self.file_format}]"


class Review(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="library_reviews",
    )
    rating = models.PositiveSmallIntegerField()
    body = models.TextField(blank=True)
    created = models.DateTimeField()

    class Meta:
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.rating}/5 on {self.book_id}"


class Note(models.Model):
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.CharField(max_length=64)
    content_object = GenericForeignKey("content_type", "object_id")
    text = models.TextField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self):
        return f"Note on {self.content_type_id}:{self.object_id}"


class Shelf(models.Model):
    name = models.CharField(max_length=100, unique=True)
    books = models.ManyToManyField(Book, through="ShelfEntry", related_name="shelves")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ShelfEntry(models.Model):
    shelf = models.ForeignKey(Shelf, on_delete=models.CASCADE, related_name="entries")
    book = models.ForeignKey(
        Book, on_delete=models.CASCADE, related_name="shelf_entries"
    )
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["shelf", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["shelf", "book"], name="library_shelfentry_unique_book"
            )
        ]

    def __str__(self):
        return f"{self.shelf_id} #{self.position}"
