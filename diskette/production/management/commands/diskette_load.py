"""``diskette_load`` on a production site: refused, in one line that says why."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from diskette.production import PRODUCTION_APP

#: The exit status of the refusal: the site's configuration says no.
REFUSED = 3
MESSAGE = (
    f"diskette_load is disabled on this site: INSTALLED_APPS has '{PRODUCTION_APP}', "
    "which leaves loads out; install 'diskette' instead on a site that may be "
    "loaded into"
)


class Command(BaseCommand):
    help = f"Not available on this site: INSTALLED_APPS has '{PRODUCTION_APP}'."
    requires_system_checks: list = []

    def run_from_argv(self, argv: list[str]) -> None:
        """Whatever options a load is given, the answer is the same one line."""
        self.stderr.write(f"CommandError: {MESSAGE}")
        sys.exit(REFUSED)

    def handle(self, *args: Any, **options: Any) -> None:
        raise CommandError(MESSAGE, returncode=REFUSED)
