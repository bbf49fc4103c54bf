"""``make bench``: time and peak memory of diskette against its baselines.

For each size, the sandbox is seeded into its own SQLite site, then each step runs
in a real subprocess, timed on the wall clock, with the child's peak RSS taken from
``os.wait4``: diskette's dump and load, plain ``dumpdata`` (the lines of
``diskette_dump --no-archive``) plus ``tar czf``, plain ``loaddata`` of the same
fixtures, and the SQLite floor (``iterdump`` through gzip, and replaying that
script). Loads go into a copy of a freshly migrated database, so migrations are not
timed. One table per size and the growth across sizes are printed and written as
JSON. Only public surfaces are used: ``manage.py`` commands and Python's ``sqlite3``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sandbox.sites import MANAGE_PY, REPO_ROOT, site_environment  # noqa: E402

DEFAULT_OUTPUT = REPO_ROOT / "tests" / "benchmarks" / "results" / "latest.json"
DEFAULT_SIZES = "50000,500000"
#: One generated media file per this many objects (at least MIN_MEDIA_FILES).
OBJECTS_PER_MEDIA_FILE = 250
MIN_MEDIA_FILES = 20
#: gzip level of the floor dump: the usual default, as ``tar czf`` and diskette use.
FLOOR_COMPRESSLEVEL = 6
#: Tables whose row counts must match the source after every load.
CHECKED_TABLE_PREFIXES = ("library_", "auth_user", "auth_group")

#: (key, label) of every measured step, in table order.
STEPS = (
    ("dump", "diskette_dump"),
    ("load", "diskette_load"),
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
    "plain_dump",
    "plain_load",
)
#: (key, label, numerator step, denominator step, at most) of the per-size targets.
RATIOS = (
    ("dump_vs_floor", "dump / floor dump", "dump", "floor_dump", 5.0),
    ("dump_vs_plain", "dump / (dumpdata + tar)", "dump", "plain_dump", 0.1),
    ("load_vs_floor", "load / floor restore", "load", "floor_restore", 5.0),
    ("load_vs_plain", "load / loaddata", "load", "plain_load", 0.1),
)
#: (key, label, step, measure) of the growth from the smallest to the largest size.
GROWTH = (
    ("dump_time", "dump time growth", "dump", "seconds"),
    ("load_time", "load time growth", "load", "seconds"),
    ("dump_rss", "dump peak RSS growth", "dump", "peak_rss_mib"),
    ("load_rss", "load peak RSS growth", "load", "peak_rss_mib"),
)
#: Time may grow 1.1 times as fast as the data; peak RSS by 25 % at most.
TIME_GROWTH_FACTOR = 1.1
RSS_GROWTH_LIMIT = 1.25


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

    def env(self) -> dict[str, str]:
        return site_environment(self.var, PYTHONDONTWRITEBYTECODE="1")

    def manage(self, *args: str, log: Path) -> Run:
        return run([sys.executable, str(MANAGE_PY), *args], env=self.env(), log=log)

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


class Bench:
    """One benchmark run: its options, work directory and migrated template site."""

    def __init__(self, options: argparse.Namespace, work: Path) -> None:
        self.options = options
        self.work = work
        self.template: Site | None = None

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
        check_counts(self.expected, target, "diskette_load")
        restored = sum(1 for path in target.media.rglob("*") if path.is_file())
        if restored != self.dumped["files"]:
            raise BenchError(
                f"diskette_load restored {restored} media files, "
                f"the archive holds {self.dumped['files']}"
            )
        shutil.rmtree(target.var)
        return measured

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
        for key, label, numerator, denominator, limit in RATIOS:
            top = result["steps"][numerator]["seconds"]
            bottom = result["steps"][denominator]["seconds"]
            value = top / bottom if top and bottom else None
            result["ratios"][key] = verdict(label, value, limit)
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


def verdict(label: str, value: float | None, limit: float) -> dict:
    return {
        "label": label,
        "value": round(value, 3) if value is not None else None,
        "target": round(limit, 3),
        "pass": value <= limit if value is not None else None,
    }


def growth(results: list[dict]) -> dict[str, dict]:
    """From the smallest to the largest size: time ~linear, peak RSS ~flat."""
    first, last = results[0], results[-1]
    data = last["objects"] / first["objects"] if len(results) > 1 else None
    rows = {}
    for key, label, step, measure in GROWTH:
        before = first["steps"][step][measure]
        after = last["steps"][step][measure]
        value = after / before if data and before and after else None
        if measure == "seconds":
            limit = TIME_GROWTH_FACTOR * (data or 10)
        else:
            limit = RSS_GROWTH_LIMIT
        scale = f"x{data:g} data" if data else "needs two sizes"
        rows[key] = verdict(f"{label} ({scale})", value, limit)
    return rows


def figure(value: float | None, spec: str) -> str:
    return "skipped" if value is None else format(value, spec)


def mark(row: dict) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[row["pass"]]


def table(result: dict) -> str:
    lines = [
        f"{result['objects']:,} objects requested ({result['dumped_objects']:,} dumped, "
        f"{result['seeded_rows']:,} rows), {result['media_files']} media files",
        f"  {'step':<34}{'time (s)':>10}{'peak RSS (MiB)':>16}",
    ]
    for row in result["steps"].values():
        lines.append(
            f"  {row['label']:<34}{figure(row['seconds'], '.2f'):>10}"
            f"{figure(row['peak_rss_mib'], '.1f'):>16}"
        )
    lines.append(f"  {'ratio':<34}{'value':>10}{'target':>10}{'result':>8}")
    for row in result["ratios"].values():
        lines.append(
            f"  {row['label']:<34}{figure(row['value'], '.3f'):>10}"
            f"{'<= ' + format(row['target'], 'g'):>10}{mark(row):>8}"
        )
    return "\n".join(lines)


def growth_table(rows: dict[str, dict]) -> str:
    lines = [f"  {'across sizes':<34}{'value':>10}{'target':>10}{'result':>8}"]
    for row in rows.values():
        lines.append(
            f"  {row['label']:<34}{figure(row['value'], '.3f'):>10}"
            f"{'<= ' + format(row['target'], 'g'):>10}{mark(row):>8}"
        )
    return "\n".join(lines)


def integers(text: str) -> list[int]:
    try:
        values = [
            int(part.replace("_", "")) for part in text.split(",") if part.strip()
        ]
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected integers separated by commas: {text!r}"
        ) from error
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers: {text!r}")
    return values


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark diskette_dump/diskette_load against dumpdata, "
        "loaddata, tar and the SQLite floor on the seeded sandbox."
    )
    parser.add_argument(
        "--sizes",
        type=integers,
        default=integers(DEFAULT_SIZES),
        help=f"objects to seed, one site per size (default {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--media-files",
        type=integers,
        help="generated media files per size, same order as --sizes "
        f"(default: one per {OBJECTS_PER_MEDIA_FILE} objects, at least {MIN_MEDIA_FILES})",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each step N times, keep the fastest"
    )
    parser.add_argument(
        "--skip-plain-above",
        type=int,
        metavar="N",
        help="skip plain dumpdata/loaddata for sizes above N objects (default: never)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="JSON results file (default tests/benchmarks/results/latest.json)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="create the temporary work directory in DIR (default: system temp)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (sites, logs)"
    )
    parser.add_argument("--floor-dump", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--floor-restore", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    media = options.media_files or [
        max(MIN_MEDIA_FILES, size // OBJECTS_PER_MEDIA_FILE) for size in options.sizes
    ]
    if len(media) != len(options.sizes):
        parser.error("--media-files needs one number per --sizes entry")
    if options.repeat < 1:
        parser.error("--repeat must be at least 1")
    # Growth compares the smallest size with the largest: run them in that order.
    pairs = sorted(zip(options.sizes, media, strict=True))
    options.sizes = [size for size, _ in pairs]
    options.media_files = [files for _, files in pairs]
    return options


def environment() -> dict:
    django = subprocess.run(
        [sys.executable, "-m", "django", "--version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    try:
        diskette = metadata.version("diskette")
    except metadata.PackageNotFoundError:
        diskette = None
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "django": django,
        "diskette": diskette,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


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
    results = []
    try:
        for size, media_files in zip(options.sizes, options.media_files, strict=True):
            results.append(bench.run_size(size, media_files))
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
    verdicts = [row["pass"] for row in report["growth"].values()] + [
        row["pass"] for result in results for row in result["ratios"].values()
    ]
    # False if any target is missed, None if some could not be measured.
    report["passed"] = (
        False if False in verdicts else (None if None in verdicts else True)
    )
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
