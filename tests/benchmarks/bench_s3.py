"""The S3 destination of the benchmark: the test suite's moto server, for one run.

The dump to S3 and the load from it go through the same real server the tests
use (``start_s3_server`` of ``tests/servers/s3.py``): moto as its own process on
loopback, with credentials it checks and one bucket. The benchmark starts it
once, before the first size, and stops it when the run ends, however it ends.

The server is started and held by a child process (this file run as a script),
not by the benchmark itself: preparing it imports pytest, moto and boto3, some
60 MiB, and on Linux a child's peak RSS (``ru_maxrss``) includes the memory of
the process it was started from, so every measured step would report at least
that much. The child prints the server's details as one JSON line, then stops
the server when its standard input closes: when the benchmark stops it, or dies
(the guard of ``tests/servers/process.py`` does the same for the server itself).

The sandbox reaches the bucket through the ``sandbox_s3`` alias of ``STORAGES``,
which ``sandbox/settings.py`` defines only when the ``SANDBOX_S3_*`` variables are
set: only the S3 steps get them, so the local steps run on the very same settings
as without S3.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

#: The ``STORAGES`` alias of sandbox/settings.py that the S3 steps name.
ALIAS = "sandbox_s3"
#: (module, what provides it) needed by the S3 steps: the server, its clients,
#: the Django storage, and pytest, which the test servers' modules import.
REQUIREMENTS = (
    ("moto", "moto[server]"),
    ("boto3", "boto3"),
    ("storages", "django-storages[s3]"),
    ("pytest", "pytest"),
)
REPO_ROOT = Path(__file__).resolve().parents[2]


def missing_requirement() -> str | None:
    """Why the S3 steps cannot run here (a package not installed), or None."""
    for module, package in REQUIREMENTS:
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (pip install -e '.[dev,s3]')"
    return None


def skipped(reason: str) -> dict:
    """The ``s3`` entry of the JSON report when the S3 steps do not run."""
    return {"ran": False, "skipped": reason, "endpoint_url": None}


@dataclasses.dataclass
class S3Destination:
    """The child holding the server, and the server's details (``S3Server`` fields)."""

    holder: subprocess.Popen
    details: dict

    def environment(self, location: str) -> dict[str, str]:
        """The ``SANDBOX_S3_*`` variables giving a site the alias, under ``location``."""
        return {
            "SANDBOX_S3_BUCKET": self.details["bucket"],
            "SANDBOX_S3_ENDPOINT_URL": self.details["endpoint_url"],
            "SANDBOX_S3_ACCESS_KEY": self.details["access_key"],
            "SANDBOX_S3_SECRET_KEY": self.details["secret_key"],
            "SANDBOX_S3_REGION": self.details["region"],
            "SANDBOX_S3_LOCATION": location,
        }

    def describe(self) -> dict:
        return {
            "ran": True,
            "skipped": None,
            "endpoint_url": self.details["endpoint_url"],
            "startup_seconds": round(self.details["startup_seconds"], 3),
        }

    def stop(self, timeout: float = 30) -> None:
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
            f"S3 server (moto) stopped after {time.perf_counter() - started:.1f}s",
            flush=True,
        )


def start(directory: Path) -> S3Destination:
    """Start the holder and wait for the server's details; RuntimeError if none come.

    The wait is bounded: the holder gives up after the start attempts of
    ``start_on_free_port`` and the timeouts of the boto3 calls that prepare it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    errors = directory / "holder.err"
    with open(errors, "wb") as stderr:
        holder = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), str(directory)],
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
    details = json.loads(line)
    print(
        f"S3 server (moto) at {details['endpoint_url']}, started in "
        f"{details['startup_seconds']:.1f}s (not counted)",
        flush=True,
    )
    return S3Destination(holder, details)


def hold(directory: Path) -> None:
    """In the holder: start the server, print its details, keep it until stdin closes."""
    from tests.servers.s3 import start_s3_server

    server, details = start_s3_server(directory)
    try:
        print(json.dumps(dataclasses.asdict(details)), flush=True)
        sys.stdin.buffer.read()
    finally:
        server.stop()


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    hold(Path(sys.argv[1]))
