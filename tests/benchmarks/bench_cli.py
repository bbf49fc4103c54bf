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

DEFAULT_OUTPUT = REPO_ROOT / "tests" / "benchmarks" / "results" / "latest.json"
DEFAULT_SIZES = "50000,500000"
#: One generated media file per this many objects (at least MIN_MEDIA_FILES).
OBJECTS_PER_MEDIA_FILE = 250
MIN_MEDIA_FILES = 20


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
        "--no-s3",
        action="store_true",
        help="skip the dump to S3 and the load from it (no moto server started)",
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
