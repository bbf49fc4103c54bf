"""``make bench``: time and peak memory of diskette against its peers, in one run.

Four cases, all by default, any of them with ``--cases``:

* ``sqlite`` (``bench_sqlite.py``): the seeded sandbox on SQLite at each of
  ``--sizes``, against plain ``dumpdata``/``loaddata`` with ``tar`` and the
  SQLite floor; from the smallest size to the largest, time must grow linearly
  and peak memory stay flat.
* ``s3``: the same sites dumped to an S3 bucket and loaded back from it, through
  the test suite's moto server (``bench_s3.py``), started for the run.
* ``postgres`` (``bench_postgres.py``): the sandbox seeded on a throwaway
  PostgreSQL cluster started for the run (``bench_pg.py``), against
  ``pg_dump``/``pg_restore`` and django-dbbackup.
* ``media`` (``bench_media.py``): few rows and a large, mostly incompressible
  media tree, against ``tar`` with gzip and with zstd, and the original
  diskette 0.6.0.

Each step runs in a real subprocess, timed on the wall clock, with the child's
peak RSS from ``os.wait4``. Seeding and migrations are not timed. The run
prints the peers' versions and commands, one table of steps per case and size,
then one table of every target with PASS or FAIL, and writes all of it as JSON.
Only public surfaces are used: ``manage.py`` commands and the peers' command
lines; nothing of diskette is imported.
"""

from __future__ import annotations

import argparse
import compileall
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sandbox.sites import REPO_ROOT  # noqa: E402
from tests.benchmarks import (  # noqa: E402
    bench_media,
    bench_pg,
    bench_postgres,
    bench_s3,
    bench_sqlite,
)
from tests.benchmarks.bench_cli import environment, parse  # noqa: E402
from tests.benchmarks.bench_peers import peers  # noqa: E402
from tests.benchmarks.bench_report import (  # noqa: E402
    growth,
    overall,
    peers_header,
    step_table,
    targets,
    targets_table,
)
from tests.benchmarks.bench_runs import (  # noqa: E402
    BenchError,
    Site,
    floor_dump,
    floor_restore,
)


class Bench:
    """One benchmark run: its options, work directory and migrated template site."""

    def __init__(self, options: argparse.Namespace, work: Path) -> None:
        self.options = options
        self.work = work
        self.template: Site | None = None
        #: The S3 server of the run, None when the S3 steps do not run, and why.
        self.s3: bench_s3.S3Destination | None = None
        self.s3_skipped: str | None = None

    def fresh_site(self, var: Path) -> Site:
        """A SQLite site with a migrated, empty database (a copy of the template)."""
        if self.template is None:
            self.template = Site(self.work / "template")
            started = time.perf_counter()
            self.template.manage(
                "migrate", "--verbosity", "0", log=self.work / "logs" / "migrate"
            )
            print(
                f"migrated the template database in {time.perf_counter() - started:.1f}s "
                "(not counted)",
                flush=True,
            )
        shutil.rmtree(var, ignore_errors=True)
        site = Site(var)
        shutil.copyfile(self.template.database, site.database)
        site.media.mkdir()
        return site


def start_s3(bench: Bench) -> dict:
    """The run's S3 server, if the s3 case runs; its JSON entry.

    A server that does not start while its packages are there is an error, not a
    skip: the S3 figures would otherwise go missing unnoticed.
    """
    options = bench.options
    reason = None if "s3" in options.cases else "case s3 not run"
    reason = reason or bench_s3.missing_requirement()
    if reason is not None:
        print(f"S3 steps skipped: {reason}", flush=True)
        bench.s3_skipped = reason
        return bench_s3.skipped(reason)
    try:
        bench.s3 = bench_s3.start(bench.work / "s3")
    except Exception as error:  # ImportError, OSError, RuntimeError, botocore
        raise BenchError(
            f"the S3 server (moto) did not start: {error} (--no-s3 runs without S3)"
        ) from error
    return bench.s3.describe()


def run_sqlite(bench: Bench, report: dict) -> None:
    """The sqlite and s3 cases: every size, the S3 server up for all of them."""
    options = bench.options
    report["s3"] = start_s3(bench)
    try:
        report["sizes"] = [
            bench_sqlite.run_size(bench, size, media_files)
            for size, media_files in zip(
                options.sizes, options.media_files, strict=True
            )
        ]
    finally:
        if bench.s3 is not None:
            bench.s3.stop()
            bench.s3 = None
    report["growth"] = growth(report["sizes"], skipped="sqlite" not in options.cases)


def run_postgres(bench: Bench, report: dict) -> None:
    """The postgres case, its cluster up for the case only."""
    try:
        server = bench_pg.start(bench.work / "pg")
    except Exception as error:  # OSError, RuntimeError from the holder
        raise BenchError(
            f"the PostgreSQL cluster did not start: {error} "
            "(is PostgreSQL installed? --cases without postgres runs without it)"
        ) from error
    report["peers"] |= peers(["postgres"], server.details["bindir"], Path())
    try:
        report["postgres"] = bench_postgres.run_case(bench, server)
    finally:
        server.stop()
    report["postgres"]["server"] = server.details["version"]


def run_cases(bench: Bench, report: dict) -> None:
    cases = bench.options.cases
    if "sqlite" in cases or "s3" in cases:
        run_sqlite(bench, report)
    if "postgres" in cases:
        run_postgres(bench, report)
    if "media" in cases:
        report["media"] = bench_media.run_case(bench)


def print_report(report: dict) -> None:
    print("\n" + peers_header(report["peers"]) + "\n")
    for result in report.get("sizes") or []:
        heading = (
            f"sqlite: {result['objects']:,} objects requested "
            f"({result['dumped_objects']:,} dumped, {result['seeded_rows']:,} rows), "
            f"{result['media_files']} media files"
        )
        print(step_table(heading, result["steps"]) + "\n")
    if report.get("postgres"):
        pg = report["postgres"]
        heading = (
            f"postgres: {pg['objects']:,} objects requested "
            f"({pg['seeded_rows']:,} rows, {len(pg['tables'])} tables), "
            f"{pg['server']}"
        )
        print(step_table(heading, pg["steps"]) + "\n")
    if report.get("media"):
        media = report["media"]
        heading = (
            f"media: {media['files']:,} files, {media['media_bytes'] / 2**20:,.0f} MiB "
            f"({media['tree']['text_files']} text files), "
            f"{media['seeded_rows']} rows"
        )
        print(step_table(heading, media["steps"]) + "\n")
    print("targets")
    print(targets_table(report["targets"], report["passed"]))


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    if options.floor_dump:
        floor_dump(*options.floor_dump)
        return 0
    if options.floor_restore:
        floor_restore(*options.floor_restore)
        return 0
    if options.workdir:
        options.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="diskette-bench-", dir=options.workdir))
    print(f"work directory: {work}", flush=True)
    # Steps run with PYTHONDONTWRITEBYTECODE (the tree stays as it is); compiled
    # once here, as an installed package is, so that no step compiles diskette.
    for package in ("diskette", "sandbox"):
        compileall.compile_dir(REPO_ROOT / package, quiet=1)
    bench = Bench(options, work)
    report: dict = {
        "environment": environment(),
        "peers": peers(
            [case for case in options.cases if case != "postgres"],
            None,
            options.diskette06_python,
        ),
        "options": {
            "cases": options.cases,
            "sizes": options.sizes,
            "media_files": options.media_files,
            "repeat": options.repeat,
            "skip_plain_above": options.skip_plain_above,
            "pg_objects": options.pg_objects,
            "heavy_files": options.heavy_files,
            "heavy_bytes": options.heavy_bytes,
        },
        "s3": bench_s3.skipped("case s3 not run"),
        "sizes": [],
        "growth": None,
        "postgres": None,
        "media": None,
    }
    started = time.perf_counter()
    try:
        run_cases(bench, report)
    except BenchError as error:
        print(
            f"benchmark failed: {error}\nwork directory kept: {work}", file=sys.stderr
        )
        return 1
    except BaseException:
        print(f"work directory kept: {work}", file=sys.stderr)
        raise
    report["targets"] = targets(report)
    report["passed"] = overall(report["targets"])
    report["seconds"] = round(time.perf_counter() - started, 1)
    print_report(report)
    print(f"\nbenchmark took {report['seconds']:.0f}s")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    print(f"results written to {options.output}")
    if options.keep:
        print(f"work directory kept: {work}")
    else:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
