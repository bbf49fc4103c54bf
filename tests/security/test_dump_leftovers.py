"""A stopped dump leaves nothing readable behind, and the next dump names what it left.

Real ``sandbox/manage.py diskette_dump`` subprocesses, on a site holding users
(their password hashes are the secrets at stake), stopped by real signals while
they write a fixture or the archive. To choose the moment, a test serializer (our
own JSON one) stalls after its first chunk of rows, as a slow database would:
the signal then arrives with the rows' cursor open.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from diskette.archive import ArchiveWriter
from diskette.owner import is_abandoned
from sandbox.sites import MANAGE_PY, REPO_ROOT, site_environment
from tests.conftest import run_manage

#: Users: the fixture is written in three chunks.
USERS = 5_000
#: A sparse media file: compressing it keeps the archive open about a second.
MEDIA_SIZE = 150 * 1024 * 1024
#: The archive is meant to be readable by the group: the partial one never is.
SETTINGS = """\
from sandbox.settings import *  # noqa: F403

DISKETTE_DUMP_PERMISSIONS = 0o640
SERIALIZATION_MODULES = {"json": "stalljson"}
"""
STALLING_SERIALIZER = """\
import os
import time
from pathlib import Path

from django.core.serializers.json import Deserializer  # noqa: F401

from diskette.dumping.serializer import JSONSerializer


class Serializer(JSONSerializer):
    chunks = 0

    def _write_rows(self, chunk):
        super()._write_rows(chunk)
        Serializer.chunks += 1
        marker = os.environ.get("DISKETTE_TEST_STALL_MARKER")
        if marker and Serializer.chunks == 1:
            self.stream.flush()
            Path(marker).write_text(str(os.getpid()))
            time.sleep(60)
"""


@dataclass
class Site:
    env: dict[str, str]
    var: Path
    marker: Path

    @property
    def dumps(self) -> Path:
        return self.var / "dumps"


@pytest.fixture(scope="module")
def hooks(tmp_path_factory) -> Path:
    """The test settings and serializer, and a migrated database to copy."""
    hooks = tmp_path_factory.mktemp("hooks")
    (hooks / "leftoversettings.py").write_text(SETTINGS)
    (hooks / "stalljson.py").write_text(STALLING_SERIALIZER)
    var = hooks / "template"
    var.mkdir()
    (var / "media").mkdir()
    result = run_manage("migrate", "--verbosity=0", env=_environment(var, hooks))
    assert result.returncode == 0, result.stderr
    return hooks


def _environment(var: Path, hooks: Path) -> dict[str, str]:
    return {
        **site_environment(var),
        "DJANGO_SETTINGS_MODULE": "leftoversettings",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(hooks)]),
    }


@pytest.fixture
def site(tmp_path, hooks) -> Site:
    """A migrated sandbox site with an empty media directory."""
    var = tmp_path / "site"
    shutil.copytree(hooks / "template", var)
    return Site(env=_environment(var, hooks), var=var, marker=tmp_path / "stalled")


def add_users(site: Site, count: int = USERS) -> None:
    with sqlite3.connect(site.var / "db.sqlite3") as connection:
        connection.executemany(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, "
            "last_name, email, is_staff, is_active, date_joined) "
            "VALUES (?, 0, ?, '', '', '', 0, 1, '2024-01-01 00:00:00')",
            (
                (f"pbkdf2_sha256$720000$salt{i}$secret{i}", f"user{i}")
                for i in range(count)
            ),
        )
    connection.close()


def _interruptible() -> None:
    # A shell running the tests in the background ignores SIGINT for its
    # children; Python installs its handler only where SIGINT is not ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_dump(site: Site, *args: str, stall: bool = True) -> subprocess.Popen:
    """A dump; with ``stall``, its first fixture stalls after one chunk."""
    env = dict(site.env)
    if stall:
        env["DISKETTE_TEST_STALL_MARKER"] = str(site.marker)
    return subprocess.Popen(
        [sys.executable, str(MANAGE_PY), "diskette_dump", *args],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_interruptible,  # noqa: PLW1509 - no threads run here
    )


def wait_for(process: subprocess.Popen, find, what: str) -> Path:
    """Poll until ``find()`` returns a path; fail if the dump ends first."""
    deadline = time.monotonic() + 60
    while True:
        try:
            found = find()
        except OSError:  # a file went away while we looked
            found = None
        if found is not None:
            return found
        if process.poll() is not None:
            pytest.fail(f"the dump ended before {what}: {process.communicate()}")
        assert time.monotonic() < deadline, f"the dump never reached {what}"
        time.sleep(0.005)


def stalled(site: Site) -> Path | None:
    """The fixture being written, once the serializer stalls in the middle of it."""
    if not site.marker.exists():
        return None
    (fixture,) = (
        item
        for directory in site.dumps.glob(".diskette-*")
        for item in directory.iterdir()
        if item.name != ".owner"
    )
    return fixture


def archive_being_written(dumps: Path) -> Path | None:
    for item in dumps.glob(".*.part"):
        if item.stat().st_size > 0:
            return item
    return None


def stop(process: subprocess.Popen, number: int) -> tuple[str, str]:
    try:
        process.send_signal(number)
        return process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def modes(root: Path) -> dict[str, int]:
    """Permission bits of everything under ``root``, by relative path."""
    return {
        str(path.relative_to(root)): stat.S_IMODE(path.lstat().st_mode)
        for path in root.rglob("*")
    }


def assert_private(root: Path) -> None:
    """Only 0700 directories and 0600 regular files under ``root`` (0700 itself)."""
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    for path in root.rglob("*"):
        mode = path.lstat().st_mode
        expected = 0o700 if stat.S_ISDIR(mode) else 0o600
        assert stat.S_ISDIR(mode) or stat.S_ISREG(mode), path
        assert stat.S_IMODE(mode) == expected, f"{path}: {oct(mode)}"


def next_dump_warning(site: Site) -> str:
    """Run a short dump; return its one line about leftovers."""
    result = run_manage(
        "diskette_dump",
        "--app=django.contrib.sites",
        "--no-storages",
        "--filename=next.tar.gz",
        env=site.env,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "diskette_recover" in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.slow
def test_dump_killed_while_writing_a_fixture(site):
    """Killed with SIGKILL mid-fixture: a 0700 work directory of 0600 files, named."""
    add_users(site)
    process = start_dump(site)
    fixture = wait_for(process, lambda: stalled(site), "its stall")
    stop(process, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    # The fixture is written compressed, as the archive holds it: what was
    # flushed before the stall is whole gzip members.
    assert b"pbkdf2_sha256$" in gzip.decompress(fixture.read_bytes())
    assert_private(site.dumps)
    workdir = fixture.parent
    assert workdir.name.startswith(".diskette-dump-")

    warning = next_dump_warning(site)
    assert str(workdir) in warning
    assert workdir.is_dir()  # named, never removed by a dump


@pytest.mark.slow
def test_dump_killed_while_writing_the_archive(site):
    """Killed with SIGKILL mid-archive: the partial archive is 0600, and named."""
    with open(site.var / "media" / "big.bin", "wb") as stream:
        stream.truncate(MEDIA_SIZE)
    process = start_dump(site, "--app=django.contrib.sites", stall=False)
    part = wait_for(
        process, lambda: archive_being_written(site.dumps), "the archive's first bytes"
    )
    stop(process, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    assert_private(site.dumps)
    assert is_abandoned(part)
    (workdir,) = site.dumps.glob(".diskette-dump-*")

    warning = next_dump_warning(site)
    assert str(part) in warning
    assert str(workdir) in warning
    next_archive = site.dumps / "next.tar.gz"
    assert stat.S_IMODE(next_archive.stat().st_mode) == 0o640
    sidecar = f"{next_archive.name}.manifest.json"
    assert set(modes(site.dumps)) == {
        part.name,
        workdir.name,
        next_archive.name,
        sidecar,
    } | {f"{workdir.name}/{item.name}" for item in workdir.iterdir()}


@pytest.mark.parametrize(
    ("number", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
@pytest.mark.slow
def test_dump_interrupted_leaves_nothing_and_says_one_line(site, number, status):
    add_users(site)
    process = start_dump(site)
    wait_for(process, lambda: stalled(site), "its stall")
    out, err = stop(process, number)
    assert process.returncode == status, err
    assert "Exception ignored" not in err
    assert "Traceback" not in err
    (line,) = err.splitlines()
    assert line.startswith("CommandError: interrupted"), err
    assert list(site.dumps.iterdir()) == []


def test_archive_being_written_is_private_and_held(tmp_path):
    """The partial archive is 0600 and locked while it is written; then it takes
    the configured permissions under its final name."""
    path = tmp_path / "a.tar.gz"
    with ArchiveWriter(path, permissions=0o644) as writer:
        writer.add_bytes("manifest.json", b"{}")
        part = writer.temp_path
        assert stat.S_IMODE(part.stat().st_mode) == 0o600
        assert not is_abandoned(part)
        writer.commit()
    assert not part.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("number", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
@pytest.mark.slow
def test_an_encrypted_dump_interrupted_mid_archive_leaves_nothing(
    site, tmp_path, number, status
):
    """Stopped while pyrage's thread encrypts the archive: the thread is stopped
    with the writer, one line is said, and no file is left, encrypted or not."""
    pytest.importorskip("pyrage")
    from tests.crypto.keys import age_key

    key = age_key(tmp_path / "keys")
    with open(site.var / "media" / "big.bin", "wb") as stream:
        stream.write(os.urandom(MEDIA_SIZE))  # random: nothing compresses it away
    process = start_dump(
        site, "--app=django.contrib.sites", "--encrypt-to", key.recipient, stall=False
    )
    wait_for(
        process, lambda: archive_being_written(site.dumps), "the archive's first bytes"
    )
    out, err = stop(process, number)
    assert process.returncode == status, err
    assert "Traceback" not in err and "Exception ignored" not in err
    (line,) = err.splitlines()
    assert line.startswith("CommandError: interrupted"), err
    assert list(site.dumps.iterdir()) == []
