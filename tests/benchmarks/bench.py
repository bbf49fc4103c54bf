"""``make bench``: time and peak memory of diskette against its baselines.

For each size, the sandbox is seeded into its own SQLite site, then each step runs
in a real subprocess, timed on the wall clock, with the child's peak RSS taken from
``os.wait4``: diskette's dump and load, plain ``dumpdata`` (the lines of
``diskette_dump --no-archive``) plus ``tar czf``, plain ``loaddata`` of the same
fixtures, and the SQLite floor (``iterdump`` through gzip, and replaying that
script). Unless ``--no-s3``, the dump also goes to an S3 bucket and is loaded back
from it, through the test suite's moto server (``bench_s3.py``), started for the
run. Loads go into a copy of a freshly migrated database, so migrations are not
timed. One table per size and the growth across sizes are printed and written as
JSON. Only public surfaces are used: ``manage.py`` commands and Python's ``sqlite3``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks import bench_s3  # noqa: E402
from tests.benchmarks.bench_cli import environment, parse  # noqa: E402
from tests.benchmarks.bench_report import (  # noqa: E402
    growth,
    growth_table,
    overall,
    ratios,
    table,
)
from tests.benchmarks.bench_runs import (  # noqa: E402
    BenchError,
    Run,
    Site,
    best,
    check_counts,
    combine,
    floor_dump,
    floor_restore,
    mib,
    run,
)

#: (key, label) of every measured step, in table order.
STEPS = (
    ("dump", "diskette_dump"),
    ("load", "diskette_load"),
    ("s3_dump", "diskette_dump --to S3"),
    ("s3_load", "diskette_load --from S3"),
    ("plain_dump", "dumpdata + tar czf"),
    ("plain_load", "loaddata"),
    ("floor_dump", "floor dump (iterdump + gzip)"),
    ("floor_restore", "floor restore (executescript)"),
)
#: Order the steps run in: the floor first, plain_dump before plain_load.
MEASURE_ORDER = (
    "floor_dump",
    "floor_restore",
    "dump",
    "load",
    "s3_dump",
    "s3_load",
    "plain_dump",
    "plain_load",
)


class Bench:
    """One benchmark run: its options, work directory and migrated template site."""

    def __init__(self, options: argparse.Namespace, work: Path) -> None:
        self.options = options
        self.work = work
        self.template: Site | None = None
        #: The S3 server of the run, None when the S3 steps are skipped.
        self.s3: bench_s3.S3Destination | None = None

    def fresh_site(self, var: Path) -> Site:
        """A site with a migrated, empty database (a copy of the template) and no media."""
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

    def run_size(self, size: int, media_files: int) -> dict:
        """Seed a site of ``size`` objects, measure every step, return its figures."""
        one = SizeRun(self, size, media_files)
        skip = self.options.skip_plain_above
        skipped = (
            {"plain_dump", "plain_load"} if skip is not None and size > skip else set()
        )
        if skipped:
            one.say(f"plain dumpdata/loaddata skipped (--skip-plain-above {skip})")
        if self.s3 is None:
            skipped |= {"s3_dump", "s3_load"}
        steps: dict[str, list[Run] | None] = {}
        labels = dict(STEPS)
        for key in MEASURE_ORDER:
            if key in skipped:
                steps[key] = None
                continue
            steps[key] = []
            for number in range(self.options.repeat):
                steps[key].append(getattr(one, key)(number))
                measured = steps[key][-1]
                one.say(
                    f"{labels[key]:<32} {measured.seconds:.2f}s, "
                    f"{measured.peak_rss_kib / 1024:.1f} MiB"
                )
        result = one.summary(steps)
        if not self.options.keep:
            shutil.rmtree(one.base)
        return result


class SizeRun:
    """The sites and files of one size; each step method runs once and is measured."""

    def __init__(self, bench: Bench, size: int, media_files: int) -> None:
        self.bench, self.size, self.media_files = bench, size, media_files
        self.base = bench.work / f"size-{size}"
        self.logs = self.base / "logs"
        self.source = bench.fresh_site(self.base / "source")
        started = time.perf_counter()
        self.seeded = self.source.manage(
            "seed",
            "--objects",
            str(size),
            "--media-files",
            str(media_files),
            log=self.logs / "seed",
        )
        self.say(f"seeded in {time.perf_counter() - started:.1f}s (not counted)")
        self.expected = self.source.row_counts()
        self.floor_sql = self.base / "floor.sql.gz"
        self.archive_dir = self.base / "archive"
        self.dumped: dict = {}
        self.s3_dumped: dict = {}
        self.s3_location = ""
        self.fixtures: Fixtures | None = None

    def say(self, text: str) -> None:
        print(f"[{self.size:>9,} objects] {text}", flush=True)

    def bench_py(self, *args: str) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), *args]

    def floor_dump(self, number: int) -> Run:
        return run(
            self.bench_py(
                "--floor-dump", str(self.source.database), str(self.floor_sql)
            ),
            env=self.source.env(),
            log=self.logs / f"floor-dump-{number}",
        )

    def floor_restore(self, number: int) -> Run:
        target = self.base / f"floor-{number}.sqlite3"
        target.unlink(missing_ok=True)
        measured = run(
            self.bench_py("--floor-restore", str(self.floor_sql), str(target)),
            env=self.source.env(),
            log=self.logs / f"floor-restore-{number}",
        )
        target.unlink()
        return measured

    def dump(self, number: int) -> Run:
        shutil.rmtree(self.archive_dir, ignore_errors=True)
        measured = self.source.manage(
            "diskette_dump",
            "--json",
            "--destination",
            str(self.archive_dir),
            log=self.logs / f"dump-{number}",
        )
        self.dumped = json.loads(measured.stdout)
        return measured

    def load(self, number: int) -> Run:
        target = self.bench.fresh_site(self.base / "loaded")
        measured = target.manage(
            "diskette_load",
            self.dumped["path"],
            "--noinput",
            log=self.logs / f"load-{number}",
        )
        self.check_loaded(target, self.dumped, "diskette_load")
        return measured

    def s3_environment(self) -> dict[str, str]:
        assert self.bench.s3 is not None, "the S3 steps run with a server only"
        return self.bench.s3.environment(self.s3_location)

    def s3_dump(self, number: int) -> Run:
        """The same dump, to the bucket: one prefix per run, so ``latest`` is this one."""
        self.s3_location = f"bench/size-{self.size}/dump-{number}"
        measured = self.source.manage(
            "diskette_dump",
            "--json",
            "--to",
            bench_s3.ALIAS,
            log=self.logs / f"s3-dump-{number}",
            extra_env=self.s3_environment(),
        )
        self.s3_dumped = json.loads(measured.stdout)
        for key in ("objects", "files"):
            if self.s3_dumped[key] != self.dumped[key]:
                raise BenchError(
                    f"diskette_dump --to {bench_s3.ALIAS} wrote {self.s3_dumped[key]} "
                    f"{key}, the local dump {self.dumped[key]}"
                )
        return measured

    def s3_load(self, number: int) -> Run:
        target = self.bench.fresh_site(self.base / "loaded")
        measured = target.manage(
            "diskette_load",
            "latest",
            "--from",
            bench_s3.ALIAS,
            "--noinput",
            log=self.logs / f"s3-load-{number}",
            extra_env=self.s3_environment(),
        )
        self.check_loaded(target, self.s3_dumped, "diskette_load --from")
        return measured

    def check_loaded(self, target: Site, dumped: dict, step: str) -> None:
        """Refuse a load that lost rows or media files, then remove its site."""
        check_counts(self.expected, target, step)
        restored = sum(1 for path in target.media.rglob("*") if path.is_file())
        if restored != dumped["files"]:
            raise BenchError(
                f"{step} restored {restored} media files, "
                f"the archive holds {dumped['files']}"
            )
        shutil.rmtree(target.var)

    def plain_dump(self, number: int) -> Run:
        if self.fixtures is None:
            self.fixtures = plain_fixtures(self.source, self.base / "plain", self.logs)
        parts = [
            run(
                shlex.split(line),
                env=self.source.env(),
                log=self.logs / f"dumpdata-{number}-{index}",
            )
            for index, line in enumerate(self.fixtures.lines)
        ]
        tarball = self.base / "plain.tar.gz"
        tar = ["tar", "czf", str(tarball), "-C", str(self.fixtures.directory)]
        tar += [path.name for path in self.fixtures.paths]
        tar += ["-C", str(self.source.var), "media"]
        parts.append(run(tar, env=self.source.env(), log=self.logs / f"tar-{number}"))
        tarball.unlink()
        return combine(parts)

    def plain_load(self, number: int) -> Run:
        assert self.fixtures is not None, "plain_dump runs first"
        target = self.bench.fresh_site(self.base / "loaded")
        measured = target.manage(
            "loaddata",
            *[str(path) for path in self.fixtures.paths],
            log=self.logs / f"loaddata-{number}",
        )
        check_counts(self.expected, target, "loaddata")
        shutil.rmtree(target.var)
        return measured

    def summary(self, steps: dict[str, list[Run] | None]) -> dict:
        """The figures of this size: sizes, each step's best run, the ratios."""
        result = {
            "objects": self.size,
            "media_files": self.media_files,
            "seeded_rows": sum(self.expected.values()),
            "seed_output": self.seeded.stdout.strip().splitlines()[-2:],
            "dumped_objects": self.dumped.get("objects"),
            "archive_bytes": self.dumped.get("size"),
            "s3_archive_bytes": self.s3_dumped.get("size"),
            "database_bytes": self.source.database.stat().st_size,
            "floor_dump_bytes": self.floor_sql.stat().st_size,
            "steps": {},
            "ratios": {},
        }
        for key, label in STEPS:
            runs = steps[key]
            chosen = best(runs) if runs else None
            result["steps"][key] = {
                "label": label,
                "skipped": runs is None,
                "seconds": round(chosen.seconds, 3) if chosen else None,
                "peak_rss_mib": mib(chosen.peak_rss_kib) if chosen else None,
                "runs": [
                    {
                        "seconds": round(each.seconds, 3),
                        "peak_rss_kib": each.peak_rss_kib,
                    }
                    for each in runs or []
                ],
            }
        result["ratios"] = ratios(result["steps"])
        return result


@dataclass
class Fixtures:
    directory: Path
    lines: list[str]
    paths: list[Path]


def plain_fixtures(source: Site, directory: Path, logs: Path) -> Fixtures:
    """The ``dumpdata`` lines of ``diskette_dump --no-archive`` and their outputs."""
    directory.mkdir(parents=True, exist_ok=True)
    listed = source.manage(
        "diskette_dump",
        "--no-archive",
        "--destination",
        str(directory),
        log=logs / "no-archive",
    )
    lines = [line for line in listed.stdout.splitlines() if line.strip()]
    paths = []
    for line in lines:
        outputs = [arg for arg in shlex.split(line) if arg.startswith("--output=")]
        if len(outputs) != 1:
            raise BenchError(f"no single --output= in dumpdata line: {line}")
        paths.append(Path(outputs[0].removeprefix("--output=")))
    if not lines:
        raise BenchError("diskette_dump --no-archive printed no dumpdata line")
    return Fixtures(directory, lines, paths)


def start_s3(options: argparse.Namespace, work: Path) -> tuple:
    """The run's S3 server and its JSON entry; no server when the S3 steps are skipped.

    A server that does not start while its packages are there is an error, not a
    skip: the S3 figures would otherwise go missing unnoticed.
    """
    reason = "--no-s3" if options.no_s3 else bench_s3.missing_requirement()
    if reason is not None:
        print(f"S3 steps skipped: {reason}", flush=True)
        return None, bench_s3.skipped(reason)
    try:
        destination = bench_s3.start(work / "s3")
    except Exception as error:  # ImportError, OSError, RuntimeError, botocore
        raise BenchError(
            f"the S3 server (moto) did not start: {error} (--no-s3 runs without S3)"
        ) from error
    return destination, destination.describe()


def run_sizes(bench: Bench, report: dict) -> list[dict]:
    """Every size, the S3 server up for the whole run and stopped however it ends."""
    bench.s3, report["s3"] = start_s3(bench.options, bench.work)
    try:
        return [
            bench.run_size(size, media_files)
            for size, media_files in zip(
                bench.options.sizes, bench.options.media_files, strict=True
            )
        ]
    finally:
        if bench.s3 is not None:
            bench.s3.stop()


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
    bench = Bench(options, work)
    report = {
        "environment": environment(),
        "options": {
            "sizes": options.sizes,
            "media_files": options.media_files,
            "repeat": options.repeat,
            "skip_plain_above": options.skip_plain_above,
        },
    }
    started = time.perf_counter()
    try:
        results = run_sizes(bench, report)
    except BenchError as error:
        print(
            f"benchmark failed: {error}\nwork directory kept: {work}", file=sys.stderr
        )
        return 1
    except BaseException:
        print(f"work directory kept: {work}", file=sys.stderr)
        raise
    report["sizes"] = results
    report["growth"] = growth(results)
    report["passed"] = overall(results, report["growth"])
    report["seconds"] = round(time.perf_counter() - started, 1)
    print()
    for result in results:
        print(table(result) + "\n")
    print(growth_table(report["growth"]))
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
