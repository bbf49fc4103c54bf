"""The media case: a site of few rows and a large media tree, against tar and zstd.

The sandbox is seeded on SQLite with a handful of objects and no sample media,
then ``bench_media_tree.py`` writes the media tree (by default 20,000 files,
2 GiB, mostly random bytes). None of that is timed. The steps:

* ``diskette_dump`` and ``diskette_load`` (gzip, the default), against
  ``tar czf`` and ``tar xzf`` of the same media directory;
* ``diskette_dump --compression zstd`` and the load of that archive, against
  ``tar cf - | zstd -T2`` and ``zstd -dc | tar xf -``. While ``diskette_dump``
  has no ``--compression`` option, or without ``zstd``, those steps are
  ``unmeasured``, and so are the rows that need them;
* the original diskette 0.6.0's ``diskette_dump`` and ``diskette_load``
  (``bench_original.py``), in their own environment, on the same media tree.

Every load restores into a new directory and is checked: the same number of
files and bytes as the source, and for diskette's loads the same rows. The
file system's used space is sampled during each load (``DiskPeak``); what it
used beyond the restored media (the blocks the restored files take) is the
load's extra disk. Before each step, ``os.sync()`` writes out what the previous
one left in the page cache, so no step pays for another's writes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tests.benchmarks import bench_original
from tests.benchmarks.bench_media_tree import Contents, contents, write_tree
from tests.benchmarks.bench_report import MEDIA_RATIOS, ratios, verdict
from tests.benchmarks.bench_runs import (
    BenchError,
    Run,
    Site,
    Unmeasured,
    check_counts,
    figures,
    manage_help,
    measure,
    run,
)

if TYPE_CHECKING:
    from tests.benchmarks.bench import Bench

STEPS = (
    ("dump", "diskette_dump"),
    ("load", "diskette_load"),
    ("tar_dump", "tar czf"),
    ("tar_load", "tar xzf"),
    ("zstd_dump", "diskette_dump --compression zstd"),
    ("zstd_load", "diskette_load (zstd archive)"),
    ("tar_zstd_dump", "tar cf - | zstd -T2"),
    ("tar_zstd_load", "zstd -dc | tar xf -"),
    ("original_dump", f"diskette {bench_original.VERSION} diskette_dump"),
    ("original_load", f"diskette {bench_original.VERSION} diskette_load"),
)
MEASURE_ORDER = (
    "tar_dump",
    "tar_load",
    "dump",
    "load",
    "tar_zstd_dump",
    "tar_zstd_load",
    "zstd_dump",
    "zstd_load",
    "original_dump",
    "original_load",
)
#: Objects seeded besides the media tree: a site of few rows.
SEED_OBJECTS = 20


def pipe(pipeline: str) -> list[str]:
    """A shell pipeline that fails when any of its stages fails."""
    return ["bash", "-o", "pipefail", "-c", pipeline]


def absent_steps(bench: Bench, source: Site) -> dict[str, tuple[str, str]]:
    """The steps that cannot run here, and why (all ``unmeasured``)."""
    absent: dict[str, tuple[str, str]] = {}
    zstd_steps = ("zstd_dump", "zstd_load", "tar_zstd_dump", "tar_zstd_load")
    if shutil.which("zstd") is None:
        absent |= dict.fromkeys(zstd_steps, ("unmeasured", "zstd is not installed"))
    elif "--compression" not in manage_help(source, "diskette_dump"):
        reason = ("unmeasured", "diskette_dump has no --compression option")
        absent |= dict.fromkeys(("zstd_dump", "zstd_load"), reason)
    reason = bench_original.missing(bench.options.diskette06_python)
    if reason is not None:
        absent |= dict.fromkeys(
            ("original_dump", "original_load"), ("unmeasured", reason)
        )
    return absent


def run_case(bench: Bench) -> dict:
    case = MediaCase(bench, bench.options.heavy_files, bench.options.heavy_bytes)
    outcomes = measure(
        case,
        MEASURE_ORDER,
        dict(STEPS),
        repeat=bench.options.repeat,
        absent=absent_steps(bench, case.source),
        say=case.say,
    )
    result = case.summary(figures(outcomes, STEPS))
    if not bench.options.keep:
        shutil.rmtree(case.base)
    return result


class MediaCase:
    """The source site with its media tree, and one method per measured step."""

    def __init__(self, bench: Bench, files: int, size: int) -> None:
        self.bench, self.files, self.size = bench, files, size
        self.base = bench.work / "media"
        self.logs = self.base / "logs"
        self.tmp = self.base / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.source = bench.fresh_site(self.base / "source")
        self.source.manage(
            "seed", "--objects", str(SEED_OBJECTS), "--no-media", log=self.logs / "seed"
        )
        self.expected = self.source.row_counts()
        started = time.perf_counter()
        self.tree = write_tree(self.source.media, files, size)
        self.media: Contents = contents(self.source.media)
        self.say(
            f"wrote {self.tree.files:,} files, {self.tree.bytes / 2**20:,.0f} MiB "
            f"({self.tree.text_files} text) in {time.perf_counter() - started:.1f}s "
            "(not counted)"
        )
        self.archives: dict[str, Path] = {}
        self.archive_bytes: dict[str, int] = {}
        self.dumped: dict[str, dict] = {}
        self.original: bench_original.Original | None = None

    def say(self, text: str) -> None:
        print(f"[media {self.files:>9,} files] {text}", flush=True)

    def archive(self, kind: str, name: str) -> Path:
        """The path of ``kind``'s archive; the other kinds' archives are removed."""
        for other, path in list(self.archives.items()):
            if other != kind:
                shutil.rmtree(path.parent, ignore_errors=True)
                del self.archives[other]
        directory = self.base / f"archive-{kind}"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        self.archives[kind] = directory / name
        return self.archives[kind]

    def env(self) -> dict[str, str]:
        return self.source.env(TMPDIR=str(self.tmp))

    def measured_dump(self, kind: str, command: list[str], log: str) -> Run:
        os.sync()
        measured = run(command, env=self.env(), log=self.logs / log)
        self.archive_bytes[kind] = self.archives[kind].stat().st_size
        return measured

    def measured_load(
        self, command: list[str], restored: Path, log: str, **options
    ) -> Run:
        """Run a load, check what it restored, turn its disk peak into extra disk."""
        os.sync()
        measured = run(command, log=self.logs / log, sample_disk=self.base, **options)
        found = contents(restored)
        if (found.files, found.bytes) != (self.media.files, self.media.bytes):
            raise BenchError(
                f"{log} restored {found.files} files, {found.bytes} bytes; "
                f"the source has {self.media.files} files, {self.media.bytes} bytes"
            )
        assert measured.disk_peak_bytes is not None
        measured.extra_disk_bytes = max(0, measured.disk_peak_bytes - found.allocated)
        return measured

    def tar_dump(self, number: int) -> Run:
        target = self.archive("tar", "media.tar.gz")
        command = ["tar", "czf", str(target), "-C", str(self.source.var), "media"]
        return self.measured_dump("tar", command, f"tar-czf-{number}")

    def tar_load(self, number: int) -> Run:
        return self.untar(
            ["tar", "xzf", str(self.archives["tar"])], f"tar-xzf-{number}"
        )

    def untar(self, command: list[str], log: str, pipeline: str | None = None) -> Run:
        target = self.fresh_directory("untarred")
        if pipeline is not None:
            command = pipe(pipeline.format(target=target))
        else:
            command = [*command, "-C", str(target)]
        measured = self.measured_load(command, target / "media", log, env=self.env())
        shutil.rmtree(target)
        return measured

    def fresh_directory(self, name: str) -> Path:
        target = self.base / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        return target

    def tar_zstd_dump(self, number: int) -> Run:
        target = self.archive("tar_zstd", "media.tar.zst")
        pipeline = f"tar cf - -C '{self.source.var}' media | zstd -T2 -q -o '{target}'"
        return self.measured_dump("tar_zstd", pipe(pipeline), f"tar-zstd-{number}")

    def tar_zstd_load(self, number: int) -> Run:
        archive = self.archives["tar_zstd"]
        pipeline = f"zstd -dc '{archive}' | tar xf - -C '{{target}}'"
        return self.untar([], f"zstd-tar-x-{number}", pipeline=pipeline)

    def diskette_dump(self, kind: str, number: int, *options: str) -> Run:
        directory = self.archive(kind, "unknown").parent
        os.sync()
        measured = run(
            self.source.command(
                "diskette_dump", "--json", "--destination", str(directory), *options
            ),
            env=self.env(),
            log=self.logs / f"{kind}-dump-{number}",
        )
        self.dumped[kind] = json.loads(measured.stdout)
        self.archives[kind] = Path(self.dumped[kind]["path"])
        self.archive_bytes[kind] = self.archives[kind].stat().st_size
        if self.dumped[kind]["files"] != self.media.files:
            raise BenchError(
                f"diskette_dump ({kind}) archived {self.dumped[kind]['files']} files, "
                f"the media directory has {self.media.files}"
            )
        return measured

    def diskette_load(self, kind: str, number: int) -> Run:
        target = self.bench.fresh_site(self.base / "loaded")
        command = target.command("diskette_load", str(self.archives[kind]), "--noinput")
        measured = self.measured_load(
            command,
            target.media,
            f"{kind}-load-{number}",
            env=target.env(TMPDIR=str(self.tmp)),
        )
        check_counts(self.expected, target, f"diskette_load ({kind})")
        shutil.rmtree(target.var)
        return measured

    def dump(self, number: int) -> Run:
        return self.diskette_dump("gzip", number)

    def load(self, number: int) -> Run:
        return self.diskette_load("gzip", number)

    def zstd_dump(self, number: int) -> Run:
        """The zstd dump; ``unmeasured`` when the site lacks the zstd package."""
        try:
            return self.diskette_dump("zstd", number, "--compression", "zstd")
        except BenchError as error:
            lines = str(error).splitlines()
            if "zstandard" in str(error) and "not installed" in str(error):
                raise Unmeasured(lines[-1].strip()) from error
            raise

    def zstd_load(self, number: int) -> Run:
        if "zstd" not in self.dumped:
            raise Unmeasured("no zstd archive: the zstd dump did not run")
        return self.diskette_load("zstd", number)

    def original_dump(self, number: int) -> Run:
        if self.original is None:
            python = self.bench.options.diskette06_python
            self.original = bench_original.Original(python, self.base / "original")
            self.original.migrate_template(self.logs / "original-migrate")
        self.archive("original", "unknown")
        database = self.original.database(self.base / "original-source.sqlite3")
        os.sync()
        measured, archive = self.original.dump(
            self.source.media, database, self.logs / f"original-dump-{number}"
        )
        self.archives["original"] = archive
        self.archive_bytes["original"] = archive.stat().st_size
        return measured

    def original_load(self, number: int) -> Run:
        assert self.original is not None, "original_dump runs first"
        target = self.fresh_directory("original-loaded")
        database = self.original.database(target / "db.sqlite3")
        measured = self.measured_load(
            self.original.load_command(self.archives["original"]),
            target / "media",
            f"original-load-{number}",
            env=self.original.env(database, target / "media", target),
            cwd=self.original.directory,
        )
        shutil.rmtree(target)
        return measured

    def summary(self, steps: dict[str, dict]) -> dict:
        rows = ratios(steps, MEDIA_RATIOS)
        extra = steps["load"]["extra_disk_bytes"]
        rows["load_extra_disk"] = verdict(
            "extra disk during load (MiB)",
            extra / 2**20 if extra is not None else None,
            self.media.bytes / 2**20,
            skipped=steps["load"]["status"] == "skipped",
        )
        return {
            "files": self.files,
            "requested_bytes": self.size,
            "tree": self.tree.as_dict(),
            "media_bytes": self.media.bytes,
            "media_allocated_bytes": self.media.allocated,
            "seeded_rows": sum(self.expected.values()),
            "archive_bytes": self.archive_bytes,
            "steps": steps,
            "ratios": rows,
        }
