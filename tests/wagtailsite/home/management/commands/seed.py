"""``manage.py seed``: flush the database, then create the deterministic test site."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tests.wagtailsite.home.seeding import seed_site


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = (
        "Flush the database (content types are recreated in another order than "
        "migrate made them), then create the test site: pages with revisions, "
        "images, documents, tags, workflows, users, settings."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = seed_site()
        if options["verbosity"]:
            total = sum(counts.values())
            self.stdout.write(f"Seeded {total} rows in {len(counts)} models")
