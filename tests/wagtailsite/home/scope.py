"""Which models hold what the site means, and which ones are derived from them.

The meaning of the site is the rows of its own app, of Wagtail's apps, of taggit
and of ``auth``'s users and groups. Derived rows (renditions, the search index,
the reference index, editing sessions, the oEmbed cache) are made again by the
target and so are left out, as are content types and permissions themselves:
rows name them by natural key instead.
"""

from __future__ import annotations

from django.apps import apps
from django.db.models import Model

#: Model labels (lower case) whose rows the target derives again.
DERIVED = frozenset(
    {
        "wagtailimages.rendition",
        "wagtailsearch.indexentry",
        "wagtailsearch.sqliteftsindexentry",
        "wagtailcore.referenceindex",
        "wagtailadmin.editingsession",
        "wagtailembeds.embed",
    }
)
#: Recreated by migrate under other ids: referred to by natural key only.
BY_NATURAL_KEY = frozenset({"contenttypes.contenttype", "auth.permission"})


def in_scope(label: str) -> bool:
    """Whether an app label belongs to what the site means."""
    return label in {"home", "taggit", "auth"} or label.startswith("wagtail")


def meaning_models() -> list[type[Model]]:
    """Concrete, managed models of the site's meaning, in app registry order."""
    return [
        model
        for model in apps.get_models()
        if in_scope(model._meta.app_label)
        and model._meta.managed
        and not model._meta.proxy
        and model._meta.label_lower not in DERIVED | BY_NATURAL_KEY
    ]
