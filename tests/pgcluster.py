"""pytest plugin: a throwaway PostgreSQL cluster on loopback for the test session.

Loaded with ``-p tests.pgcluster`` (see pyproject.toml). Before pytest-django reads
the settings, it runs ``initdb`` in a temporary directory, starts the server on a
free 127.0.0.1 port (trust auth, fsync off, unix socket in that directory) and
exports ``DISKETTE_TEST_PGHOST``/``PGPORT``/``PGUSER``, which makes
``sandbox/settings_test.py`` add the ``postgres`` database alias. PostgreSQL
refuses to run as root, so as root the cluster runs as ``postgres`` (or a system
user ``diskette-pg`` created for it). The cluster is stopped and its directory
removed when pytest ends. The server runs in the foreground under the guard of
``tests/servers/process.py``, so a pytest killed without tearing down does not
leave it running.

Nothing is started when ``DISKETTE_TEST_NO_POSTGRES=1``, when
``DISKETTE_TEST_PGPORT`` already points at a server, or when the binaries are
missing; the reason is kept in ``skip_reason()`` and shown in the report header,
and tests that need PostgreSQL skip with it. ``DISKETTE_TEST_REQUIRE_POSTGRES=1``
turns a failed start into an error instead (for CI).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.servers.process import GuardedServer

USER = "diskette"  # the cluster's superuser role
DATABASE = "diskette"
SYSTEM_USER = "diskette-pg"  # created when running as root without a postgres user
ENV_VARS = ("DISKETTE_TEST_PGHOST", "DISKETTE_TEST_PGPORT", "DISKETTE_TEST_PGUSER")
REASON_VAR = "DISKETTE_TEST_PG_SKIP_REASON"


@dataclass
class Cluster:
    """A running cluster: where it lives and how to reach and stop it."""

    bindir: Path
    directory: Path
    port: int
    run_as: str | None
    version: str = ""
    #: The guarded server process (see ``tests/servers/process.py``).
    server: GuardedServer | None = None
    env_set: list[str] = field(default_factory=list)

    @property
    def datadir(self) -> Path:
        return self.directory / "data"

    def command(self, *args: str) -> list[str]:
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)


_cluster: Cluster | None = None
_reason: str | None = None


def skip_reason() -> str | None:
    """Why there is no ``postgres`` database alias, or ``None`` when there is one."""
    if os.environ.get("DISKETTE_TEST_PGPORT"):
        return None
    return _reason or os.environ.get(REASON_VAR) or "PostgreSQL was not started"


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (PATH first, newest wins)."""
    candidates = []
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).resolve().parent)

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in path.parent.name.split(".") if p.isdigit())

    installed = Path("/usr/lib/postgresql").glob("*/bin")
    candidates.extend(sorted(installed, key=version, reverse=True))
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unprivileged_user() -> str:
    """A system user PostgreSQL agrees to run as; created when missing."""
    for name in ("postgres", SYSTEM_USER):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    _run(["useradd", "--system", "--no-create-home", SYSTEM_USER])
    return SYSTEM_USER


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command; raise RuntimeError with its output when it fails."""
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kwargs)
    if result.returncode:
        output = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{' '.join(cmd)} failed: {' / '.join(output)}")
    return result


def start_cluster() -> Cluster:
    """initdb, start and create the database; raises RuntimeError on failure."""
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError(
            "PostgreSQL binaries (initdb, postgres) not found in PATH or "
            "/usr/lib/postgresql/*/bin"
        )
    run_as = unprivileged_user() if os.geteuid() == 0 else None
    directory = Path(tempfile.mkdtemp(prefix="diskette-pg-"))
    directory.chmod(0o700)
    cluster = Cluster(bindir=bindir, directory=directory, port=0, run_as=run_as)
    try:
        if run_as:
            entry = pwd.getpwnam(run_as)
            os.chown(directory, entry.pw_uid, entry.pw_gid)
        _run(
            cluster.command(
                str(bindir / "initdb"),
                "--pgdata",
                str(cluster.datadir),
                "--username",
                USER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            )
        )
        # The server runs in the foreground under the test servers' guard, not
        # daemonised by pg_ctl: a killed pytest then never leaves it running.
        from tests.servers.process import start_on_free_port

        def command_for(port: int) -> list[str]:
            return cluster.command(
                str(bindir / "postgres"),
                "-D",
                str(cluster.datadir),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={directory}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=40",
            )

        cluster.server, cluster.port = start_on_free_port(
            command_for, directory / "server.log"
        )
        _wait_accepting(cluster)
        _run(
            [
                str(bindir / "createdb"),
                "--host",
                "127.0.0.1",
                "--port",
                str(cluster.port),
                "--username",
                USER,
                DATABASE,
            ]
        )
        version = _run([str(bindir / "postgres"), "--version"]).stdout.strip()
        cluster.version = version
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def _wait_accepting(cluster: Cluster, timeout: float = 30) -> None:
    """Wait until the server accepts connections (it listens before it has
    finished starting up)."""
    deadline = time.monotonic() + timeout
    while True:
        result = subprocess.run(
            [
                str(cluster.bindir / "pg_isready"),
                "--host",
                "127.0.0.1",
                "--port",
                str(cluster.port),
                "--username",
                USER,
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL not ready after {timeout:.0f} s")
        time.sleep(0.05)


def stop_cluster(cluster: Cluster) -> None:
    """Stop the server (immediate: it is throwaway) and remove its directory."""
    if cluster.server is not None:
        pid = _postmaster_pid(cluster)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        cluster.server.stop()
        cluster.server = None
    shutil.rmtree(cluster.directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _postmaster_pid(cluster: Cluster) -> int | None:
    """The server's own pid (the first line of ``postmaster.pid``), if running."""
    try:
        return int((cluster.datadir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _shutdown() -> None:
    global _cluster
    if _cluster is None:
        return
    cluster, _cluster = _cluster, None
    stop_cluster(cluster)
    for name in cluster.env_set:
        os.environ.pop(name, None)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    """Start the cluster before pytest-django imports the settings."""
    global _cluster, _reason
    if os.environ.get("DISKETTE_TEST_PGPORT"):
        _reason = None  # a server given by the environment: use it as is
        return
    if os.environ.get("DISKETTE_TEST_NO_POSTGRES") == "1":
        _reason = "PostgreSQL disabled by DISKETTE_TEST_NO_POSTGRES=1"
        os.environ[REASON_VAR] = _reason
        return
    try:
        cluster = start_cluster()
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        if os.environ.get("DISKETTE_TEST_REQUIRE_POSTGRES") == "1":
            raise pytest.UsageError(f"cannot start PostgreSQL: {error}") from error
        _reason = f"PostgreSQL not started: {error}"
        os.environ[REASON_VAR] = _reason
        return
    _cluster = cluster
    atexit.register(_shutdown)
    values = dict(zip(ENV_VARS, ("127.0.0.1", str(cluster.port), USER), strict=True))
    for name, value in values.items():
        os.environ[name] = value
        cluster.env_set.append(name)


def pytest_report_header(config) -> str:
    if _cluster is not None:
        return (
            f"postgres: {_cluster.version} on 127.0.0.1:{_cluster.port} "
            f"(throwaway cluster{', as ' + _cluster.run_as if _cluster.run_as else ''})"
        )
    if os.environ.get("DISKETTE_TEST_PGPORT"):
        return f"postgres: given server on port {os.environ['DISKETTE_TEST_PGPORT']}"
    return f"postgres: none ({skip_reason()})"


def pytest_unconfigure(config) -> None:
    _shutdown()
