"""Start a test server as a child process that cannot outlive the test run.

Each server runs under a small guard process: the guard starts the server, and
when its standard input reaches end of file (the test process closed the pipe on
teardown, or died without tearing down: killed, crashed xdist worker) it
terminates the server. So neither a clean end nor a ``kill -9`` of pytest leaves
a server listening behind.

A server that cannot start skips the tests that need it with the reason, unless
its ``DISKETTE_TEST_REQUIRE_*`` variable is ``1`` (CI, see ``.ci/run``): then it
is an error, so a broken setup can never pass as "skipped".
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from tests.pgcluster import free_port

__all__ = [
    "GuardedServer",
    "free_port",
    "port_open",
    "required",
    "start_on_free_port",
    "unavailable",
]

#: Runs ``argv[1:]``; terminates it when stdin closes; exits with its status.
GUARD = """
import subprocess, sys, threading
server = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
def stop_when_stdin_closes():
    sys.stdin.buffer.read()
    server.terminate()
threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
sys.exit(server.wait())
"""


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def required(variable: str) -> bool:
    """Whether ``variable`` (a ``DISKETTE_TEST_REQUIRE_*`` name) asks for the server."""
    return os.environ.get(variable) == "1"


def unavailable(what: str, variable: str, error: BaseException | str) -> NoReturn:
    """Skip with why ``what`` is not there; fail instead when ``variable`` is ``1``."""
    message = f"{what} not started: {error}"
    if required(variable):
        pytest.fail(f"{message} ({variable}=1 makes this an error)", pytrace=False)
    pytest.skip(message)


class GuardedServer:
    """A server command running under the guard, its output in ``log``."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.command = command
        self.log = log
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-c", GUARD, *command],
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for pytest is pytest's
            )

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return " / ".join(text.strip().splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout: float = 30) -> None:
        """Poll ``ready`` until true, or raise RuntimeError after ``timeout``.

        Raises as soon as the server exits, with the end of its output.
        """
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.command[0]} exited with status "
                    f"{self.process.returncode}: {self.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.command[0]} not ready after {timeout:.0f} s: {self.log_tail()}"
        )

    def stop(self, timeout: float = 10) -> None:
        """Terminate the guard and the server (one process group); kill if they linger."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                continue


def start_on_free_port(
    command_for: Callable[[int], list[str]], log: Path, attempts: int = 3
) -> tuple[GuardedServer, int]:
    """Start ``command_for(port)`` on a free port: the server and its port.

    A just-freed port can be taken between choosing it and the server binding
    it, so a server that exits before listening is tried again on another port
    (as ``tests/pgcluster.py`` does); the last failure is raised as RuntimeError.
    """
    for attempt in range(attempts):
        port = free_port()
        server = GuardedServer(command_for(port), log)
        try:
            server.wait_until(lambda port=port: port_open(port))
        except RuntimeError:
            server.stop()
            if attempt == attempts - 1:
                raise
            continue
        return server, port
    raise AssertionError("unreachable")  # pragma: no cover
