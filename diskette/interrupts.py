"""SIGINT and SIGTERM, handled alike; and sections they must not cut in two.

Python turns SIGINT into ``KeyboardInterrupt`` but lets SIGTERM kill the process
where it stands, so a ``kill`` (systemd, Docker, Kubernetes, a CI timeout) would
skip every clean-up a Ctrl-C runs. :func:`handled_signals` makes SIGTERM raise
:class:`Terminated`, a ``KeyboardInterrupt``, so both take the same path.

:func:`deferred_signals` holds both back for a section that must finish once
started (a load's commit and storage swaps): a signal that arrives inside is
remembered and raised when the section ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: Exit status of a command stopped by SIGINT (128 + 2) and by SIGTERM (128 + 15).
SIGINT_STATUS = 130
SIGTERM_STATUS = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: raised where SIGINT raises ``KeyboardInterrupt``."""

    signal_number = signal.SIGTERM


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_terminated(signum, frame) -> None:
    raise Terminated


def exit_status(interrupt: KeyboardInterrupt) -> int:
    """The exit status for a command stopped by ``interrupt``."""
    return SIGTERM_STATUS if isinstance(interrupt, Terminated) else SIGINT_STATUS


@contextlib.contextmanager
def handled_signals() -> Iterator[None]:
    """Make SIGTERM raise :class:`Terminated` inside the block (main thread only)."""
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block ends, then raise the first one.

    Outside the main thread signals cannot reach the block, so it runs as is.
    """
    if not _in_main_thread():
        yield
        return
    received: list[int] = []

    def remember(signum, frame) -> None:
        received.append(signum)

    previous = {
        number: signal.signal(number, remember)
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if received:
        raise Terminated if received[0] == signal.SIGTERM else KeyboardInterrupt
