"""Admin for the sample app, so the demo data can be browsed."""

from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline

from sandbox.library import models


class NoteInline(GenericTabularInline):
    model = models.Note
    extra = 0


class ShelfEntryInline(admin.TabularInline):
    model = models.ShelfEntry
    extra = 0
    autocomplete_fields = ["book"]


@admin.register(models.Publisher)
class PublisherAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(models.Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["first_name", "last_name", "mentor"]
    search_fields = ["first_name", "last_name"]
    autocomplete_fields = ["mentor"]
    inlines = [NoteInline]


@admin.register(models.Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["slug", "label"]
    search_fields = ["slug", "label"]


@admin.register(models.Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ["title", "publisher", "price", "published_at"]
    list_filter = ["publisher", "tags"]
    search_fields = ["title"]
    autocomplete_fields = ["publisher", "authors", "tags", "sequel"]
    inlines = [NoteInline]


@admin.register(models.EBook)
class EBookAdmin(BookAdmin):
    list_display = [*BookAdmin.list_display, "file_format", "size_bytes"]


@admin.register(models.PublishedBook)
class PublishedBookAdmin(admin.ModelAdmin):
    list_display = ["title", "published_at"]
    search_fields = ["title"]


@admin.register(models.Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["book", "reviewer", "rating", "created"]
    list_filter = ["rating"]
    raw_id_fields = ["book", "reviewer"]


@admin.register(models.Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["content_type", "object_id", "text"]
    list_filter = ["content_type"]


@admin.register(models.Shelf)
class ShelfAdmin(admin.ModelAdmin):
    search_fields = ["name"]
    inlines = [ShelfEntryInline]
