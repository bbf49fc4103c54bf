"""What every diskette command shares: error handling and the reporter."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from diskette.exceptions import DisketteError
from diskette.interrupts import exit_status, handled_signals
from diskette.reporter import StreamReporter


class DisketteCommand(BaseCommand):
    """A command that turns every DisketteError into one line and its exit status."""

    # Like dumpdata and loaddata: the API checks the settings it reads (and skips
    # those an option replaces), so a broken DISKETTE_APPS cannot block a load.
    requires_system_checks: list = []
    #: Whether the command warns first about a load awaiting its recovery
    #: (diskette_load and diskette_recover finish it themselves).
    checks_pending = True

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            with handled_signals():
                if self.checks_pending:
                    self._warn_pending(options.get("stderr") or sys.stderr)
                return super().execute(*args, **options)
        except DisketteError as error:
            if options.get("traceback"):
                raise
            raise CommandError(str(error), returncode=error.exit_code) from error
        except KeyboardInterrupt as interrupt:
            # The core lets an interrupt through only where nothing was changed
            # yet; past a commit it raises a DisketteError that says so instead.
            if options.get("traceback"):
                raise
            raise CommandError(
                "interrupted: nothing was changed", returncode=exit_status(interrupt)
            ) from None

    def _warn_pending(self, stream) -> None:
        """Say so while a load interrupted after its commit awaits its finish."""
        from diskette.restore.recovery import pending_warning, search_directories

        try:
            message = pending_warning(search_directories())
        except (TypeError, ValueError, OSError):
            return  # a broken path setting: the command's own checks report it
        if message:
            OutputWrapper(stream).write(f"warning: {message}")

    def reporter(
        self, options: dict[str, Any], *, quiet: bool = False
    ) -> StreamReporter:
        """A reporter on this command's streams; ``quiet`` keeps stdout for JSON output."""
        verbosity = 0 if quiet else options.get("verbosity", 1)
        return StreamReporter(
            verbosity=verbosity,
            out=self.stdout,
            err=self.stderr,
            style=self.style,
            interactive=getattr(sys.stderr, "isatty", lambda: False)(),
        )

    def write_json(self, payload: Any) -> None:
        """Print one JSON object on stdout, for ``--json``."""
        self.stdout.write(
            json.dumps(payload, indent=2, default=str, ensure_ascii=False)
        )
