"""A test server of the benchmark, held by a child process for the whole run.

The S3 server (``bench_s3.py``) and the PostgreSQL cluster (``bench_pg.py``) are
started and held by a child process (their module run as a script), not by the
benchmark itself. Preparing them imports pytest and the test servers' modules
(and moto and boto3 for S3), and on Linux a child's peak RSS (``ru_maxrss``)
can include the memory of the process it was started from, so every measured
step would report that much more. The holder prints the server's details as one
JSON line, then stops the server when its standard input closes: when the
benchmark stops it, or when the benchmark dies. The servers themselves run
under the guard of ``tests/servers/process.py``, so a killed holder does not
leave them running either.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Held:
    """The holder process of one server, and the details it printed."""

    name: str
    holder: subprocess.Popen
    details: dict

    def stop(self, timeout: float = 60) -> None:
        """Close the holder's input (it stops the server), wait, kill if it lingers."""
        started = time.perf_counter()
        if self.holder.stdin is not None:
            self.holder.stdin.close()
        try:
            self.holder.wait(timeout)
        except subprocess.TimeoutExpired:
            self.holder.kill()  # the server's guard then sees its input close
            self.holder.wait()
        print(
            f"{self.name} stopped after {time.perf_counter() - started:.1f}s",
            flush=True,
        )


def start(name: str, script: Path, directory: Path) -> Held:
    """Run ``script directory`` and wait for its JSON line; RuntimeError if none comes.

    The wait is bounded by the holder itself: it gives up after its server's
    start attempts and timeouts, and then exits without printing.
    """
    directory.mkdir(parents=True, exist_ok=True)
    errors = directory / "holder.err"
    with open(errors, "wb") as stderr:
        holder = subprocess.Popen(
            [sys.executable, str(script), str(directory)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,  # the benchmark decides when it stops
        )
    assert holder.stdout is not None
    line = holder.stdout.readline()
    if not line:
        holder.wait()
        tail = errors.read_text("utf-8", "replace").strip().splitlines()[-3:]
        raise RuntimeError(" / ".join(tail) or f"exit status {holder.returncode}")
    return Held(name, holder, json.loads(line))


def serve(details: dict) -> None:
    """In the holder: hand the details over, then wait until the input closes."""
    print(json.dumps(details), flush=True)
    sys.stdin.buffer.read()
