"""The SQLite case: one seeded sandbox site per size, against plain Django and SQLite.

For each size, the sandbox is seeded into its own SQLite site, then each step
runs in a real subprocess: diskette's dump and load, plain ``dumpdata`` (the
lines of ``diskette_dump --no-archive``) plus ``tar czf``, plain ``loaddata`` of
the same fixtures, and the SQLite floor (``iterdump`` through gzip, and
replaying that script). With the ``s3`` case, the dump also goes to an S3
bucket and is loaded back from it, through the test suite's moto server
(``bench_s3.py``). Loads go into a copy of a freshly migrated database, so
migrations are not timed.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.benchmarks import bench_s3
from tests.benchmarks.bench_report import RATIOS, ratios
from tests.benchmarks.bench_runs import (
    BenchError,
    Run,
    Site,
    check_counts,
    combine,
    figures,
    measure,
    run,
)

if TYPE_CHECKING:
    from tests.benchmarks.bench import Bench

BENCH_PY = Path(__file__).resolve().with_name("bench.py")

#: (key, label) of every measured step, in table order.
STEPS = (
    ("dump", "diskette_dump"),
    ("load", "diskette_load"),
    ("s3_dump", "diskette_dump --to S3"),
    ("s3_load", "diskette_load --from S3"),
    ("encrypted_dump", "diskette_dump --encrypt-to (age)"),
    ("encrypted_load", "diskette_load --identity (age)"),
    ("anonymised_dump", "diskette_dump --anonymise"),
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
    "encrypted_dump",
    "encrypted_load",
    "anonymised_dump",
    "plain_dump",
    "plain_load",
)
#: The steps of the ``sqlite`` case; dump and load also run for ``s3`` alone.
SQLITE_ONLY = ("floor_dump", "floor_restore", "plain_dump", "plain_load")
SQLITE_ONLY += ("encrypted_dump", "encrypted_load", "anonymised_dump")


def absent_steps(bench: Bench, size: int) -> dict[str, tuple[str, str]]:
    """The steps that do not run at this size, and why."""
    options = bench.options
    absent: dict[str, tuple[str, str]] = {}
    if "sqlite" not in options.cases:
        absent |= dict.fromkeys(SQLITE_ONLY, ("skipped", "case sqlite not run"))
    skip = options.skip_plain_above
    if skip is not None and size > skip:
        reason = ("skipped", f"--skip-plain-above {skip}")
        absent.setdefault("plain_dump", reason)
        absent.setdefault("plain_load", reason)
    if bench.s3 is None:
        reason = ("skipped", bench.s3_skipped or "case s3 not run")
        absent |= {"s3_dump": reason, "s3_load": reason}
    return absent


def run_size(bench: Bench, size: int, media_files: int) -> dict:
    """Seed a site of ``size`` objects, measure every step, return its figures."""
    one = SizeRun(bench, size, media_files)
    outcomes = measure(
        one,
        MEASURE_ORDER,
        dict(STEPS),
        repeat=bench.options.repeat,
        absent=absent_steps(bench, size),
        say=one.say,
    )
    result = one.summary(figures(outcomes, STEPS))
    if not bench.options.keep:
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
        self.say(
            f"seeded in {time.perf_counter() - started:.1f}s, "
            f"{self.seeded.peak_rss_kib / 1024:.0f} MiB (not counted)"
        )
        self.expected = self.source.row_counts()
        self.floor_sql = self.base / "floor.sql.gz"
        self.archive_dir = self.base / "archive"
        self.dumped: dict = {}
        self.s3_dumped: dict = {}
        self.s3_location = ""
        self.fixtures: Fixtures | None = None
        self.encrypted: dict = {}
        self.keys = self.base / "keys"

    def say(self, text: str) -> None:
        print(f"[sqlite {self.size:>9,} objects] {text}", flush=True)

    def bench_py(self, *args: str) -> list[str]:
        return [sys.executable, str(BENCH_PY), *args]

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
        measured, self.dumped = self.source.diskette_dump(
            self.archive_dir, self.logs / f"dump-{number}"
        )
        return measured

    def load(self, number: int) -> Run:
        target = self.bench.fresh_site(self.base / "loaded")
        measured = target.diskette_load(
            self.dumped["path"], self.logs / f"load-{number}"
        )
        self.check_loaded(target, self.dumped, "diskette_load")
        return measured

    def recipient(self) -> str:
        """The age public key of a new identity (made once, not measured)."""
        identity = self.keys / "diskette-age.key"
        if not identity.exists():
            self.keys.mkdir(parents=True, exist_ok=True)
            self.source.manage(
                "diskette_keys",
                "--directory",
                str(self.keys),
                "--kind",
                "age",
                log=self.logs / "keys",
            )
        text = identity.read_text()
        return text.split("# public key: ", 1)[1].split()[0]

    def encrypted_dump(self, number: int) -> Run:
        """The same dump, encrypted with age to one recipient."""
        directory = self.base / "encrypted"
        shutil.rmtree(directory, ignore_errors=True)
        measured = self.source.manage(
            "diskette_dump",
            "--json",
            "--destination",
            str(directory),
            "--encrypt-to",
            self.recipient(),
            log=self.logs / f"encrypted-dump-{number}",
        )
        self.encrypted = json.loads(measured.stdout)
        return measured

    def encrypted_load(self, number: int) -> Run:
        target = self.bench.fresh_site(self.base / "loaded")
        measured = target.manage(
            "diskette_load",
            self.encrypted["path"],
            "--identity",
            str(self.keys / "diskette-age.key"),
            "--noinput",
            log=self.logs / f"encrypted-load-{number}",
        )
        self.check_loaded(target, self.encrypted, "diskette_load --identity")
        return measured

    def anonymised_dump(self, number: int) -> Run:
        """The same dump with the built-in sharing profile's rules applied."""
        directory = self.base / "anonymised"
        shutil.rmtree(directory, ignore_errors=True)
        return self.source.manage(
            "diskette_dump",
            "--destination",
            str(directory),
            "--anonymise",
            log=self.logs / f"anonymised-dump-{number}",
            extra_env={"DISKETTE_ANONYMISE_SALT": "benchmark"},
        )

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

    def summary(self, steps: dict[str, dict]) -> dict:
        """The figures of this size: sizes, each step's best run, the ratios."""
        return {
            "objects": self.size,
            "media_files": self.media_files,
            "seeded_rows": sum(self.expected.values()),
            "seed_output": self.seeded.stdout.strip().splitlines()[-2:],
            "seed_peak_rss_mib": round(self.seeded.peak_rss_kib / 1024, 1),
            "dumped_objects": self.dumped.get("objects"),
            "archive_bytes": self.dumped.get("size"),
            "s3_archive_bytes": self.s3_dumped.get("size"),
            "database_bytes": self.source.database.stat().st_size,
            "floor_dump_bytes": (
                self.floor_sql.stat().st_size if self.floor_sql.exists() else None
            ),
            "steps": steps,
            "ratios": ratios(steps, RATIOS),
        }


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
