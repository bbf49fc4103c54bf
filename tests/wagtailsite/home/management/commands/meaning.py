"""``manage.py meaning``: print what the site means as JSON, comparable across databases."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from tests.wagtailsite.home.meaning import content_type_ids, derived, site_meaning

PARTS = ("meaning", "content_type_ids", "derived")


class Command(BaseCommand):
    help = (
        "Print a JSON object of the parts asked for: 'meaning' (every row, content "
        "types and permissions by natural key, revisions, pages, trees, files, "
        "settings, workflows), 'content_type_ids' (this database's ids, which differ "
        "between sites) and 'derived' (search results and renditions, made when "
        "missing)."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--part",
            action="append",
            choices=PARTS,
            dest="parts",
            help="A part to print (repeatable; default: meaning).",
        )
        parser.add_argument(
            "--query",
            default="post",
            help="What the 'derived' part searches the live blog pages for.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        makers = {
            "meaning": site_meaning,
            "content_type_ids": content_type_ids,
            "derived": lambda: derived(options["query"]),
        }
        data = {part: makers[part]() for part in options["parts"] or ["meaning"]}
        self.stdout.write(json.dumps(data, indent=1, sort_keys=True))
