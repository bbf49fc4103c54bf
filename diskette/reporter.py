"""How the core tells the user what it does, without printing itself.

The pipelines call a :class:`Reporter`; a management command passes one that
writes to its streams, the Python API defaults to one that stays silent.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from django.core.management.base import OutputWrapper

#: The units of :func:`human_size` above bytes, each 1000 times the one before.
_UNITS = ("kB", "MB", "GB", "TB")


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

    #: Whether live progress is drawn: a caller may skip work done only for it
    #: (counting a total) when it is not.
    shows_progress = False

    def progress(
        self, label: str, done: int, total: int | None = None, unit: str = ""
    ) -> None:
        r"""Live progress of a phase (``label``): ``done`` of ``total`` (None: not
        known) ``unit``\ s (``"bytes"``, ``"files"``; objects when empty); only
        drawn on a terminal."""

    def done(self) -> None:
        """Clear any progress line."""


class StreamReporter(Reporter):
    """Write messages to text streams: lines to ``out``, warnings and progress to ``err``.

    Warnings are shown from verbosity 1, unless ``warnings`` says otherwise (a
    ``--json`` run keeps stdout for its JSON, not stderr from its warnings).
    """

    def __init__(
        self,
        verbosity: int = 1,
        out: TextIO | None = None,
        err: TextIO | None = None,
        style=None,
        interactive: bool | None = None,
        warnings: bool | None = None,
    ):
        self.verbosity = verbosity
        self.warnings = verbosity >= 1 if warnings is None else warnings
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.style = style
        if interactive is None:
            isatty = getattr(self.err, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive and verbosity >= 1
        self.shows_progress = self.interactive
        self._last_draw = 0.0
        self._drawn = False
        self._phase: tuple[str, float] = ("", 0.0)  # label, and when it started

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
        if self.warnings:
            text = self.style.WARNING(message) if self.style else message
            self._write(self.err, text)

    def progress(
        self, label: str, done: int, total: int | None = None, unit: str = ""
    ) -> None:
        if not self.interactive:
            return
        now = time.monotonic()
        if self._phase[0] != label:
            self._phase = (label, now)
        if now - self._last_draw < 0.1 and (total is None or done < total):
            return
        self._last_draw = now
        line = progress_line(label, done, total, unit, now - self._phase[1])
        _emit(self.err, f"\r\x1b[K{line}")
        self._drawn = True

    def done(self) -> None:
        if self._drawn:
            _emit(self.err, "\r\x1b[K")
            self._drawn = False


def progress_line(
    label: str, done: int, total: int | None, unit: str, seconds: float
) -> str:
    """``data/x.json 12,000/50,000 objects (24 %), 8,000/s, 5 s left``: what is
    done of what there is, the rate, and the time left at that rate."""

    def amount(count: float) -> str:
        return human_size(count) if unit == "bytes" else f"{count:,.0f}"

    words = f"{amount(done)}/{amount(total)}" if total else amount(done)
    if unit != "bytes":
        words += f" {unit or 'objects'}"
    if total:
        words += f" ({100 * done // max(total, 1)} %)"
    if seconds >= 1 and done:
        rate = done / seconds
        slow = unit != "bytes" and rate < 10  # 0.5/s, not 0/s
        words += f", {rate:.2g}/s" if slow else f", {amount(rate)}/s"
        if total and done < total:
            words += f", {_duration((total - done) / rate)} left"
    return f"{label} {words}"


def human_size(size: float) -> str:
    """``77 B``, ``1.2 MB``: a size in the largest power of 1000 below it."""
    if size < 1000:
        return f"{size:.0f} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1000
        if value < 1000 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"


def _duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``1 h 2 min``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


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
