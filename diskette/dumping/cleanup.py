"""What keeps a failed or interrupted dump from leaking cursors, and a dump fast.

Django's row generators keep their cursor open as long as something holds
their frames; the garbage collector's automatic runs would only traverse the
dump's live objects again and again.
"""

from __future__ import annotations

import gc
import traceback
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause automatic garbage collection; :func:`diskette.dumping.dumper._objects` collects once per chunk.

    The serialized objects are freed by reference counting (their cycles are
    broken per chunk), so the automatic collections would only traverse live
    objects again and again: about a sixth of the dump's time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def frames_released() -> Iterator[None]:
    """On any exception, free what the traceback's frames hold now.

    An exception raised inside Django's row generators (a Ctrl-C in a field's
    converter) keeps them, and their open cursor, alive until the process exits,
    after the command closed the connection: "Exception ignored ... closed
    database" lines on stderr.
    """
    try:
        yield
    except BaseException as error:
        traceback.clear_frames(error.__traceback__)
        raise
