"""Django's in-memory caches of rows a load may have changed or rolled back.

Content types and sites are cached per process: after a flush, a failed load or
a rehearsal their cached rows may no longer be the database's.
"""

from __future__ import annotations

from django.apps import apps


def clear_caches() -> None:
    """Forget cached content types and sites: their rows may have changed."""
    if apps.is_installed("django.contrib.contenttypes"):
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()
    if apps.is_installed("django.contrib.sites"):
        from django.contrib.sites.models import Site

        Site.objects.clear_cache()
