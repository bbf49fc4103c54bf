"""A round trip through diskette: seed a source database, dump it, load a target.

Each vendor has a source and a target alias (see ``settings.py``). The source's
content types are renumbered before seeding (:func:`scramble_content_types`), so
that a target migrated as usual numbers every content type differently, and the
round trip is checked for what ids mean, not for what they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import models

from diskette import api
from diskette.api.loading import LoadResult
from tests.pgcluster import skip_reason
from tests.realsite.accounts.models import User
from tests.realsite.catalog.models import Item, Warehouse
from tests.realsite.routers import pinned
from tests.realsite.seeding import BASE_TIME, scramble_content_types, seed_realsite

#: Source and target alias of each vendor.
VENDORS = {
    "sqlite": ("default", "target"),
    "postgresql": ("postgres", "postgres_target"),
}
#: ``DISKETTE_APPS`` (INSTALLED_APPS order: natural keys of users point forward,
#: to the last data file) and the same definitions with the users' first; see
#: :func:`definitions` for ``generated``.
ORDERS = {
    "installed": settings.DISKETTE_APPS,
    "users-first": [
        settings.DISKETTE_APPS[0],
        settings.DISKETTE_APPS[-1],
        *settings.DISKETTE_APPS[1:-1],
    ],
}
#: The aliases of this run: PostgreSQL's only when the cluster is there.
ALIASES = [
    alias for pair in VENDORS.values() for alias in pair if alias in settings.DATABASES
]


def definitions(order: str) -> list:
    """The definitions of an order; ``generated`` is what ``diskette_apps`` prints
    for this project (content types left out: migrate creates them)."""
    if order != "generated":
        return ORDERS[order]
    out = StringIO()
    call_command(
        "diskette_apps", "--exclude", "contenttypes", stdout=out, stderr=StringIO()
    )
    return json.loads(out.getvalue())


def vendor_aliases(vendor: str) -> tuple[str, str]:
    """``(source, target)`` of a vendor; skips when its databases are absent."""
    source, target = VENDORS[vendor]
    if source not in settings.DATABASES:
        pytest.skip(skip_reason() or f"no {source!r} database alias")
    return source, target


def content_type_ids(using: str) -> dict[str, int]:
    return {
        f"{app_label}.{model}": pk
        for pk, app_label, model in models.QuerySet(
            ContentType, using=using
        ).values_list("pk", "app_label", "model")
    }


def add_leftovers(using: str) -> None:
    """Rows a used target holds before a flushed load: none may survive it."""
    with pinned(using):
        Group.objects.create(name="leftover group")
        User.objects.create(username="leftover", email="left@example.org")
        Warehouse.objects.create(code="OLD-99", name="closed", opens_at=time(8))
        Item.objects.create(
            sku="LEFT-1", title="leftover", price=Decimal("1.00"), added_at=BASE_TIME
        )


@dataclass
class RoundTrip:
    """A seeded source and a target; :meth:`load` dumps and loads (once)."""

    source: str
    target: str
    flush: bool
    directory: Path
    order: str = "installed"
    result: LoadResult | None = field(default=None, init=False)
    archive: Path | None = field(default=None, init=False)

    def load(self) -> LoadResult:
        if self.result is None:
            self.archive = api.dump(
                destination=self.directory / "dumps",
                using=self.source,
                definitions=definitions(self.order),
                with_storages=False,
            ).path
            self.result = api.load(
                self.archive,
                storages_basepath=self.directory / "site",
                using=self.target,
                flush=self.flush,
                with_storages=False,
            )
        return self.result


def prepare(
    source: str, target: str, flush: bool, directory: Path, order: str = "installed"
) -> RoundTrip:
    """Seed ``source`` (content types renumbered first) and ready ``target``."""
    scramble_content_types(source)
    seed_realsite(source)
    before, after = content_type_ids(source), content_type_ids(target)
    assert before.keys() == after.keys()
    same = [label for label in before if before[label] == after[label]]
    assert not same, f"content types with the same id in both databases: {same}"
    assert all(m._base_manager.using(source).exists() for m in seeded_models())
    if flush:
        add_leftovers(target)
    ContentType.objects.clear_cache()
    return RoundTrip(source, target, flush, directory, order)


def seeded_models() -> list[type[models.Model]]:
    """The models the seeding fills (every model but the content types' own)."""
    return [
        m
        for m in apps.get_models()
        if m._meta.app_label
        in ("catalog", "accounts", "taggit", "guardian", "reversion")
    ]
