"""The S3 destination of the benchmark: the test suite's moto server, for one run.

The dump to S3 and the load from it go through the same real server the tests
use (``start_s3_server`` of ``tests/servers/s3.py``): moto as its own process on
loopback, with credentials it checks and one bucket. The benchmark starts it
once, before the first SQLite size, and stops it when the SQLite sizes are done,
however they end.

The server is started and held by a child process (``bench_holder.py`` says
why), which stops it when the benchmark stops it or dies.

The sandbox reaches the bucket through the ``sandbox_s3`` alias of ``STORAGES``,
which ``sandbox/settings.py`` defines only when the ``SANDBOX_S3_*`` variables are
set: only the S3 steps get them, so the local steps run on the very same settings
as without S3.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as the holder script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks import bench_holder  # noqa: E402

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

    held: bench_holder.Held

    @property
    def details(self) -> dict:
        return self.held.details

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

    def stop(self) -> None:
        self.held.stop()


def start(directory: Path) -> S3Destination:
    """Start the holder and wait for the server's details; RuntimeError if none come."""
    held = bench_holder.start("S3 server (moto)", Path(__file__).resolve(), directory)
    print(
        f"S3 server (moto) at {held.details['endpoint_url']}, started in "
        f"{held.details['startup_seconds']:.1f}s (not counted)",
        flush=True,
    )
    return S3Destination(held)


def hold(directory: Path) -> None:
    """In the holder: start the server, print its details, keep it until stdin closes."""
    from tests.servers.s3 import start_s3_server

    server, details = start_s3_server(directory)
    try:
        bench_holder.serve(dataclasses.asdict(details))
    finally:
        server.stop()


if __name__ == "__main__":
    hold(Path(sys.argv[1]))
