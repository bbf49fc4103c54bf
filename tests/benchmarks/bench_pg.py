"""The PostgreSQL server of the benchmark, and sandbox sites on its databases.

The cluster is the test suite's throwaway one (``start_cluster`` of
``tests/pgcluster.py``: ``initdb`` in a temporary directory, trust auth on
127.0.0.1, fsync off), held for the run by a child process (``bench_holder.py``
says why) and removed when the run ends, however it ends.

A site here is a ``SANDBOX_VAR`` directory for its media plus one database of
that cluster; ``sandbox/settings.py`` points at it when ``SANDBOX_DB_ENGINE`` is
``postgresql``, with the libpq variables (``PGHOST``, ``PGPORT``, ``PGUSER``,
``PGDATABASE``). Databases are made and dropped with the cluster's own
``createdb`` and ``dropdb``, and counted with ``psql``, so the benchmark imports
no database driver.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as the holder script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks import bench_holder  # noqa: E402
from tests.benchmarks.bench_runs import (  # noqa: E402
    CHECKED_TABLE_PREFIXES,
    BenchError,
    Site,
)

NAME = "PostgreSQL cluster"
#: The tables that are no site content: migrations make them, sessions expire.
NOT_CONTENT = ("django_migrations", "django_session")


@dataclass
class PgServer:
    """The held cluster: how to reach it and run its client tools."""

    held: bench_holder.Held

    @property
    def details(self) -> dict:
        return self.held.details

    def tool(self, name: str) -> str:
        """A client tool of the server's own version (``pg_dump``, ``psql``…)."""
        return str(Path(self.details["bindir"]) / name)

    def connection(self) -> list[str]:
        """The connection options of every client tool."""
        return [
            "--host",
            self.details["host"],
            "--port",
            str(self.details["port"]),
            "--username",
            self.details["user"],
        ]

    def libpq_env(self, database: str) -> dict[str, str]:
        """The libpq variables naming ``database``: the sandbox's settings read them."""
        return {
            "PGHOST": self.details["host"],
            "PGPORT": str(self.details["port"]),
            "PGUSER": self.details["user"],
            "PGDATABASE": database,
        }

    def client(self, name: str, *args: str) -> str:
        """Run a client tool (not measured); BenchError with its output if it fails."""
        command = [self.tool(name), *self.connection(), *args]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=600, check=False
        )
        if result.returncode:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise BenchError(f"{name} {' '.join(args)} failed: {' / '.join(tail)}")
        return result.stdout

    def create(self, database: str, template: str) -> None:
        self.client("createdb", "--template", template, database)

    def drop(self, database: str) -> None:
        self.client("dropdb", "--if-exists", database)

    def query(self, database: str, sql: str) -> list[list[str]]:
        """Rows of ``sql`` as lists of strings (``psql`` unaligned, tab-separated)."""
        out = self.client(
            "psql", "--no-psqlrc", "-At", "-F", "\t", "-d", database, "-c", sql
        )
        return [line.split("\t") for line in out.splitlines() if line]

    def tables(self, database: str) -> list[str]:
        rows = self.query(
            database,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        )
        return [name for (name,) in rows]

    def content_tables(self, database: str) -> list[str]:
        """Every table of the site but ``NOT_CONTENT``: what ``pg_dump -t`` is given."""
        return [name for name in self.tables(database) if name not in NOT_CONTENT]

    def row_counts(self, database: str) -> dict[str, int]:
        """Rows of the checked tables (the same ones as on SQLite)."""
        names = [
            name
            for name in self.tables(database)
            if name.startswith(CHECKED_TABLE_PREFIXES)
        ]
        if not names:
            return {}
        counts = [f"SELECT '{name}', COUNT(*) FROM \"{name}\"" for name in names]  # noqa: S608
        sql = " UNION ALL ".join(counts)
        return {name: int(count) for name, count in self.query(database, sql)}

    def size(self, database: str) -> int:
        ((size,),) = self.query(database, f"SELECT pg_database_size('{database}')")
        return int(size)

    def stop(self) -> None:
        self.held.stop()


class PgSite(Site):
    """A sandbox site on one database of the cluster; its media in ``var``."""

    def __init__(self, var: Path, server: PgServer, database: str) -> None:
        super().__init__(var)
        self.server = server
        self.name = database

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(
            SANDBOX_DB_ENGINE="postgresql", **self.server.libpq_env(self.name), **extra
        )

    def row_counts(self) -> dict[str, int]:
        return self.server.row_counts(self.name)


def start(directory: Path) -> PgServer:
    """Start the holder and wait for the cluster's details; RuntimeError if none come."""
    held = bench_holder.start(NAME, Path(__file__).resolve(), directory)
    print(
        f"{NAME} ({held.details['version']}) on "
        f"{held.details['host']}:{held.details['port']}, started in "
        f"{held.details['startup_seconds']:.1f}s (not counted)",
        flush=True,
    )
    return PgServer(held)


def hold(directory: Path) -> None:
    """In the holder: start the cluster, print its details, keep it until stdin closes."""
    import time

    from tests import pgcluster

    started = time.perf_counter()
    cluster = pgcluster.start_cluster()
    try:
        bench_holder.serve(
            {
                "host": "127.0.0.1",
                "port": cluster.port,
                "user": pgcluster.USER,
                "bindir": str(cluster.bindir),
                "version": cluster.version,
                "startup_seconds": time.perf_counter() - started,
            }
        )
    finally:
        pgcluster.stop_cluster(cluster)


if __name__ == "__main__":
    hold(Path(sys.argv[1]))
