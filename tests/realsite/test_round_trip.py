"""Round trips of the realsite project through diskette, checked by meaning.

The source is seeded with its content types renumbered (see ``trips.py``), dumped
with ``DISKETTE_APPS`` and loaded into the target, on SQLite and PostgreSQL, into a
freshly migrated target and into one holding leftovers with ``flush=True``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import reversion
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from guardian.shortcuts import assign_perm

from tests.realsite.accounts.models import User
from tests.realsite.catalog.models import Comment, RareBook
from tests.realsite.compare import differences, snapshot
from tests.realsite.routers import pinned
from tests.realsite.seeding import BASE_TIME
from tests.realsite.trips import ALIASES, prepare

pytestmark = pytest.mark.django_db(databases=ALIASES)


def test_every_row_comes_back(round_trip):
    result = round_trip.load()
    assert result.objects == sum(d.objects for d in result.data) > 200
    assert differences(snapshot(round_trip.source), snapshot(round_trip.target)) == []


@pytest.mark.parametrize("order", ["users-first", "generated"])
def test_every_row_comes_back_whatever_the_order(vendor, order, tmp_path):
    """The order of the definitions changes nothing: users before the apps that
    point to them, and what ``diskette_apps`` generates for the project."""
    trip = prepare(*vendor, False, tmp_path, order=order)
    trip.load()
    assert differences(snapshot(trip.source), snapshot(trip.target)) == []


def test_the_loaded_site_takes_new_rows(round_trip):
    """After the load, the site works on: new content types, permissions, objects,
    versions, object permissions and tags get ids that collide with nothing."""
    round_trip.load()
    with pinned(round_trip.target):
        content_type = ContentType.objects.create(app_label="later", model="added")
        Permission.objects.create(
            codename="use_added", name="Can use", content_type=content_type
        )
        user = User.objects.create(username="newcomer", email="new@example.org")
        with reversion.create_revision(using=round_trip.target):
            reversion.set_user(user)
            book = RareBook.objects.create(
                sku="RARE-NEW",
                title="after the load",
                price=Decimal("9.99"),
                added_at=BASE_TIME,
                isbn="978-2-000000-0",
                pages=10,
                provenance="new",
                appraised_at=BASE_TIME,
                scan=b"\x00",
            )
        Comment.objects.create(
            content_object=book, author=user, body="new", posted_at=BASE_TIME
        )
        assign_perm("catalog.view_rarebook", user, book)
        book.tags.add("brand new", "classic")
        assert user.has_perm("catalog.view_rarebook", book)
        assert sorted(RareBook.objects.get(pk=book.pk).tags.names()) == [
            "brand new",
            "classic",
        ]
