"""The original diskette 0.6.0, a peer of the media case, in its own environment.

diskette 0.6.0 from PyPI is installed in a virtual environment of its own
(``make bench`` creates ``.venv-diskette06``; ``--diskette06-python`` names
another interpreter), never next to this project. It runs on a minimal project
whose settings module the benchmark writes (``SETTINGS``): auth, contenttypes,
sites and diskette on SQLite, the users, groups and sites as data (as in its
documentation), and the media directory as its one storage. Paths come from
``BENCH_ORIGINAL_*`` variables, so one module serves the dump and every load.

The interpreter runs with the project's directory as working directory and
``PYTHONPATH``, never this repository's, which would put our ``diskette`` package
in front of the original's. Its load deletes the archive unless ``--keep``: the
benchmark passes ``--keep`` so the archive can be loaded again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.benchmarks.bench_runs import REPO_ROOT, BenchError, Run, run

VERSION = "0.6.0"
DEFAULT_PYTHON = REPO_ROOT / ".venv-diskette06" / "bin" / "python"
MODULE = "diskette06_settings"
SETTINGS = '''"""A minimal project for diskette 0.6.0, written by the benchmark."""

import os
from pathlib import Path

from diskette.settings import *  # noqa: F403  (the original needs its defaults)

SECRET_KEY = "benchmark-only-not-secret"
USE_TZ = True
SITE_ID = 1
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sites",
    "diskette",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["BENCH_ORIGINAL_DATABASE"],
    }
}
MEDIA_ROOT = Path(os.environ["BENCH_ORIGINAL_MEDIA_ROOT"])
DISKETTE_ADMIN_ENABLED = False
DISKETTE_APPS = [
    [
        "django.contrib.auth",
        {"natural_foreign": True, "models": ["auth.Group", "auth.User"]},
    ],
    ["django.contrib.sites", {"natural_foreign": True, "models": "sites"}],
]
DISKETTE_STORAGES = [MEDIA_ROOT]
DISKETTE_DUMP_PATH = Path(os.environ["BENCH_ORIGINAL_DUMPS"])
DISKETTE_LOAD_STORAGES_PATH = Path(os.environ["BENCH_ORIGINAL_LOAD_BASE"])
'''
#: What the interpreter prints: the versions of diskette and Django it has.
VERSIONS = (
    "from importlib.metadata import version; "
    "print(version('diskette'), version('Django'))"
)


def versions(python: Path) -> tuple[str, str] | None:
    """(diskette, Django) versions of ``python``, None if it cannot tell."""
    if not python.is_file():
        return None
    result = subprocess.run(
        [str(python), "-c", VERSIONS],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=python.parent,
    )
    parts = result.stdout.split()
    return (parts[0], parts[1]) if result.returncode == 0 and len(parts) == 2 else None


def missing(python: Path) -> str | None:
    """Why diskette 0.6.0 cannot run from ``python``, or None."""
    found = versions(python)
    if found is None:
        return f"no diskette {VERSION} environment at {python} (make bench creates it)"
    if found[0] != VERSION:
        return f"{python} has diskette {found[0]}, not {VERSION}"
    return None


class Original:
    """The generated project, its migrated template database, and its commands."""

    def __init__(self, python: Path, directory: Path) -> None:
        self.python = python
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{MODULE}.py").write_text(SETTINGS, "utf-8")
        self.template = directory / "template.sqlite3"
        self.dumps = directory / "dumps"

    def env(self, database: Path, media_root: Path, load_base: Path) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("DJANGO_", "SANDBOX_", "DISKETTE_", "PYTHON"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE=MODULE,
            PYTHONPATH=str(self.directory),
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONIOENCODING="utf-8",
            TMPDIR=str(self.directory / "tmp"),
            BENCH_ORIGINAL_DATABASE=str(database),
            BENCH_ORIGINAL_MEDIA_ROOT=str(media_root),
            BENCH_ORIGINAL_DUMPS=str(self.dumps),
            BENCH_ORIGINAL_LOAD_BASE=str(load_base),
        )
        (self.directory / "tmp").mkdir(exist_ok=True)
        return env

    def manage(self, *args: str, env: dict[str, str], log: Path, **options) -> Run:
        command = [str(self.python), "-m", "django", *args]
        return run(command, env=env, log=log, cwd=self.directory, **options)

    def migrate_template(self, log: Path) -> None:
        """Migrate the template database once (not measured)."""
        self.template.unlink(missing_ok=True)
        env = self.env(self.template, self.directory, self.directory)
        self.manage("migrate", "--verbosity", "0", env=env, log=log)

    def database(self, path: Path) -> Path:
        """A copy of the migrated template at ``path``."""
        shutil.copyfile(self.template, path)
        return path

    def dump(self, media_root: Path, database: Path, log: Path) -> tuple[Run, Path]:
        """``diskette_dump`` of the media directory and the data; the archive written."""
        shutil.rmtree(self.dumps, ignore_errors=True)
        env = self.env(database, media_root, self.directory)
        measured = self.manage(
            "diskette_dump",
            "--storages-basepath",
            str(media_root.parent),
            env=env,
            log=log,
        )
        archives = sorted(self.dumps.glob("*.tar.gz"))
        if len(archives) != 1:
            raise BenchError(f"diskette {VERSION} wrote {len(archives)} archives")
        return measured, archives[0]

    def load_command(self, archive: Path) -> list[str]:
        """``diskette_load --keep``: media restored under the load base of ``env``."""
        return [
            str(self.python),
            "-m",
            "django",
            "diskette_load",
            str(archive),
            "--keep",
        ]
