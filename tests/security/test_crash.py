"""A load stopped by a real signal at each moment that matters, then the next run.

Each test runs a real ``diskette_load`` subprocess (``tests/crash_driver.py``) on a
sandbox site with two storages, ``media`` and ``uploads``. The driver stops the
load at one moment: in the middle of the data, once the journal and its marker
are written but not committed, right after the commit, between the two renames
of a storage, between two storage swaps, in the middle of a merge. The test
sends SIGINT, SIGTERM or SIGKILL there, checks the exit status and the one line
the load printed, then runs the next step (``diskette_inspect`` must warn while a
recovery is pending, ``diskette_recover`` or the next ``diskette_load`` finishes
it) and checks that database and storages are *together* entirely the old site
or entirely the new one, with nothing left behind and no message that lied.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.sites import REPO_ROOT, site_environment
from tests.archives import groups, make_archive, sites

pytestmark = pytest.mark.slow

OLD_ROWS = {
    "groups": {1: "old-1", 2: "old-2"},
    "sites": {1: "example.com"},
}
#: Loads merge by primary key: group 1 is overwritten, group 2 stays.
NEW_ROWS = {
    "groups": {1: "new-1", 2: "old-2", 3: "new-3"},
    "sites": {1: "new.example", 2: "two.example"},
}
OLD_FILES = {
    "media": {"photos/a.jpg": b"old a", "keep.txt": b"only in the old media"},
    "uploads": {"doc.txt": b"old doc"},
}
ARCHIVE_FILES = {
    "media": {
        "photos/a.jpg": b"new a",
        "photos/c.jpg": b"new c",
        "new/d.txt": b"new d",
        "e.txt": b"new e",
    },
    "uploads": {"doc.txt": b"new doc", "sub/f.txt": b"new f"},
}
NOTHING_CHANGED = "interrupted: nothing was changed"
FINISHED_FIRST = "interrupted after the commit: the load was finished first"
PENDING = "interrupted after its commit"
STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root``: file bytes, ``None`` for a directory."""
    return {
        path.relative_to(root).as_posix(): None if path.is_dir() else path.read_bytes()
        for path in sorted(root.rglob("*"))
    }


def as_tree(files: dict[str, bytes]) -> dict[str, bytes | None]:
    """The tree a directory holding exactly ``files`` has (parents included)."""
    result: dict[str, bytes | None] = {}
    for name, content in files.items():
        parts = name.split("/")
        for index in range(1, len(parts)):
            result["/".join(parts[:index])] = None
        result[name] = content
    return dict(sorted(result.items()))


def expected_trees(state: str, mode: str) -> dict[str, dict[str, bytes | None]]:
    """Each storage's tree in the old state, or after a load in ``mode``."""
    if state == "old":
        return {name: as_tree(files) for name, files in OLD_FILES.items()}
    if mode == "merge":
        return {
            name: as_tree({**OLD_FILES[name], **ARCHIVE_FILES[name]})
            for name in OLD_FILES
        }
    return {name: as_tree(files) for name, files in ARCHIVE_FILES.items()}


@dataclass
class Site:
    """A sandbox site under a test's directory, with its own temporary directory."""

    root: Path
    env: dict[str, str]

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tests.crash_driver", "--", *args],
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def rows(self) -> dict[str, dict[int, str]]:
        connection = sqlite3.connect(self.var / "db.sqlite3")
        try:
            return {
                "groups": dict(connection.execute("SELECT id, name FROM auth_group")),
                "sites": dict(connection.execute("SELECT id, domain FROM django_site")),
            }
        finally:
            connection.close()

    def markers(self) -> list[tuple]:
        connection = sqlite3.connect(self.var / "db.sqlite3")
        try:
            return list(connection.execute("SELECT token FROM diskette_journal"))
        except sqlite3.OperationalError:  # never created: no load got that far
            return []
        finally:
            connection.close()

    def trees(self) -> dict[str, dict[str, bytes | None]]:
        return {name: tree(self.var / name) for name in OLD_FILES}

    def leftovers(self) -> list[str]:
        """Staging and parked previous directories, wherever a load puts them."""
        found = []
        for directory in (self.var, self.tmp):
            found += [
                entry.name
                for entry in directory.iterdir()
                if entry.name.startswith(".diskette-load-")
                or ".diskette-old-" in entry.name
            ]
        return sorted(found)

    def state(self, mode: str) -> str:
        """ "old" or "new" when database and storages agree on it, else what differs."""
        rows, trees = self.rows(), self.trees()
        for name, wanted in (("old", OLD_ROWS), ("new", NEW_ROWS)):
            if rows == wanted and trees == expected_trees(name, mode):
                return name
        return f"mixed: rows {rows}, storages {trees}"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """A migrated sandbox database holding the old rows, copied by each test."""
    root = tmp_path_factory.mktemp("migrated")
    (root / "tmp").mkdir()
    site = Site(root, site_environment(root / "var", TMPDIR=str(root / "tmp")))
    site.var.mkdir()
    result = site.run("migrate", "--verbosity=0")
    assert result.returncode == 0, result.stderr
    connection = sqlite3.connect(site.var / "db.sqlite3")
    with connection:
        connection.executemany(
            "INSERT INTO auth_group (id, name) VALUES (?, ?)",
            OLD_ROWS["groups"].items(),
        )
    connection.close()
    return site.var / "db.sqlite3"


@pytest.fixture
def site(tmp_path, migrated) -> Site:
    """A site in the old state: its rows, its media and uploads trees."""
    made = Site(
        tmp_path, site_environment(tmp_path / "var", TMPDIR=str(tmp_path / "tmp"))
    )
    made.var.mkdir()
    made.tmp.mkdir()
    shutil.copyfile(migrated, made.var / "db.sqlite3")
    for storage, files in OLD_FILES.items():
        for name, content in files.items():
            path = made.var / storage / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    assert made.state("replace") == "old"
    return made


@pytest.fixture
def archive(tmp_path) -> Path:
    """The new site: rows that change and add, two storages."""
    return make_archive(
        tmp_path / "new.tar.gz",
        data={
            "groups.json": groups((1, "new-1"), (3, "new-3")),
            "sites.json": sites((1, "new.example"), (2, "two.example")),
        },
        storages=ARCHIVE_FILES,
    )


@dataclass
class Stopped:
    returncode: int
    stdout: str
    stderr: str

    def errors(self) -> list[str]:
        """What the load printed on stderr besides warnings."""
        return [
            line
            for line in self.stderr.splitlines()
            if line.strip() and not line.startswith("warning:")
        ]


def stop_load(
    site: Site, archive: Path, point: str, signum: int, mode: str = "replace"
) -> Stopped:
    """Run a load, send ``signum`` once it reaches ``point``, let it end."""
    release = site.root / "release"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.crash_driver",
            "--pause",
            point,
            "--release",
            str(release),
            "--",
            "diskette_load",
            str(archive),
            "--storages-mode",
            mode,
        ],
        env=site.env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                _out, err = process.communicate(timeout=60)
                pytest.fail(f"the load never reached {point!r}: {seen} {err}")
            seen.append(line)
            if line.strip() == f"AT {point}":
                break
        os.kill(process.pid, signum)
        release.touch()  # a held-back signal: the load goes on and finishes
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return Stopped(process.returncode, "".join(seen) + out, err)


def assert_settled(site: Site, state: str, mode: str = "replace") -> None:
    """Database and storages are together ``state``; nothing is left behind."""
    assert site.state(mode) == state
    assert site.leftovers() == []
    assert site.markers() == []


BEFORE_COMMIT = [
    ("data", signal.SIGINT),
    ("data", signal.SIGTERM),
]
HELD_BACK = [
    (point, signum)
    for point in ("marker", "commit", "rename", "swaps", "merge")
    for signum in (signal.SIGINT, signal.SIGTERM)
]
#: Killed past the commit: how the storages look before the recovery.
KILLED_AFTER_COMMIT = {
    "commit": {"media": "old", "uploads": "old"},
    "rename": {"media": "missing", "uploads": "old"},
    "swaps": {"media": "new", "uploads": "old"},
    "merge": {"media": "partly merged", "uploads": "old"},
}


def _name(value) -> str:
    return getattr(value, "name", str(value))


def _mode(point: str) -> str:
    return "merge" if point == "merge" else "replace"


@pytest.mark.parametrize(("point", "signum"), BEFORE_COMMIT, ids=_name)
def test_signal_before_the_commit_changes_nothing(site, archive, point, signum):
    """SIGINT and SIGTERM in the middle of the data: rolled back, staging removed."""
    stopped = stop_load(site, archive, point, signum)

    assert stopped.returncode == STATUS[signum]
    assert stopped.errors() == [f"CommandError: {NOTHING_CHANGED}"]
    assert_settled(site, "old")


@pytest.mark.parametrize(("point", "signum"), HELD_BACK, ids=_name)
def test_signal_past_the_journal_is_held_until_the_load_is_finished(
    site, archive, point, signum
):
    """From the journal on, SIGINT and SIGTERM wait: the load finishes, then says so."""
    mode = _mode(point)
    stopped = stop_load(site, archive, point, signum, mode)

    assert stopped.returncode == STATUS[signum], stopped.stderr
    (line,) = stopped.errors()
    assert line.startswith(f"CommandError: {FINISHED_FIRST}")
    assert "nothing was changed" not in stopped.stderr
    assert_settled(site, "new", mode)


def test_kill_in_the_middle_of_the_data_leaves_old_and_recovers(site, archive):
    """``kill -9`` before the commit: the database rolls back, the staging is removed."""
    stopped = stop_load(site, archive, "data", signal.SIGKILL)

    assert stopped.returncode == STATUS[signal.SIGKILL]
    assert site.state("replace") == "old"
    assert [name[:15] for name in site.leftovers()] == [".diskette-load-"]
    inspect = site.run("diskette_inspect", "--manifest-only", str(archive))
    assert inspect.returncode == 0, inspect.stderr
    assert PENDING not in inspect.stderr  # nothing was committed: no pending finish

    recovered = site.run("diskette_recover")

    assert recovered.returncode == 0, recovered.stderr
    assert "removed load staging" in recovered.stdout
    assert_settled(site, "old")


def test_kill_after_the_journal_before_the_commit_drops_it(site, archive):
    """``kill -9`` with the journal written and the marker row uncommitted: the
    recovery drops the staging, and no command claims a commit that did not happen."""
    stopped = stop_load(site, archive, "marker", signal.SIGKILL)

    assert stopped.returncode == STATUS[signal.SIGKILL]
    assert site.state("replace") == "old"
    inspect = site.run("diskette_inspect", "--manifest-only", str(archive))
    assert inspect.returncode == 0, inspect.stderr
    assert PENDING not in inspect.stderr, inspect.stderr

    recovered = site.run("diskette_recover")

    assert recovered.returncode == 0, recovered.stderr
    assert "interrupted before its commit" in recovered.stdout
    assert "interrupted after its commit" not in recovered.stdout
    assert_settled(site, "old")


def _looks(site: Site, storage: str, mode: str) -> str:
    found = tree(site.var / storage) if (site.var / storage).exists() else None
    if found is None:
        return "missing"
    for name in ("old", "new"):
        if found == expected_trees(name, mode)[storage]:
            return name
    return "partly merged"


@pytest.mark.parametrize("point", sorted(KILLED_AFTER_COMMIT))
def test_kill_after_the_commit_is_rolled_forward(site, archive, point):
    """``kill -9`` past the commit: the database is new, the storages are as far as
    the swaps got, every command warns, and ``diskette_recover`` finishes the load."""
    mode = _mode(point)
    stopped = stop_load(site, archive, point, signal.SIGKILL, mode)

    assert stopped.returncode == STATUS[signal.SIGKILL]
    assert site.rows() == NEW_ROWS
    looks = {name: _looks(site, name, mode) for name in OLD_FILES}
    assert looks == KILLED_AFTER_COMMIT[point]
    inspect = site.run("diskette_inspect", "--manifest-only", str(archive))
    assert inspect.returncode == 0, inspect.stderr
    # Killed before the journal itself says "committed" (only its marker row
    # does), the warning, which reads no database, claims no commit.
    said = PENDING if point != "commit" else "interrupted at its commit"
    assert said in inspect.stderr
    assert "diskette_recover" in inspect.stderr

    recovered = site.run("diskette_recover")

    assert recovered.returncode == 0, recovered.stderr
    assert "interrupted after its commit: media, uploads swapped in" in (
        recovered.stdout
    )
    assert "was not changed" not in recovered.stdout + recovered.stderr
    assert_settled(site, "new", mode)
    assert PENDING not in site.run("diskette_inspect", str(archive)).stderr


def test_next_load_finishes_a_killed_one_first(site, archive, tmp_path):
    """The next ``diskette_load`` rolls the killed load forward before its own."""
    later = make_archive(
        tmp_path / "later.tar.gz", data={"later.json": groups((5, "later"))}
    )
    stopped = stop_load(site, archive, "swaps", signal.SIGKILL)
    assert stopped.returncode == STATUS[signal.SIGKILL]

    loaded = site.run("diskette_load", str(later), "--no-storages")

    assert loaded.returncode == 0, loaded.stderr
    assert "interrupted after its commit: media, uploads swapped in" in loaded.stdout
    assert site.trees() == expected_trees("new", "replace")
    assert site.rows() == {
        **NEW_ROWS,
        "groups": {**NEW_ROWS["groups"], 5: "later"},
    }
    assert site.leftovers() == []
    assert site.markers() == []
