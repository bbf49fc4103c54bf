"""The benchmark's building blocks: measured child processes and sandbox sites.

The cases (``bench_sqlite.py``, ``bench_postgres.py``, ``bench_media.py``) compose
them into steps; kept here so that a step reads as what it runs, and so that the
floor's two functions, which ``bench.py`` runs in a child process of its own
(``--floor-dump``, ``--floor-restore``), sit with the rest.
"""

from __future__ import annotations

import gzip
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.sites import MANAGE_PY, REPO_ROOT, site_environment

#: gzip level of the floor dump: the usual default, as ``tar czf`` and diskette use.
FLOOR_COMPRESSLEVEL = 6
#: Tables whose row counts must match the source after every load.
CHECKED_TABLE_PREFIXES = ("library_", "auth_user", "auth_group")


class BenchError(Exception):
    """A step failed; the message says which and where its output is."""


class Unmeasured(Exception):
    """A step found, once started, that what it needs is not there (the message)."""


#: How often the used space of the file system is sampled while a step runs.
DISK_SAMPLE_SECONDS = 0.01


@dataclass
class Run:
    """One measured child process.

    ``disk_peak_bytes`` is the peak of the file system's used space above what
    was used when the step started (sampled, see ``DiskPeak``); a step may turn
    it into ``extra_disk_bytes``, what it used beyond what it leaves behind.
    """

    seconds: float
    peak_rss_kib: int
    stdout: str = ""
    disk_peak_bytes: int | None = None
    extra_disk_bytes: int | None = None


def used_bytes(path: Path) -> int:
    """Bytes in use on the file system holding ``path`` (blocks, as ``df`` counts)."""
    stats = os.statvfs(path)
    return (stats.f_blocks - stats.f_bfree) * stats.f_frsize


class DiskPeak:
    """Samples the used space of one file system in a thread, keeps the peak.

    The whole file system is sampled, so the figure also holds what other
    processes write meanwhile: on a quiet machine, that is nothing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.baseline = used_bytes(path)
        self.peak = self.baseline
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(DISK_SAMPLE_SECONDS):
            self.peak = max(self.peak, used_bytes(self.path))

    def stop(self) -> int:
        """Stop sampling; the peak above the baseline, in bytes."""
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, used_bytes(self.path))
        return self.peak - self.baseline


def run(
    args: list[str],
    *,
    env: dict[str, str],
    log: Path,
    cwd: Path = REPO_ROOT,
    sample_disk: Path | None = None,
) -> Run:
    """Run ``args`` to completion; return its wall time and peak RSS (``wait4``).

    With ``sample_disk``, the used space of that path's file system is sampled
    while it runs (``Run.disk_peak_bytes``).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    out, err = log.with_suffix(".out"), log.with_suffix(".err")
    sampler = DiskPeak(sample_disk) if sample_disk is not None else None
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(args, env=env, cwd=cwd, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    disk = sampler.stop() if sampler is not None else None
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        tail = err.read_text("utf-8", "replace").strip().splitlines()[-5:]
        raise BenchError(
            f"{shlex.join(args[:4])} ... exited with {process.returncode} "
            f"(output in {err}):\n    " + "\n    ".join(tail)
        )
    return Run(seconds, usage.ru_maxrss, out.read_text("utf-8", "replace"), disk)


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda each: each.seconds)


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


@dataclass
class Outcome:
    """The runs of one step, or why it has none.

    ``status`` is ``measured``, ``skipped`` (left out on purpose: an option, a
    case not run, a size above a threshold) or ``unmeasured`` (wanted, but a
    peer or an option it needs is not there); ``reason`` says which.
    """

    status: str = "measured"
    reason: str | None = None
    runs: list[Run] = field(default_factory=list)


def measure(
    steps: object,
    order: tuple[str, ...],
    labels: dict[str, str],
    *,
    repeat: int,
    absent: dict[str, tuple[str, str]],
    say: Callable[[str], None],
) -> dict[str, Outcome]:
    """Run ``steps.<key>(number)`` for every key of ``order``, ``repeat`` times.

    ``absent`` maps the keys that do not run to their (status, reason).
    """
    outcomes: dict[str, Outcome] = {}
    for key in order:
        if key in absent:
            status, reason = absent[key]
            outcomes[key] = Outcome(status, reason)
            say(f"{labels[key]:<38} {status}: {reason}")
            continue
        outcome = outcomes[key] = Outcome()
        for number in range(repeat):
            try:
                measured = getattr(steps, key)(number)
            except Unmeasured as missing:
                outcomes[key] = Outcome("unmeasured", str(missing))
                say(f"{labels[key]:<38} unmeasured: {missing}")
                break
            outcome.runs.append(measured)
            extra = ""
            if measured.extra_disk_bytes is not None:
                extra = f", {measured.extra_disk_bytes / 2**20:.1f} MiB extra disk"
            say(
                f"{labels[key]:<38} {measured.seconds:.2f}s, "
                f"{measured.peak_rss_kib / 1024:.1f} MiB{extra}"
            )
    return outcomes


def figures(
    outcomes: dict[str, Outcome], steps: tuple[tuple[str, str], ...]
) -> dict[str, dict]:
    """The JSON of every step, in table order: its best run and all its runs."""
    result = {}
    for key, label in steps:
        outcome = outcomes.get(key) or Outcome("skipped", "not run")
        chosen = best(outcome.runs) if outcome.runs else None
        result[key] = {
            "label": label,
            "status": outcome.status,
            "reason": outcome.reason,
            "seconds": round(chosen.seconds, 3) if chosen else None,
            "peak_rss_mib": mib(chosen.peak_rss_kib) if chosen else None,
            "extra_disk_bytes": chosen.extra_disk_bytes if chosen else None,
            "runs": [
                {
                    "seconds": round(each.seconds, 3),
                    "peak_rss_kib": each.peak_rss_kib,
                    "extra_disk_bytes": each.extra_disk_bytes,
                }
                for each in outcome.runs
            ],
        }
    return result


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

    def command(self, *args: str) -> list[str]:
        """The command line of ``manage.py args`` (run it with ``env()``)."""
        return [sys.executable, str(MANAGE_PY), *args]

    def manage(self, *args: str, log: Path, extra_env: dict | None = None) -> Run:
        """``manage.py args`` on this site; ``extra_env`` adds variables (``SANDBOX_S3_*``)."""
        return run(self.command(*args), env=self.env(**(extra_env or {})), log=log)

    def diskette_dump(self, directory: Path, log: Path) -> tuple[Run, dict]:
        """A measured ``diskette_dump --json`` into a new ``directory``, with what
        it printed."""
        shutil.rmtree(directory, ignore_errors=True)
        measured = self.manage(
            "diskette_dump", "--json", "--destination", str(directory), log=log
        )
        return measured, json.loads(measured.stdout)

    def diskette_load(self, archive: str, log: Path) -> Run:
        """A measured ``diskette_load --noinput`` of ``archive`` into this site."""
        return self.manage("diskette_load", archive, "--noinput", log=log)

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


def manage_help(site: Site, command: str) -> str:
    """``manage.py command --help`` (not measured): which options the command has."""
    result = subprocess.run(
        site.command(command, "--help"),
        env=site.env(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode:
        raise BenchError(f"manage.py {command} --help failed: {result.stderr.strip()}")
    return result.stdout


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
