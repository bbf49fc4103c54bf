"""The benchmark's command line and the environment it records with its figures."""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from sandbox.sites import REPO_ROOT
from tests.benchmarks.bench_original import DEFAULT_PYTHON as DISKETTE06_PYTHON

DEFAULT_OUTPUT = REPO_ROOT / "tests" / "benchmarks" / "results" / "latest.json"
#: Every case, in the order they run.
CASES = ("sqlite", "s3", "postgres", "media")
DEFAULT_SIZES = "50000,500000"
#: Plain dumpdata/loaddata take 20 minutes at 500,000 objects, and loaddata's
#: memory grows with the data (over 1 GiB there): by default they run at the
#: smallest default size only.
DEFAULT_SKIP_PLAIN_ABOVE = 50_000
DEFAULT_PG_OBJECTS = 500_000
DEFAULT_HEAVY_FILES = 20_000
DEFAULT_HEAVY_BYTES = "2G"
#: One generated media file per this many objects (at least MIN_MEDIA_FILES).
OBJECTS_PER_MEDIA_FILE = 250
MIN_MEDIA_FILES = 20
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


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


def byte_size(text: str) -> int:
    """``2G``, ``50M``, ``800K`` or a number of bytes (binary units)."""
    number, unit = text.strip().upper().rstrip("IB"), ""
    if number and number[-1] in UNITS:
        number, unit = number[:-1], number[-1]
    try:
        value = int(float(number) * UNITS[unit])
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected a size such as 2G: {text!r}"
        ) from error
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive size: {text!r}")
    return value


def cases(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(CASES))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown case {', '.join(unknown) or '(none)'}: choose from {', '.join(CASES)}"
        )
    return [case for case in CASES if case in chosen]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark diskette_dump/diskette_load on the seeded sandbox "
        "against dumpdata/loaddata, the SQLite floor, S3, pg_dump/pg_restore, "
        "django-dbbackup, tar, zstd and diskette 0.6.0."
    )
    parser.add_argument(
        "--cases",
        type=cases,
        default=list(CASES),
        help=f"cases to run, separated by commas (default all: {','.join(CASES)})",
    )
    parser.add_argument(
        "--sizes",
        type=integers,
        default=integers(DEFAULT_SIZES),
        help=f"sqlite: objects to seed, one site per size (default {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--media-files",
        type=integers,
        help="sqlite: generated media files per size, same order as --sizes "
        f"(default: one per {OBJECTS_PER_MEDIA_FILE} objects, at least {MIN_MEDIA_FILES})",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each step N times, keep the fastest"
    )
    parser.add_argument(
        "--skip-plain-above",
        type=int,
        metavar="N",
        default=DEFAULT_SKIP_PLAIN_ABOVE,
        help="sqlite: skip plain dumpdata/loaddata for sizes above N objects "
        f"(default {DEFAULT_SKIP_PLAIN_ABOVE}; -1: never skip)",
    )
    parser.add_argument(
        "--no-s3",
        action="store_true",
        help="leave the s3 case out (no moto server started)",
    )
    parser.add_argument(
        "--pg-objects",
        type=int,
        default=DEFAULT_PG_OBJECTS,
        help=f"postgres: objects to seed (default {DEFAULT_PG_OBJECTS})",
    )
    parser.add_argument(
        "--heavy-files",
        type=int,
        default=DEFAULT_HEAVY_FILES,
        help=f"media: files of the media tree (default {DEFAULT_HEAVY_FILES})",
    )
    parser.add_argument(
        "--heavy-bytes",
        type=byte_size,
        default=byte_size(DEFAULT_HEAVY_BYTES),
        help=f"media: total size of the media tree (default {DEFAULT_HEAVY_BYTES})",
    )
    parser.add_argument(
        "--diskette06-python",
        type=lambda text: Path(text).absolute(),  # the steps run elsewhere
        default=DISKETTE06_PYTHON,
        help="media: Python with diskette 0.6.0 installed (default .venv-diskette06)",
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
    if options.pg_objects < 20 or options.heavy_files < 1:
        parser.error("--pg-objects must be at least 20, --heavy-files at least 1")
    if options.skip_plain_above is not None and options.skip_plain_above < 0:
        options.skip_plain_above = None
    if options.no_s3 and "s3" in options.cases:
        options.cases.remove("s3")
    # Growth compares the smallest size with the largest: run them in that order.
    pairs = sorted(zip(options.sizes, media, strict=True))
    options.sizes = [size for size, _ in pairs]
    options.media_files = [files for _, files in pairs]
    return options


def interpreter() -> str:
    """The running Python, relative to the repository when it is one of its venvs."""
    path = Path(sys.executable).absolute()
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


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
        "executable": interpreter(),
        "django": django,
        "diskette": diskette,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
    }
