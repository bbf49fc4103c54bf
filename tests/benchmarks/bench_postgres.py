"""The PostgreSQL case: the seeded sandbox on PostgreSQL, against its own tools.

The sandbox is seeded (not timed) into a database of the run's throwaway
cluster (``bench_pg.py``), without media files, so that every step moves the
same thing, the site's rows. Then:

* ``diskette_dump`` and ``diskette_load``, the load into a fresh migrated
  database: a copy of a migrated template (``createdb --template``), so
  migrations are not timed.
* ``pg_dump -Fc`` of the site's content tables (every table but
  ``django_migrations`` and ``django_session``: diskette's tables plus the
  content types and permissions they reference), and ``pg_restore`` of it,
  custom format, one job, into a fresh *empty* database. That is what a user of
  the PostgreSQL tools does, and the honest comparison: ``pg_restore`` then
  creates the tables and builds their indexes and constraints after the data,
  where ``diskette_load`` inserts into the migrated schema (indexes in place).
  A ``--data-only`` restore into the migrated schema would need
  ``--disable-triggers`` and is not what users run.
* django-dbbackup's ``dbbackup`` and ``dbrestore`` with their defaults for
  PostgreSQL (``pg_dump --format=custom`` of the whole database, then
  ``pg_restore --single-transaction --clean --if-exists``), the restore into a
  fresh migrated database, as a site restores over itself. django-dbbackup is
  no dependency of the project: the benchmark's virtual environment has it
  (``make bench``), and ``SANDBOX_DBBACKUP=1`` adds its app to the sandbox's
  settings for these two steps only. Without it, both are ``unmeasured``.

Every load is checked: the same rows in the checked tables as the source.
"""

from __future__ import annotations

import importlib.util
import shutil
import time
from typing import TYPE_CHECKING

from tests.benchmarks.bench_pg import PgServer, PgSite
from tests.benchmarks.bench_report import PG_RATIOS, ratios
from tests.benchmarks.bench_runs import (
    BenchError,
    Run,
    check_counts,
    figures,
    measure,
    run,
)

if TYPE_CHECKING:
    from tests.benchmarks.bench import Bench

STEPS = (
    ("dump", "diskette_dump"),
    ("load", "diskette_load"),
    ("pg_dump", "pg_dump -Fc"),
    ("pg_restore", "pg_restore (empty database)"),
    ("dbbackup", "dbbackup (django-dbbackup)"),
    ("dbrestore", "dbrestore (django-dbbackup)"),
)
MEASURE_ORDER = ("pg_dump", "pg_restore", "dump", "load", "dbbackup", "dbrestore")
TEMPLATE = "bench_template"
SOURCE = "bench_source"
TARGET = "bench_target"


def dbbackup_missing() -> str | None:
    """Why the django-dbbackup steps cannot run in this Python, or None."""
    if importlib.util.find_spec("dbbackup") is None:
        return "django-dbbackup is not installed here (make bench installs it)"
    return None


def run_case(bench: Bench, server: PgServer) -> dict:
    """Seed the site on PostgreSQL, measure every step, return the figures."""
    case = PostgresCase(bench, server, bench.options.pg_objects)
    absent = {}
    reason = dbbackup_missing()
    if reason is not None:
        absent = dict.fromkeys(("dbbackup", "dbrestore"), ("unmeasured", reason))
    outcomes = measure(
        case,
        MEASURE_ORDER,
        dict(STEPS),
        repeat=bench.options.repeat,
        absent=absent,
        say=case.say,
    )
    result = case.summary(figures(outcomes, STEPS))
    for database in (SOURCE, TARGET, TEMPLATE):
        server.drop(database)
    if not bench.options.keep:
        shutil.rmtree(case.base)
    return result


class PostgresCase:
    """The source site, its dumps, and one method per measured step."""

    def __init__(self, bench: Bench, server: PgServer, objects: int) -> None:
        self.bench, self.server, self.objects = bench, server, objects
        self.base = bench.work / "postgres"
        self.logs = self.base / "logs"
        started = time.perf_counter()
        server.drop(TEMPLATE)
        server.create(TEMPLATE, "template0")
        template = PgSite(self.base / "template", server, TEMPLATE)
        template.manage("migrate", "--verbosity", "0", log=self.logs / "migrate")
        self.say(f"migrated the template in {time.perf_counter() - started:.1f}s")
        self.source = self.fresh(SOURCE, "source")
        started = time.perf_counter()
        self.seeded = self.source.manage(
            "seed", "--objects", str(objects), "--no-media", log=self.logs / "seed"
        )
        self.say(f"seeded in {time.perf_counter() - started:.1f}s (not counted)")
        self.expected = self.source.row_counts()
        self.tables = server.content_tables(SOURCE)
        self.pg_file = self.base / "site.pgdump"
        self.dbbackup_file = self.base / "site.dbbackup"
        self.archive_dir = self.base / "archive"
        self.dumped: dict = {}

    def say(self, text: str) -> None:
        print(f"[postgres {self.objects:>9,} objects] {text}", flush=True)

    def fresh(self, database: str, name: str, template: str = TEMPLATE) -> PgSite:
        """A site on a new copy of ``template``, with an empty media directory."""
        self.server.drop(database)
        self.server.create(database, template)
        var = self.base / name
        shutil.rmtree(var, ignore_errors=True)
        site = PgSite(var, self.server, database)
        site.media.mkdir()
        return site

    def done(self, site: PgSite, step: str) -> None:
        """Refuse a load that lost rows, then drop its database."""
        check_counts(self.expected, site, step)
        self.server.drop(site.name)
        shutil.rmtree(site.var)

    def pg_dump(self, number: int) -> Run:
        self.pg_file.unlink(missing_ok=True)
        command = [self.server.tool("pg_dump"), *self.server.connection()]
        command += ["--format=custom", "--file", str(self.pg_file)]
        command += [f"--table={name}" for name in self.tables]
        return run(
            [*command, SOURCE],
            env=self.source.env(),
            log=self.logs / f"pg-dump-{number}",
        )

    def pg_restore(self, number: int) -> Run:
        target = self.fresh(TARGET, "restored", template="template0")
        command = [self.server.tool("pg_restore"), *self.server.connection()]
        command += ["--exit-on-error", "--dbname", TARGET, str(self.pg_file)]
        measured = run(
            command, env=target.env(), log=self.logs / f"pg-restore-{number}"
        )
        self.done(target, "pg_restore")
        return measured

    def dump(self, number: int) -> Run:
        measured, self.dumped = self.source.diskette_dump(
            self.archive_dir, self.logs / f"dump-{number}"
        )
        return measured

    def load(self, number: int) -> Run:
        target = self.fresh(TARGET, "loaded")
        measured = target.diskette_load(
            self.dumped["path"], self.logs / f"load-{number}"
        )
        self.done(target, "diskette_load")
        return measured

    def dbbackup(self, number: int) -> Run:
        self.dbbackup_file.unlink(missing_ok=True)
        measured = self.source.manage(
            "dbbackup",
            "--noinput",
            "--database",
            "default",
            "--output-path",
            str(self.dbbackup_file),
            log=self.logs / f"dbbackup-{number}",
            extra_env={"SANDBOX_DBBACKUP": "1"},
        )
        if not self.dbbackup_file.is_file():
            raise BenchError(f"dbbackup wrote no {self.dbbackup_file}")
        return measured

    def dbrestore(self, number: int) -> Run:
        target = self.fresh(TARGET, "dbrestored")
        measured = target.manage(
            "dbrestore",
            "--noinput",
            "--database",
            "default",
            "--input-path",
            str(self.dbbackup_file),
            log=self.logs / f"dbrestore-{number}",
            extra_env={"SANDBOX_DBBACKUP": "1"},
        )
        self.done(target, "dbrestore")
        return measured

    def summary(self, steps: dict[str, dict]) -> dict:
        def size(path) -> int | None:
            return path.stat().st_size if path.exists() else None

        return {
            "objects": self.objects,
            "seeded_rows": sum(self.expected.values()),
            "seed_output": self.seeded.stdout.strip().splitlines()[-1:],
            "dumped_objects": self.dumped.get("objects"),
            "archive_bytes": self.dumped.get("size"),
            "database_bytes": self.server.size(SOURCE),
            "pg_dump_bytes": size(self.pg_file),
            "dbbackup_bytes": size(self.dbbackup_file),
            "tables": self.tables,
            "steps": steps,
            "ratios": ratios(steps, PG_RATIOS),
        }
