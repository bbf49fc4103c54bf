"""Shapes real catalogs have, each through the third-party app that makes it.

A polymorphic item hierarchy (``Item`` → ``Book`` → ``RareBook``, and ``Gadget``)
with tags, comments and self references; an mptt category tree; a treebeard
section tree; warehouses keyed by a code in a table of their own name, and shelves
whose natural key spans their warehouse; generic comments; dashboards whose JSON
holds content type ids; several models under django-reversion.
"""

import reversion
from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models
from mptt.models import MPTTModel, TreeForeignKey
from polymorphic.models import PolymorphicModel
from taggit.managers import TaggableManager
from treebeard.mp_tree import MP_Node


class WarehouseManager(models.Manager):
    def get_by_natural_key(self, code):
        return self.get(code=code)


@reversion.register()
class Warehouse(models.Model):
    """A primary key that is not ``id``, in a table whose name is set."""

    code = models.CharField(primary_key=True, max_length=12)
    name = models.CharField(max_length=80)
    opens_at = models.TimeField()

    objects = WarehouseManager()

    class Meta:
        db_table = "realsite_warehouse"
        ordering = ["code"]

    def __str__(self):
        return self.code

    def natural_key(self):
        return (self.code,)


class ShelfManager(models.Manager):
    def get_by_natural_key(self, code, number):
        return self.get(warehouse__code=code, number=number)


class Shelf(models.Model):
    """Unique per warehouse: its natural key spans the foreign key."""

    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.CASCADE, related_name="shelves"
    )
    number = models.PositiveIntegerField()
    label = models.CharField(max_length=40)

    objects = ShelfManager()

    class Meta:
        unique_together = [("warehouse", "number")]

    def __str__(self):
        return f"{self.warehouse_id}/{self.number}"

    def natural_key(self):
        return (*self.warehouse.natural_key(), self.number)

    natural_key.dependencies = ["catalog.warehouse"]


@reversion.register()
class Category(MPTTModel):
    """An mptt tree (several trees: ``tree_id`` tells them apart)."""

    name = models.CharField(max_length=60)
    parent = TreeForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )

    def __str__(self):
        return self.name


class Section(MP_Node):
    """A treebeard materialized-path tree."""

    name = models.CharField(max_length=60)

    def __str__(self):
        return self.name


@reversion.register()
class Comment(models.Model):
    """The generic foreign key side: a comment on any object."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    body = models.TextField()
    posted_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self):
        return self.body[:20]


@reversion.register()
class Item(PolymorphicModel):
    """The root of the polymorphic hierarchy."""

    sku = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=120)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    added_at = models.DateTimeField()
    shelf = models.ForeignKey(
        Shelf, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    category = TreeForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    section = models.ForeignKey(
        Section, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    related = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="referenced_by"
    )
    tags = TaggableManager(blank=True)
    comments = GenericRelation(Comment)

    def __str__(self):
        return self.sku


@reversion.register(follow=["item_ptr"])
class Book(Item):
    isbn = models.CharField(max_length=17)
    pages = models.PositiveIntegerField()


@reversion.register(follow=["book_ptr"])
class RareBook(Book):
    provenance = models.TextField()
    appraised_at = models.DateTimeField()
    scan = models.BinaryField()


@reversion.register(follow=["item_ptr"])
class Gadget(Item):
    voltage = models.DecimalField(max_digits=6, decimal_places=3)
    charge_time = models.TimeField()


@reversion.register()
class Dashboard(models.Model):
    """A JSON document that stores content type ids, as many sites do."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dashboards"
    )
    name = models.CharField(max_length=60)
    layout = models.JSONField(default=dict)
    refreshed_at = models.DateTimeField()

    def __str__(self):
        return self.name
