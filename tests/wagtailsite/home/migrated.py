"""Keep the rows ``migrate`` made through a flush, as a long-lived site keeps them.

``flush`` empties every table and recreates the content types and permissions in
app order, under other ids than ``migrate`` gave them. The rows Wagtail's data
migrations made (root and welcome pages, default site, root collection,
Moderators and Editors groups and their permissions, default workflow) are saved
before, naming content types and permissions by natural key, and put back after,
under their primary keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import connection, transaction

from tests.wagtailsite.home.models import HomePage
from tests.wagtailsite.home.scope import meaning_models


@contextmanager
def flushed_keeping_migrated_rows() -> Iterator[None]:
    """Flush, then, in one transaction, put migrate's rows back and run the body."""
    kept = migrated_rows()
    call_command("flush", interactive=False, verbosity=0)
    ContentType.objects.clear_cache()
    with transaction.atomic():
        restore(kept)
        yield


def migrated_rows() -> str:
    """The rows migrate made, as a fixture naming permissions by natural key.

    Wagtail's data migrations create them in an order that depends on the
    database (groups come back unordered), so they are kept as this database made
    them rather than created again.
    """
    if User.objects.exists() or HomePage.objects.exists():
        raise CommandError(
            "seed runs on a freshly migrated database, and this one already has "
            "users or pages: migrate a new database and seed it"
        )
    # Models with natural keys (groups) first: the rows refer to them by name.
    ordered = serializers.sort_dependencies(
        [(None, meaning_models())], allow_cycles=True
    )
    objects = [obj for model in ordered for obj in model._base_manager.order_by("pk")]
    return serializers.serialize("json", objects, use_natural_foreign_keys=True)


def restore(fixture: str) -> None:
    """Put the rows of :func:`migrated_rows` back, under their primary keys."""
    restored = set()
    with connection.constraint_checks_disabled():
        for item in serializers.deserialize("json", fixture):
            item.save()
            restored.add(type(item.object))
    connection.check_constraints()
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), list(restored)):
            cursor.execute(sql)
