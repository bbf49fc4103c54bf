"""Wagtail sites run as a user runs them: ``manage.py`` in subprocesses.

Each site is a directory (its SQLite database and media) or, on PostgreSQL, a
directory for the media and a database of its own on the test cluster. Migrating
Wagtail takes seconds, so sites start from a migrated template: a copied SQLite
file, or ``CREATE DATABASE ... TEMPLATE``. Nothing here imports Wagtail: the
pytest process only drives the subprocesses.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SITE_DIR = Path(__file__).resolve().parent
REPO_ROOT = SITE_DIR.parents[1]
MANAGE_PY = SITE_DIR / "manage.py"
SETTINGS = "tests.wagtailsite.settings"
#: Environment variables of the PostgreSQL test cluster (see tests/pgcluster.py).
PG_VARS = ("DISKETTE_TEST_PGHOST", "DISKETTE_TEST_PGPORT", "DISKETTE_TEST_PGUSER")


@dataclass
class Site:
    """One site: where its files are and how its ``manage.py`` is run."""

    var: Path
    database: dict[str, str] = field(default_factory=dict)
    timeout: float = 180

    @property
    def media(self) -> Path:
        return self.var / "media"

    @property
    def sqlite(self) -> Path:
        return self.var / "db.sqlite3"

    def environment(self) -> dict[str, str]:
        """The caller's environment without its Django, site or diskette variables."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("DJANGO_", "WAGTAILSITE_", "DISKETTE_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE=SETTINGS,
            PYTHONPATH=str(REPO_ROOT),
            PYTHONIOENCODING="utf-8",
            WAGTAILSITE_VAR=str(self.var),
            **self.database,
        )
        return env

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """Run ``manage.py ARGS``; a failure shows the command and its output."""
        result = subprocess.run(
            [sys.executable, str(MANAGE_PY), *args],
            env=self.environment(),
            cwd=self.var,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if result.returncode:
            raise AssertionError(
                f"manage.py {' '.join(args)} exited with {result.returncode}\n"
                f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-6000:]}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args).stdout)

    def parts(self, *parts: str) -> dict[str, Any]:
        """The parts of ``manage.py meaning`` (meaning, content_type_ids, derived)."""
        args = [arg for part in parts for arg in ("--part", part)]
        return self.json("meaning", *args)


def media_digests(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``root``."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def sqlite_site(template: Path, var: Path) -> Site:
    """A site whose database is a copy of the migrated template file."""
    var.mkdir(parents=True)
    site = Site(var)
    shutil.copyfile(template, site.sqlite)
    return site


@dataclass
class PostgresServer:
    """The test cluster: creates and drops the sites' databases."""

    host: str
    port: str
    user: str
    created: list[str] = field(default_factory=list)

    @classmethod
    def from_environment(cls) -> PostgresServer | None:
        values = [os.environ.get(name) for name in PG_VARS]
        return cls(*values) if all(values) else None

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(sql)

    def create(self, role: str, template: str | None = None) -> str:
        """A new database (a copy of ``template`` when given); returns its name."""
        name = f"wagtailsite_{role}_{uuid.uuid4().hex[:8]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        self.execute(f'CREATE DATABASE "{name}"{clause}')
        self.created.append(name)
        return name

    def drop_all(self) -> None:
        while self.created:
            self.execute(f'DROP DATABASE IF EXISTS "{self.created.pop()}" WITH (FORCE)')

    def site(self, database: str, var: Path) -> Site:
        var.mkdir(parents=True, exist_ok=True)
        return Site(
            var,
            database={
                "WAGTAILSITE_PGDATABASE": database,
                "WAGTAILSITE_PGHOST": self.host,
                "WAGTAILSITE_PGPORT": self.port,
                "WAGTAILSITE_PGUSER": self.user,
            },
        )
