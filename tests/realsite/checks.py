"""Each third-party app's own view of its data, to compare a source and a target.

A row-by-row match says the tables are equal; these say the apps agree: mptt and
treebeard find their trees sound, reversion reverts each version to the same
object, guardian grants the same object permissions, taggit finds the same tags,
polymorphic querysets return the same classes. Each function runs the app's own
code pinned to one database and returns something comparable by meaning.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from guardian.core import ObjectPermissionChecker
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import get_perms
from reversion.models import Version
from taggit.managers import TaggableManager

from tests.realsite.accounts.models import User
from tests.realsite.catalog.models import Book, Category, Item, RareBook, Section
from tests.realsite.compare import Meaning, table
from tests.realsite.routers import pinned


def mptt_columns(using: str) -> list[tuple]:
    return list(
        models.QuerySet(Category, using=using)
        .order_by("pk")
        .values_list("pk", "parent_id", "tree_id", "lft", "rght", "level")
    )


def mptt_rebuild(using: str) -> tuple[list[tuple], list[tuple]]:
    """The tree columns before and after mptt's ``rebuild()``."""
    before = mptt_columns(using)
    with pinned(using):
        Category.objects.rebuild()
    return before, mptt_columns(using)


def treebeard_columns(using: str) -> list[tuple]:
    return list(
        models.QuerySet(Section, using=using)
        .order_by("pk")
        .values_list("pk", "path", "depth", "numchild", "name")
    )


def treebeard_problems(using: str) -> tuple:
    """``find_problems()``'s five lists (all empty for a sound tree)."""
    with pinned(using):
        return tuple(list(problems) for problems in Section.find_problems())


def treebeard_fix(using: str) -> tuple[list[tuple], list[tuple]]:
    """The tree columns before and after treebeard's ``fix_tree()``."""
    before = treebeard_columns(using)
    with pinned(using):
        Section.fix_tree()
    return before, treebeard_columns(using)


def reverted(using: str) -> list[tuple]:
    """Revert every version in turn; what each revert wrote, by meaning.

    ``Version.revert()`` writes into the database named by the version's ``db``
    field, the source's alias here: each version is reverted into ``using`` as
    a site reverts into its own database. Everything is rolled back afterwards.
    """
    meaning = Meaning.of(using)
    outcome = []
    with pinned(using):
        savepoint = transaction.savepoint(using=using)
        try:
            for version in Version.objects.using(using).order_by("pk"):
                model = version._model
                version.db = using
                version.revert()
                pk = model._meta.pk.to_python(version.object_id)
                row = table(model, using, meaning, pk=pk).get(pk)
                outcome.append((version.pk, model._meta.label, version.object_id, row))
        finally:
            transaction.savepoint_rollback(savepoint, using=using)
    return outcome


def version_fields(using: str) -> list[tuple]:
    """Each version's ``field_dict`` (it follows parent links by content type).

    Tags are left out: taggit's manager is not versioned, ``field_dict`` hands
    back the live manager of the object.
    """
    meaning = Meaning.of(using)
    result = []
    with pinned(using):
        for version in Version.objects.using(using).order_by("pk"):
            model = version._model
            fields = {}
            for name, value in version.field_dict.items():
                field = model._meta.get_field(name)
                if isinstance(field, TaggableManager):
                    continue
                if field.related_model is ContentType:
                    value = meaning.content_type(getattr(value, "pk", value))
                elif field.many_to_many:
                    value = sorted(getattr(v, "pk", v) for v in value)
                fields[name] = value
            result.append((version.pk, model._meta.label, fields))
    return result


def _object(using: str, content_type: tuple[str, str], object_pk: str):
    ct = ContentType.objects.db_manager(using).get_by_natural_key(*content_type)
    model = ct.model_class()
    return model._base_manager.using(using).get(pk=model._meta.pk.to_python(object_pk))


def guardian_grants(using: str) -> dict[tuple, Any]:
    """For every object permission of a user or a group: the object it names, what
    ``get_perms`` lists for that holder and object, and whether the permission is
    granted (``user.has_perm``, or guardian's checker for a group)."""
    meaning = Meaning.of(using)
    grants: dict[tuple, Any] = {}
    with pinned(using):
        for model, holder in (
            (UserObjectPermission, "user"),
            (GroupObjectPermission, "group"),
        ):
            rows = model.objects.using(using).values_list(
                f"{holder}_id", "content_type_id", "object_pk", "permission__codename"
            )
            for holder_pk, ct_pk, object_pk, codename in rows:
                content_type = meaning.content_type(ct_pk)
                obj = _object(using, content_type, object_pk)
                if holder == "user":
                    who = User.objects.get(pk=holder_pk)
                    name = who.username
                    granted = who.has_perm(f"{content_type[0]}.{codename}", obj)
                else:
                    who = Group.objects.get(pk=holder_pk)
                    name = who.name
                    granted = ObjectPermissionChecker(who).has_perm(codename, obj)
                key = (holder, name, content_type, object_pk, codename)
                grants[key] = (str(obj), sorted(get_perms(who, obj)), granted)
    return grants


def taggit_tags(using: str) -> dict[str, Any]:
    """Each item's tag names, and the items each tag name finds."""
    with pinned(using):
        items = {item.sku: sorted(item.tags.names()) for item in Item.objects.all()}
        names = sorted({name for tags in items.values() for name in tags})
        found = {
            name: sorted(
                Item.objects.filter(tags__name=name).values_list("sku", flat=True)
            )
            for name in names
        }
    return {"items": items, "found": found}


def polymorphic_view(using: str) -> dict[str, Any]:
    """What polymorphic querysets return: classes, subclass queries, relations."""
    with pinned(using):
        objects = list(Item.objects.order_by("pk"))
        return {
            "classes": [(o.pk, type(o)._meta.label) for o in objects],
            "books": sorted(
                Item.objects.instance_of(Book).values_list("pk", flat=True)
            ),
            "rare": sorted(
                Book.objects.instance_of(RareBook).values_list("pk", flat=True)
            ),
            "fields": [
                (
                    o.pk,
                    [
                        (f.attname, _plain(getattr(o, f.attname)))
                        for f in o._meta.concrete_fields
                        if f.attname != "polymorphic_ctype_id"
                    ],
                )
                for o in objects
            ],
            "related": [
                (o.pk, sorted(type(r)._meta.label for r in o.related.all()))
                for o in objects
            ],
            "comments": [
                (o.pk, sorted(c.body for c in o.comments.all())) for o in objects
            ],
        }


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value
