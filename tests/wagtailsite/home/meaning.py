"""What the site means, as plain data that two databases can be compared by.

Primary keys survive a load; content type and permission ids do not (each
database numbers them as its migrations went). So every value that names a
content type, wherever it is (foreign keys, ``WorkflowContentType``'s primary key,
the ``content_type`` inside a revision's JSON), and every permission is written
as its natural key. Beyond the rows, the meaning holds what Wagtail makes of them:
the class and title of each revision's object, each page's specific class and
workflow, the trees' problems, the files' SHA-256 and the site settings.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models.fields.files import FieldFile
from taggit.managers import TaggableManager
from wagtail.contrib.settings.models import BaseSiteSetting
from wagtail.documents.models import Document
from wagtail.fields import StreamField
from wagtail.images.models import Image
from wagtail.models import Collection, Page, Revision, Site, WorkflowContentType

from tests.wagtailsite.home.scope import meaning_models

Key = str


class Names:
    """Natural keys of this database's content types and permissions, by id."""

    def __init__(self) -> None:
        self.content_types = {
            ct.pk: f"{ct.app_label}.{ct.model}" for ct in ContentType.objects.all()
        }
        self.permissions = {
            pk: f"{app_label}.{model}.{codename}"
            for pk, app_label, model, codename in Permission.objects.values_list(
                "pk", "content_type__app_label", "content_type__model", "codename"
            )
        }

    def name(self, model: type[models.Model], pk: Any) -> Any:
        if pk is None:
            return None
        if model is ContentType:
            return self.content_types.get(pk, f"unknown content type {pk}")
        if model is Permission:
            return self.permissions.get(pk, f"unknown permission {pk}")
        return pk


def site_meaning() -> dict[str, Any]:
    """The whole meaning; read-only (what could write is rolled back)."""
    names = Names()
    with transaction.atomic():
        meaning = {
            "rows": {
                model._meta.label: rows(model, names) for model in meaning_models()
            },
            "revisions": revisions(),
            "pages": pages(),
            "tree_problems": {
                "wagtailcore.Page": _problems(Page),
                "wagtailcore.Collection": _problems(Collection),
            },
            "files": files(),
            "site_settings": site_settings(),
            "content_type_workflows": content_type_workflows(),
        }
        transaction.set_rollback(True)
    return normalised(meaning)


def rows(model: type[models.Model], names: Names) -> dict[Key, dict[str, Any]]:
    """Every row of ``model`` by primary key, every concrete field and M2M."""
    found = {}
    many = [
        field
        for field in model._meta.many_to_many
        if not isinstance(field, TaggableManager)  # its through model has the rows
    ]
    queryset = model._base_manager.order_by("pk").prefetch_related(
        *(field.name for field in many)
    )
    for obj in queryset:
        row = {
            field.name: value(obj, field, names)
            for field in model._meta.concrete_fields
        }
        for field in many:
            related = field.related_model
            row[field.name] = sorted(
                str(names.name(related, pk))
                for pk in (item.pk for item in getattr(obj, field.name).all())
            )
        if isinstance(obj, Revision):
            row["content"] = _revision_content(row["content"], names)
        found[_row_key(model, obj, names)] = row
    return found


def _row_key(model: type[models.Model], obj: models.Model, names: Names) -> Key:
    """A row's primary key; a content type as primary key is named."""
    pk_field = model._meta.pk
    if pk_field.is_relation:
        return str(names.name(pk_field.related_model, obj.pk))
    return str(obj.pk)


def value(obj: models.Model, field: models.Field, names: Names) -> Any:
    """One field's value as plain data, content types and permissions by name."""
    if field.is_relation:
        return names.name(field.related_model, getattr(obj, field.attname))
    raw = field.value_from_object(obj)
    if isinstance(field, StreamField):
        return json.loads(json.dumps(field.get_prep_value(raw), cls=DjangoJSONEncoder))
    return plain(raw)


def plain(raw: Any) -> Any:
    if raw is None or isinstance(raw, (bool, int, float, str, list, dict)):
        return raw
    if isinstance(raw, datetime):
        return raw.astimezone(UTC).isoformat() if raw.tzinfo else raw.isoformat()
    if isinstance(raw, (date, time)):
        return raw.isoformat()
    if isinstance(raw, (Decimal, UUID)):
        return str(raw)
    if isinstance(raw, FieldFile):
        return raw.name or None
    if isinstance(raw, (bytes, memoryview)):
        return bytes(raw).hex()
    return str(raw)


def _revision_content(content: Any, names: Names) -> Any:
    """A revision's object, with its content type named (the JSON holds an id)."""
    if isinstance(content, dict) and "content_type" in content:
        content = {
            **content,
            "content_type": names.name(ContentType, content["content_type"]),
        }
    return content


def revisions() -> dict[Key, dict[str, Any]]:
    """What each revision gives back: the object's class and title."""
    found = {}
    for revision in Revision.objects.order_by("pk"):
        obj = revision.as_object()
        cls = type(obj)
        found[str(revision.pk)] = {
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "title": getattr(obj, "title", str(obj)),
        }
    return found


def pages() -> dict[Key, dict[str, Any]]:
    """Each page's specific class, URL path and the workflow it resolves to."""
    found = {}
    for page in Page.objects.order_by("pk"):
        workflow = page.get_workflow()
        cls = page.specific_class
        found[str(page.pk)] = {
            "specific_class": cls._meta.label if cls else None,
            "specific_title": page.specific.title,
            "url_path": page.url_path,
            "workflow": workflow.name if workflow else None,
        }
    return found


def _problems(model: type[models.Model]) -> list[list[Any]]:
    return [sorted(str(item) for item in group) for group in model.find_problems()]


def files() -> dict[Key, str]:
    """SHA-256 of every image and document file (``missing`` when it is not there)."""
    found = {}
    for model in (Image, Document):
        for obj in model.objects.order_by("pk"):
            key = f"{model._meta.label}:{obj.pk}:{obj.file.name}"
            try:
                with obj.file.open("rb") as handle:
                    found[key] = hashlib.sha256(handle.read()).hexdigest()
            except FileNotFoundError:
                found[key] = "missing"
    return found


def site_settings() -> dict[Key, dict[str, Any]]:
    """Each site setting model's values as ``for_site`` gives them, per site."""
    found: dict[Key, dict[str, Any]] = {}
    setting_models = [
        model for model in meaning_models() if issubclass(model, BaseSiteSetting)
    ]
    for site in Site.objects.order_by("pk"):
        for model in setting_models:
            instance = model.for_site(site)  # may create: the caller rolls back
            found[f"{site.hostname}:{site.port} {model._meta.label}"] = {
                field.name: plain(field.value_from_object(instance))
                for field in model._meta.concrete_fields
                if field.name not in ("id", "site")
            }
    return found


def content_type_workflows() -> dict[Key, str | None]:
    """The workflow each model's content type resolves to, as Wagtail looks it up."""
    found = {}
    for model in meaning_models():
        content_type = ContentType.objects.get_for_model(model)
        link = WorkflowContentType.objects.filter(content_type=content_type).first()
        if link is not None:
            found[model._meta.label] = link.workflow.name
    return found


def content_type_ids() -> dict[Key, int]:
    """This database's content type ids by natural key (they differ between sites)."""
    return {
        f"{ct.app_label}.{ct.model}": ct.pk
        for ct in ContentType.objects.order_by("app_label", "model")
    }


def derived(query: str) -> dict[str, Any]:
    """What the site derives from its content: search results and renditions.

    Run on a target after ``update_index``: the archive holds neither the index
    nor the renditions' rows, and the site makes both again.
    """
    from tests.wagtailsite.home.models import BlogPage
    from tests.wagtailsite.home.seeding import RENDITION_SPEC

    renditions = {}
    for image in Image.objects.order_by("pk"):
        rendition = image.get_rendition(RENDITION_SPEC)
        with rendition.file.open("rb") as handle:
            content = handle.read()
        renditions[str(image.pk)] = {
            "size": [rendition.width, rendition.height],
            "bytes": len(content),
        }
    found = BlogPage.objects.live().search(query)
    return normalised(
        {
            "search": sorted(page.title for page in found),
            "renditions": renditions,
        }
    )


def normalised(data: Any) -> Any:
    """JSON round trip with sorted keys: what two databases compare by."""
    return json.loads(json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder))
