"""Deterministic data for the realsite project, written through each app's own API.

Rows are made the way a site makes them: polymorphic objects at every level of the
hierarchy, mptt and treebeard nodes added and moved through their managers,
``reversion.create_revision()`` around edits (several versions per object),
guardian's ``assign_perm`` for users and groups, taggit's ``tags.add``. Every value
comes from a seeded ``random.Random``, and datetimes and times carry microseconds
that are not whole milliseconds.

:func:`scramble_content_types` first gives the source database its content types
and permissions under other ids than a freshly migrated database has, as on a site
whose apps were installed over the years: a load that carried raw content type
ids over would then point them at the wrong models.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import reversion
from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.management import create_contenttypes
from django.contrib.contenttypes.models import ContentType
from guardian.shortcuts import assign_perm

from tests.realsite.accounts.models import Profile, User
from tests.realsite.catalog.models import (
    Book,
    Category,
    Comment,
    Dashboard,
    Gadget,
    Item,
    RareBook,
    Section,
    Shelf,
    Warehouse,
)
from tests.realsite.routers import pinned

#: Seeded datetimes start here: the night New York's clocks go forward.
BASE_TIME = datetime(2024, 3, 10, 6, 0, tzinfo=timezone.utc)
TAGS = ["classic", "Sci-Fi", "café", "first edition", "signed", "refurbished"]


def microseconds(rng: random.Random) -> int:
    """A microsecond count that is never a whole number of milliseconds."""
    return rng.randrange(1000) * 1000 + rng.randrange(1, 1000)


def moment(rng: random.Random, hours: int) -> datetime:
    return BASE_TIME + timedelta(hours=hours, microseconds=microseconds(rng))


def clock(rng: random.Random) -> time:
    return time(
        rng.randrange(24), rng.randrange(60), rng.randrange(60), microseconds(rng)
    )


def scramble_content_types(using: str, seed: int = 7) -> None:
    """Recreate every content type and permission under new, shuffled ids.

    Three retired content types take ids first and are removed again, so no id
    of the source matches the one a fresh ``migrate`` gives the same model.
    """
    rng = random.Random(seed)
    ContentType.objects.using(using).all().delete()
    ghosts = [
        ContentType.objects.using(using).create(app_label="retired", model=f"gone{i}")
        for i in range(3)
    ]
    labels = [(m._meta.app_label, m._meta.model_name) for m in apps.get_models()]
    rng.shuffle(labels)
    for app_label, model in labels:
        ContentType.objects.using(using).create(app_label=app_label, model=model)
    ContentType.objects.using(using).filter(pk__in=[g.pk for g in ghosts]).delete()
    ContentType.objects.clear_cache()
    configs = list(apps.get_app_configs())
    rng.shuffle(configs)
    for config in configs:
        create_contenttypes(config, verbosity=0, using=using)
        create_permissions(config, verbosity=0, using=using)


def seed_realsite(using: str, seed: int = 1) -> dict[str, int]:
    """Fill every model of the project on ``using``; return rows per model label."""
    with pinned(using):
        _seed(random.Random(seed), using)
    return {
        model._meta.label: model._base_manager.using(using).count()
        for model in apps.get_models()
    }


def _seed(rng: random.Random, using: str) -> None:
    groups = [Group.objects.create(name=name) for name in ("editors", "curators")]
    groups.append(Group.objects.create(name="visitors"))
    catalog_perms = list(
        Permission.objects.filter(content_type__app_label="catalog").order_by(
            "codename"
        )
    )
    groups[0].permissions.set(rng.sample(catalog_perms, 5))
    users = []
    for i in range(8):
        user = User.objects.create(
            username=f"user{i:02}",
            email=f"user{i:02}@example.org",
            password=make_password("secret", salt=f"salt{i:04}"),
            display_name=["Zoë", "Åsa", "李", "Ngozi"][i % 4] + f" {i}",
            is_staff=i % 3 == 0,
            date_joined=moment(rng, -1000 + i),
            last_login=moment(rng, i) if i % 2 else None,
        )
        user.groups.set(rng.sample(groups, rng.randrange(1, 3)))
        user.user_permissions.set(rng.sample(catalog_perms, 2))
        users.append(user)

    warehouses = [
        Warehouse.objects.create(code=code, name=name, opens_at=clock(rng))
        for code, name in (
            ("PAR-01", "Paris"),
            ("NYC-02", "Queens"),
            ("TYO-03", "Koto"),
        )
    ]
    shelves = [
        Shelf.objects.create(warehouse=w, number=n, label=f"{w.code} shelf {n}")
        for w in warehouses
        for n in (1, 2, 3)
    ]

    categories = _categories()
    sections = _sections()
    for index, user in enumerate(users[:5]):
        Profile.objects.create(
            user=user,
            bio=f"Reader number {index}\nwith two lines",
            favourite_category=rng.choice(categories),
            avatar=bytes(rng.randrange(256) for _ in range(24)),
            last_seen=moment(rng, 100 + index) if index % 2 else None,
        )

    with reversion.create_revision(using=using):
        reversion.set_user(users[1])
        reversion.set_comment("initial catalog")
        reversion.set_date_created(moment(rng, 200))
        items = _items(rng, shelves, categories, sections)
        for warehouse in warehouses:
            warehouse.save()
    for item in items:
        item.related.set(rng.sample([i for i in items if i != item], rng.randrange(3)))
        item.tags.add(*rng.sample(TAGS, rng.randrange(4)))

    commented = [*items[::3], *categories[::2]]
    for index, target in enumerate(commented):
        Comment.objects.create(
            content_object=target,
            author=rng.choice(users),
            body=f"comment {index} on {target}",
            posted_at=moment(rng, 300 + index),
        )
    dashboards = []
    with reversion.create_revision(using=using):
        reversion.set_user(users[0])
        reversion.set_comment("dashboards")
        reversion.set_date_created(moment(rng, 400))
        for index, user in enumerate(users[:4]):
            dashboards.append(
                Dashboard.objects.create(
                    owner=user,
                    name=f"board {index}",
                    layout=_layout(rng, items, categories),
                    refreshed_at=moment(rng, 410 + index),
                )
            )

    # Later revisions: several versions of the same objects.
    for round_ in range(3):
        with reversion.create_revision(using=using):
            reversion.set_user(users[round_ + 2])
            reversion.set_comment(f"edit round {round_}")
            reversion.set_date_created(moment(rng, 500 + round_))
            for item in rng.sample(items, 6):
                item.price += Decimal("1.05")
                item.title = f"{item.title} (rev {round_})"
                item.save()
            for comment in Comment.objects.order_by("pk")[:3]:
                comment.body += f" / edited {round_}"
                comment.save()
            board = dashboards[round_]
            board.layout = _layout(rng, items, categories)
            board.save()
            category = categories[round_]
            category.name += "*"
            category.save()

    _permissions(rng, users, groups, items, categories, warehouses)


def _categories() -> list[Category]:
    """Three mptt trees; one subtree is moved, so ids and tree order differ."""
    roots = [Category.objects.create(name=n) for n in ("Books", "Devices", "Archive")]
    for root in roots:
        for name in ("new", "used", "gifts"):
            child = Category.objects.create(name=f"{root.name}/{name}", parent=root)
            Category.objects.create(name=f"{child.name}/top", parent=child)
    mover = Category.objects.get(name="Archive/used")
    mover.move_to(Category.objects.get(name="Books"), "first-child")
    return list(Category.objects.order_by("pk"))


def _sections() -> list[Section]:
    """A treebeard tree of two roots, with a node moved to another parent."""
    floor1 = Section.add_root(name="Floor 1")
    floor2 = Section.add_root(name="Floor 2")
    for floor in (floor1, floor2):
        floor = Section.objects.get(pk=floor.pk)
        for name in ("north", "south", "east"):
            wing = floor.add_child(name=f"{floor.name} {name}")
            wing.add_child(name=f"{wing.name} aisle")
    moving = Section.objects.get(name="Floor 2 east")
    moving.move(Section.objects.get(name="Floor 1"), "last-child")
    return list(Section.objects.order_by("pk"))


def _items(rng, shelves, categories, sections) -> list[Item]:
    """Rows at every level of the polymorphic hierarchy."""

    def common(prefix: str, index: int) -> dict:
        return {
            "sku": f"{prefix}-{index:03}",
            "title": f"{prefix} number {index}",
            "price": Decimal(rng.randrange(100, 100000)) / 100,
            "added_at": moment(rng, index * 5),
            "shelf": rng.choice([*shelves, None]),
            "category": rng.choice(categories),
            "section": rng.choice([*sections, None]),
        }

    for index in range(4):
        Item.objects.create(**common("ITEM", index))
        Book.objects.create(
            **common("BOOK", index),
            isbn=f"978-0-{rng.randrange(10**6):06}-{index}",
            pages=rng.randrange(40, 900),
        )
        Gadget.objects.create(
            **common("GADGET", index),
            voltage=Decimal(rng.randrange(1000, 240000)) / 1000,
            charge_time=clock(rng),
        )
        if index < 3:
            RareBook.objects.create(
                **common("RARE", index),
                isbn=f"978-1-{rng.randrange(10**6):06}-{index}",
                pages=rng.randrange(40, 900),
                provenance=f"Estate sale {index}\n\tnotes: ¶",
                appraised_at=moment(rng, 50 + index),
                scan=bytes([0, 255, 10, 13, index]) + rng.randbytes(40),
            )
    return list(Item.objects.order_by("pk"))


def _layout(rng, items, categories) -> dict:
    """A dashboard's JSON: content type ids as a real site stores them."""
    pinned_objects = [*rng.sample(items, 2), rng.choice(categories)]
    kinds = [Item, Book, RareBook, Gadget, Category, Comment]
    return {
        "columns": rng.randrange(1, 4),
        "models": [
            ContentType.objects.get_for_model(m).pk for m in rng.sample(kinds, 3)
        ],
        "pinned": [
            {"content_type": ContentType.objects.get_for_model(o).pk, "object_id": o.pk}
            for o in pinned_objects
        ],
        "title": "Überblick",
    }


def _permissions(rng, users, groups, items, categories, warehouses) -> None:
    """Object permissions for users and groups, on items of every class."""
    for user in users[:4]:
        for obj in rng.sample(items, 2):
            action = rng.choice(["view", "change", "delete"])
            assign_perm(f"catalog.{action}_{obj._meta.model_name}", user, obj)
        assign_perm("catalog.change_warehouse", user, rng.choice(warehouses))
    for group in groups:
        for category in rng.sample(categories, 2):
            assign_perm("catalog.view_category", group, category)
        item = rng.choice(items)
        assign_perm(f"catalog.change_{item._meta.model_name}", group, item)
