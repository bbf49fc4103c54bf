"""Run a function as an unprivileged user, for checks that root always passes.

Root ignores permissions, so a test of a permission check forks and the child
drops to ``nobody`` before it calls the function; the result comes back through
a pipe. The child does not exec anything, so the interpreter need not be
readable by that user; everything it calls must already be imported.
"""

from __future__ import annotations

import os
import pickle
import pwd
from collections.abc import Callable
from typing import Any

import pytest

USER = "nobody"


def user_ids() -> tuple[int, int]:
    """The uid and gid of the unprivileged user; skips when not root."""
    if os.geteuid() != 0:
        pytest.skip("dropping to another user needs root (CI runs the tests as root)")
    entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid


def run_unprivileged(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` in a child running as ``nobody``."""
    uid, gid = user_ids()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 0
        try:
            os.close(reader)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            outcome: tuple[bool, Any] = (True, function(*args, **kwargs))
        except BaseException as error:  # reported to the parent
            outcome = (False, f"{type(error).__name__}: {error}")
            status = 1
        try:
            with os.fdopen(writer, "wb") as pipe:
                pickle.dump(outcome, pipe)
        finally:
            os._exit(status)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    succeeded, value = pickle.loads(data)  # noqa: S301 - our own child wrote it
    if not succeeded:
        raise AssertionError(f"the unprivileged child failed: {value}")
    return value
