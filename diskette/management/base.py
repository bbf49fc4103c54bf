"""What every diskette command shares: error handling and the reporter."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from diskette.exceptions import DisketteError
from diskette.interrupts import exit_status, handled_signals
from diskette.reporter import StreamReporter

#: How a command's user spells what the core's messages name by its Python
#: argument: the core speaks to Python callers, the commands translate (the
#: texts are exact, so that a message reads as the command printed it before).
FLAGS: Mapping[str, str] = {
    "exclude_data": "--exclude-data",
    "storages_basepath": "--storages-basepath",
    "storages_mode='replace'": "--storages-mode replace",
    "ignore_migrations=True": "--ignore-migrations",
    "flush=True": "--flush",
    "exact:": "--exact-model",
    "with_storages=False": "--no-storages",
    "ignorenonexistent=True": "--ignorenonexistent",
    "checksum=": "--checksum ",
    "storages=[...]": "--storage",
    "storages_excludes": "--storages-exclude",
}


def command_words(message: str, flags: Mapping[str, str] = FLAGS) -> str:
    """``message`` with each Python spelling of ``flags`` as the command's flag.

    A spelling inside a longer name is left alone, and so is one the message
    already follows with its flag (``flush=True (--flush)``).
    """
    for spelling, flag in flags.items():
        pattern = (
            rf"(?<![\w-]){re.escape(spelling)}(?!\w)(?!\W{{1,3}}{re.escape(flag)})"
        )
        message = re.sub(pattern, lambda _match, flag=flag: flag, message)
    return message


class _CommandReporter(StreamReporter):
    """A stream reporter whose messages name the command's flags, and that keeps
    every warning it was given, for ``--json`` (``said``)."""

    def __init__(self, flags: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flags = flags
        self.said: list[str] = []

    def info(self, message: str) -> None:
        super().info(command_words(message, self.flags))

    def detail(self, message: str) -> None:
        super().detail(command_words(message, self.flags))

    def warning(self, message: str) -> None:
        message = command_words(message, self.flags)
        self.said.append(message)
        super().warning(message)


class DisketteCommand(BaseCommand):
    """A command that turns every DisketteError into one line and its exit status."""

    # Like dumpdata and loaddata: the API checks the settings it reads (and skips
    # those an option replaces), so a broken DISKETTE_APPS cannot block a load.
    requires_system_checks: list = []
    #: Whether the command warns first about a load awaiting its recovery
    #: (diskette_load and diskette_recover finish it themselves).
    checks_pending = True
    #: The translation of the core's argument names into this command's flags
    #: (a command with flags of its own extends it: ``{**FLAGS, ...}``).
    flags: ClassVar[Mapping[str, str]] = FLAGS
    #: The reporter of this run, once made (its warnings go into the JSON).
    _reporter: _CommandReporter | None = None
    #: Whether this run printed its JSON object (an error then adds none).
    _json_written = False

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            with handled_signals():
                if self.checks_pending:
                    self._warn_pending(options.get("stderr") or sys.stderr)
                return super().execute(*args, **options)
        except DisketteError as error:
            if options.get("traceback"):
                raise
            message = self.words(str(error))
            self._json_error(options, message, error.exit_code)
            raise CommandError(message, returncode=error.exit_code) from error
        except CommandError as error:
            if not options.get("traceback"):
                self._json_error(options, str(error), error.returncode)
            raise
        except KeyboardInterrupt as interrupt:
            # The core lets an interrupt through only where nothing was changed
            # yet; past a commit it raises a DisketteError that says so instead.
            if options.get("traceback"):
                raise
            message, status = "interrupted: nothing was changed", exit_status(interrupt)
            self._json_error(options, message, status)
            raise CommandError(message, returncode=status) from None

    def _json_error(self, options: dict[str, Any], message: str, status: int) -> None:
        """With ``--json``, the error as the JSON object, unless the command
        printed its own (a plan that would fail, an inspection that did not
        verify: their JSON says why)."""
        if options.get("json") and not self._json_written:
            self.write_json({"error": message, "exit_status": status})

    def _warn_pending(self, stream) -> None:
        """Say so while a load interrupted after its commit awaits its finish."""
        from diskette.restore.recovery import pending_warning, search_directories

        try:
            message = pending_warning(search_directories())
        except (TypeError, ValueError, OSError):
            return  # a broken path setting: the command's own checks report it
        if message:
            OutputWrapper(stream).write(f"warning: {self.words(message)}")

    def reporter(
        self, options: dict[str, Any], *, quiet: bool = False
    ) -> StreamReporter:
        """A reporter on this command's streams; ``quiet`` keeps stdout for JSON output."""
        verbosity = 0 if quiet else options.get("verbosity", 1)
        self._reporter = _CommandReporter(
            self.flags,
            warnings=options.get("verbosity", 1) >= 1,
            verbosity=verbosity,
            out=self.stdout,
            err=self.stderr,
            style=self.style,
            interactive=getattr(sys.stderr, "isatty", lambda: False)(),
        )
        return self._reporter

    def words(self, message: str) -> str:
        """A message of the core as this command's user reads it (flags)."""
        return command_words(message, self.flags)

    def write_json(self, payload: Any) -> None:
        """Print one JSON object on stdout, for ``--json``, with every warning
        the command's reporter was given (``warnings``)."""
        said = self._reporter.said if self._reporter is not None else []
        if isinstance(payload, dict):
            kept = list(payload.get("warnings") or ())
            payload = {**payload, "warnings": kept + [w for w in said if w not in kept]}
        self.stdout.write(
            json.dumps(payload, indent=2, default=str, ensure_ascii=False)
        )
        self._json_written = True
