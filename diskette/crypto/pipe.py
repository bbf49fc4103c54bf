"""A bounded pipe between a thread that writes and one that reads.

pyrage encrypts and decrypts whole streams (``encrypt_io(reader, writer)``),
pulling from a reader and pushing to a writer until the end. The archive writer
pushes its bytes and the archive reader pulls them, so each side runs pyrage in
a thread of its own, joined to the pipeline by this pipe. It holds at most
``ahead`` pieces (memory stays flat whatever the archive's size), hands what the
writing side failed with to the reading side, and can be aborted from either
side so that neither thread ever waits for ever.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

#: Pieces the pipe holds before the writing side waits.
AHEAD = 16
#: Seconds between two looks at the abort flag while waiting.
_POLL = 0.1


class PipeAborted(OSError):
    """Raised on one side of the pipe once the other side gave up."""


class Pipe:
    """One writer, one reader; ``write`` copies, ``read`` returns at most ``size``."""

    def __init__(self, ahead: int = AHEAD):
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(ahead)
        self._aborted = threading.Event()
        self._current = memoryview(b"")
        self._end: BaseException | None | bool = False

    # -- the writing side ---------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if data:
            self._put(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: every piece written is already in the pipe."""

    def close_writing(self, error: BaseException | None = None) -> None:
        """The end of the stream, or the error the reading side is to raise."""
        self._put(error)

    def _put(self, item: bytes | BaseException | None) -> None:
        while True:
            if self._aborted.is_set():
                raise PipeAborted("the other side of the pipe stopped")
            try:
                self._queue.put(item, timeout=_POLL)
            except queue.Full:
                continue
            return

    # -- the reading side ---------------------------------------------------------

    def read(self, size: int | None = -1) -> bytes:
        if not self._current:
            if self._end is not False:
                return self._finished()
            item = self._get()
            if not isinstance(item, bytes):
                self._end = item
                return self._finished()
            if size is None or size < 0 or size >= len(item):
                return item
            self._current = memoryview(item)
        if size is None or size < 0:
            size = len(self._current)
        data = self._current[:size].tobytes()
        self._current = self._current[size:]
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _get(self) -> bytes | BaseException | None:
        while True:
            if self._aborted.is_set():
                raise PipeAborted("the other side of the pipe stopped")
            try:
                return self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue

    def _finished(self) -> bytes:
        if isinstance(self._end, BaseException):
            raise self._end
        return b""

    # -- either side --------------------------------------------------------------

    def abort(self) -> None:
        """Give up: the other side's next (or waiting) call raises PipeAborted."""
        self._aborted.set()


class PipeThread:
    """Run ``work()`` in a daemon thread; a failure aborts ``pipe``, so that the
    other side stops waiting, and :meth:`join` returns it."""

    def __init__(self, name: str, work: Callable[[], object], pipe: Pipe):
        self.error: BaseException | None = None
        self._work = work
        self._pipe = pipe
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as error:  # handed to the joining thread
            self.error = error
            self._pipe.abort()

    def join(self) -> BaseException | None:
        self._thread.join()
        return self.error


class Producer(PipeThread):
    """Run ``work()``, which writes into ``pipe``, in a daemon thread; its end, or
    its error (made into ``refusal(error)`` when given), ends the pipe, so that
    the reading side reads to that end or raises that error."""

    def __init__(
        self,
        name: str,
        work: Callable[[], object],
        pipe: Pipe,
        refusal: Callable[[BaseException], BaseException] | None = None,
    ):
        self._refusal = refusal
        super().__init__(name, work, pipe)

    def _run(self) -> None:
        try:
            self._work()
        except PipeAborted:  # the reading side stopped first
            return
        except BaseException as error:  # raised by the reading side
            failure = self._refusal(error) if self._refusal is not None else error
            with suppress(PipeAborted):
                self._pipe.close_writing(failure)
            return
        with suppress(PipeAborted):
            self._pipe.close_writing()


class Recording:
    """A file object's ``read``, ``write`` and ``flush``, remembering the first
    error they raised: pyrage wraps its callbacks' errors in its own, and a disk
    full or an I/O error must reach the user as itself."""

    def __init__(self, raw: Any):
        self.raw = raw
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        return self._call(self.raw.read, size)  # type: ignore[no-any-return]

    def write(self, data: bytes) -> int:
        return self._call(self.raw.write, data)  # type: ignore[no-any-return]

    def flush(self) -> None:
        flush = getattr(self.raw, "flush", None)
        if flush is not None:
            self._call(flush)

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except BaseException as error:
            if self.error is None:
                self.error = error
            raise
