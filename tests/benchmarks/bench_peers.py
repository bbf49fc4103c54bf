"""The peers a run compares diskette with: their versions and command lines.

Printed at the head of the results and written to the JSON (``peers``), so a
figure can always be traced to the tool and the exact command it came from.
The command lines are the shapes the cases run, with their paths left out.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from importlib import metadata
from pathlib import Path

from tests.benchmarks import bench_original


def first_line(command: list[str]) -> str | None:
    """The first line ``command`` prints (``--version``), None if it cannot run."""
    if shutil.which(command[0]) is None and not Path(command[0]).is_file():
        return None
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return None
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0].strip(" *") if result.returncode == 0 and lines else None


def package(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def peer(version: str | None, *commands: str, reason: str | None = None) -> dict:
    return {
        "version": version,
        "reason": None if version else (reason or "not installed"),
        "commands": list(commands),
    }


def sqlite_peers() -> dict[str, dict]:
    return {
        "Django": peer(
            package("Django"),
            "manage.py dumpdata ... (each line of diskette_dump --no-archive)",
            "manage.py loaddata FIXTURE...",
        ),
        "SQLite floor": peer(
            sqlite3.sqlite_version,
            "sqlite3 iterdump() through gzip -6",
            "sqlite3 executescript() into a new file",
        ),
        "tar": peer(first_line(["tar", "--version"]), "tar czf ARCHIVE FIXTURES media"),
    }


def postgres_peers(bindir: str | None) -> dict[str, dict]:
    def tool(name: str) -> str | None:
        return first_line([str(Path(bindir) / name), "--version"]) if bindir else None

    return {
        "pg_dump": peer(
            tool("pg_dump"),
            "pg_dump --format=custom --file FILE --table=TABLE... SOURCE",
        ),
        "pg_restore": peer(
            tool("pg_restore"),
            "pg_restore --exit-on-error --dbname EMPTY FILE",
        ),
        "django-dbbackup": peer(
            package("django-dbbackup"),
            "manage.py dbbackup --noinput --database default --output-path FILE",
            "manage.py dbrestore --noinput --database default --input-path FILE",
            reason="not installed here (make bench installs it)",
        ),
    }


def media_peers(diskette06_python: Path) -> dict[str, dict]:
    found = bench_original.versions(diskette06_python)
    original = f"diskette {found[0]} (Django {found[1]})" if found else None
    return {
        "tar": peer(
            first_line(["tar", "--version"]),
            "tar czf ARCHIVE -C SITE media",
            "tar xzf ARCHIVE -C TARGET",
        ),
        "gzip": peer(first_line(["gzip", "--version"]), "(what tar z runs)"),
        "zstd": peer(
            first_line(["zstd", "--version"]),
            "tar cf - -C SITE media | zstd -T2 -q -o ARCHIVE",
            "zstd -dc ARCHIVE | tar xf - -C TARGET",
        ),
        f"diskette {bench_original.VERSION}": peer(
            original,
            "python -m django diskette_dump --storages-basepath SITE",
            "python -m django diskette_load ARCHIVE --keep",
            reason=bench_original.missing(diskette06_python),
        ),
    }


def peers(cases: list[str], bindir: str | None, diskette06_python: Path) -> dict:
    """The peers of the cases that run, by name."""
    result: dict[str, dict] = {}
    chosen = []
    if "sqlite" in cases:
        chosen.append(sqlite_peers())
    if "s3" in cases:
        moto = peer(package("moto"), "moto server on loopback (tests/servers/s3.py)")
        chosen.append({"moto": moto})
    if "postgres" in cases:
        chosen.append(postgres_peers(bindir))
    if "media" in cases:
        chosen.append(media_peers(diskette06_python))
    for group in chosen:
        for name, entry in group.items():
            if name in result:  # tar serves two cases: one entry, both commands
                result[name]["commands"] += entry["commands"]
            else:
                result[name] = entry
    return result
