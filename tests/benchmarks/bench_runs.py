"""The benchmark's building blocks: measured child processes and sandbox sites.

``bench.py`` composes them into steps; kept here so that a step reads as what it
runs, and so that the floor's two functions, which ``bench.py`` runs in a child
process of its own (``--floor-dump``, ``--floor-restore``), sit with the rest.
"""

from __future__ import annotations

import gzip
import os
import shlex
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox.sites import MANAGE_PY, REPO_ROOT, site_environment

#: gzip level of the floor dump: the usual default, as ``tar czf`` and diskette use.
FLOOR_COMPRESSLEVEL = 6
#: Tables whose row counts must match the source after every load.
CHECKED_TABLE_PREFIXES = ("library_", "auth_user", "auth_group")


class BenchError(Exception):
    """A step failed; the message says which and where its output is."""


@dataclass
class Run:
    """One measured child process."""

    seconds: float
    peak_rss_kib: int
    stdout: str = ""


def run(args: list[str], *, env: dict[str, str], log: Path) -> Run:
    """Run ``args`` to completion; return its wall time and peak RSS (``wait4``)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out, err = log.with_suffix(".out"), log.with_suffix(".err")
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            args, env=env, cwd=REPO_ROOT, stdout=stdout, stderr=stderr
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        tail = err.read_text("utf-8", "replace").strip().splitlines()[-5:]
        raise BenchError(
            f"{shlex.join(args[:4])} ... exited with {process.returncode} "
            f"(output in {err}):\n    " + "\n    ".join(tail)
        )
    return Run(seconds, usage.ru_maxrss, out.read_text("utf-8", "replace"))


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda each: each.seconds)


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


def combine(runs: list[Run]) -> Run:
    """Several processes run one after the other: times add, peak is the maximum."""
    return Run(
        sum(each.seconds for each in runs), max(each.peak_rss_kib for each in runs)
    )


class Site:
    """A sandbox site: its own ``SANDBOX_VAR`` with a SQLite database and media."""

    def __init__(self, var: Path) -> None:
        self.var = var
        var.mkdir(parents=True, exist_ok=True)

    @property
    def database(self) -> Path:
        return self.var / "db.sqlite3"

    @property
    def media(self) -> Path:
        return self.var / "media"

    def env(self, **extra: str) -> dict[str, str]:
        return site_environment(self.var, PYTHONDONTWRITEBYTECODE="1", **extra)

    def manage(self, *args: str, log: Path, extra_env: dict | None = None) -> Run:
        """``manage.py args`` on this site; ``extra_env`` adds variables (``SANDBOX_S3_*``)."""
        env = self.env(**(extra_env or {}))
        return run([sys.executable, str(MANAGE_PY), *args], env=env, log=log)

    def row_counts(self) -> dict[str, int]:
        """Rows of the checked tables, read with ``sqlite3``."""
        with sqlite3.connect(self.database) as connection:
            tables = [
                name
                for (name,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
                if name.startswith(CHECKED_TABLE_PREFIXES)
            ]
            counts = {
                name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]  # noqa: S608
                for name in sorted(tables)
            }
        connection.close()
        return counts


def floor_dump(database: str, output: str) -> None:
    """The SQLite floor: ``iterdump()`` of the whole database through gzip."""
    connection = sqlite3.connect(database)
    with gzip.open(
        output, "wt", encoding="utf-8", compresslevel=FLOOR_COMPRESSLEVEL
    ) as out:
        for line in connection.iterdump():
            out.write(line)
            out.write("\n")
    connection.close()


def floor_restore(script: str, database: str) -> None:
    """Replay a floor dump into a new database file with ``executescript``."""
    with gzip.open(script, "rt", encoding="utf-8") as source:
        text = source.read()
    connection = sqlite3.connect(database)
    connection.executescript(text)
    connection.close()


def check_counts(expected: dict[str, int], site: Site, step: str) -> None:
    """A load that loses rows would make the timing meaningless: refuse it."""
    found = site.row_counts()
    if found != expected:
        differ = {
            name: (expected.get(name), found.get(name))
            for name in sorted(set(expected) | set(found))
            if expected.get(name) != found.get(name)
        }
        raise BenchError(
            f"{step} did not restore the same rows (source, loaded): {differ}"
        )
