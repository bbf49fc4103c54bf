"""How the core tells the user what it does, without printing itself.

The pipelines call a :class:`Reporter`; a management command passes one that
writes to its streams, the Python API defaults to one that stays silent.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from django.core.management.base import OutputWrapper


def plural(count: int, word: str, plural: str = "") -> str:
    """``1 object``, ``2 objects``: a count with its noun."""
    return f"{count} {word}" if count == 1 else f"{count} {plural or word + 's'}"


class Reporter:
    """Silent reporter; subclasses decide where messages go."""

    verbosity = 0

    def info(self, message: str) -> None:
        """A line shown at verbosity 1 and above."""

    def detail(self, message: str) -> None:
        """A line shown at verbosity 2 and above."""

    def warning(self, message: str) -> None:
        """Something the user should know; shown unless verbosity is 0."""

    def progress(self, label: str, done: int, total: int | None = None) -> None:
        """Live progress; only drawn on a terminal."""

    def done(self) -> None:
        """Clear any progress line."""


class StreamReporter(Reporter):
    """Write messages to text streams: lines to ``out``, warnings and progress to ``err``."""

    def __init__(
        self,
        verbosity: int = 1,
        out: TextIO | None = None,
        err: TextIO | None = None,
        style=None,
        interactive: bool | None = None,
    ):
        self.verbosity = verbosity
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.style = style
        if interactive is None:
            isatty = getattr(self.err, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive and verbosity >= 1
        self._last_draw = 0.0
        self._drawn = False

    def _write(self, stream: TextIO, text: str) -> None:
        self.done()
        _emit(stream, text + "\n")

    def info(self, message: str) -> None:
        if self.verbosity >= 1:
            self._write(self.out, message)

    def detail(self, message: str) -> None:
        if self.verbosity >= 2:
            self._write(self.out, message)

    def warning(self, message: str) -> None:
        if self.verbosity >= 1:
            text = self.style.WARNING(message) if self.style else message
            self._write(self.err, text)

    def progress(self, label: str, done: int, total: int | None = None) -> None:
        if not self.interactive:
            return
        now = time.monotonic()
        if now - self._last_draw < 0.1 and (total is None or done < total):
            return
        self._last_draw = now
        counter = f"{done}/{total}" if total else f"{done}"
        _emit(self.err, f"\r\x1b[K{label} {counter}")
        self._drawn = True

    def done(self) -> None:
        if self._drawn:
            _emit(self.err, "\r\x1b[K")
            self._drawn = False


def _emit(stream: TextIO, text: str) -> None:
    """Write ``text`` as it is: a command's stderr wrapper would colour it as an
    error and end every write with a newline, breaking the progress line."""
    if isinstance(stream, OutputWrapper):
        stream.write(text, style_func=_unstyled, ending="")
    else:
        stream.write(text)
    stream.flush()


def _unstyled(text: str) -> str:
    return text
