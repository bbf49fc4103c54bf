"""A real SFTP server for the tests: OpenSSH's ``sshd`` on loopback.

For the run, a temporary directory gets a generated host key, a client key
whose public half is the only authorized key, a ``known_hosts`` line for the
host key and an ``sshd_config`` (127.0.0.1 and a free port, keys only, no PAM,
``internal-sftp``). ``sshd -D -e -f CONFIG`` then runs in the foreground under
the guard of ``tests/servers/process.py``. The login is the user running the
tests (``root`` in CI containers: sshd needs its privilege separation directory,
``/run/sshd``, which is created when missing).

``sftp_server`` is session scoped: one sshd per pytest process (so per xdist
worker), started the first time a test asks for it. Its ``root`` directory is
where storages write; tests keep apart under a subdirectory of their own
(``unique_directory``). The server runs on this machine, so a test can also look
at ``root`` directly. ``DISKETTE_TEST_REQUIRE_SFTP=1`` turns a failed start into
an error; the server binary is looked up in PATH, then in ``/usr/sbin``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.process import GuardedServer, start_on_free_port, unavailable

REQUIRE_VAR = "DISKETTE_TEST_REQUIRE_SFTP"
HOST = "127.0.0.1"
PRIVILEGE_SEPARATION_DIR = Path("/run/sshd")
SBIN_PATH = "/usr/sbin:/usr/local/sbin"  # not in PATH for most users


@dataclass(frozen=True)
class SFTPServer:
    """How to reach the run's sshd, with the one key it accepts."""

    host: str
    port: int
    username: str
    key_path: Path
    known_hosts: Path
    root: Path
    startup_seconds: float = 0.0

    def params(self, **overrides: Any) -> dict[str, Any]:
        """paramiko ``connect`` arguments: this key only, no agent, no ~/.ssh."""
        return {
            "port": self.port,
            "username": self.username,
            "key_filename": str(self.key_path),
            "allow_agent": False,
            "look_for_keys": False,
            "timeout": 10,
            **overrides,
        }

    def storage_options(
        self, root: Path | None = None, **params: Any
    ) -> dict[str, Any]:
        """Keyword arguments for ``storages.backends.sftpstorage.SFTPStorage``.

        The host key is checked against the run's ``known_hosts``: SFTPStorage
        would add an unknown key silently, but refuses one that differs.
        """
        return {
            "host": self.host,
            "params": self.params(**params),
            "known_host_file": str(self.known_hosts),
            "root_path": str(root or self.root),
        }


def unique_directory(server: SFTPServer) -> Path:
    """A fresh directory under the server's root that no other test uses."""
    directory = server.root / f"t-{uuid.uuid4().hex[:12]}"
    directory.mkdir()
    return directory


def find_sshd() -> Path:
    found = shutil.which("sshd") or shutil.which("sshd", path=SBIN_PATH)
    if not found:
        raise FileNotFoundError("sshd not found in PATH or /usr/sbin (openssh-server)")
    return Path(found).resolve()  # sshd re-executes itself: it needs a full path


def _keygen(path: Path, comment: str) -> str:
    """Make an ed25519 key pair at ``path``; the public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path.with_suffix(".pub").read_text().strip()


def write_config(directory: Path, port: int, username: str) -> Path:
    config = directory / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                f"ListenAddress {HOST}",
                f"HostKey {directory / 'host_key'}",
                f"AuthorizedKeysFile {directory / 'authorized_keys'}",
                f"PidFile {directory / 'sshd.pid'}",
                f"AllowUsers {username}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "UsePAM no",
                "StrictModes no",  # the keys sit in a temporary directory
                "Subsystem sftp internal-sftp",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    return config


def start_sftp_server(directory: Path) -> tuple[GuardedServer, SFTPServer]:
    """Generate the keys, start sshd and check its config; RuntimeError on failure."""
    started = time.monotonic()
    sshd = find_sshd()
    if os.geteuid() == 0:
        PRIVILEGE_SEPARATION_DIR.mkdir(mode=0o755, exist_ok=True)
    username = pwd.getpwuid(os.geteuid()).pw_name
    host_key = _keygen(directory / "host_key", "diskette-test-host")
    client_key = _keygen(directory / "client_key", "diskette-test-client")
    (directory / "authorized_keys").write_text(client_key + "\n")
    root = directory / "files"
    root.mkdir()

    def command(port: int) -> list[str]:
        config = write_config(directory, port, username)
        checked = subprocess.run(
            [str(sshd), "-t", "-f", str(config)], capture_output=True, text=True
        )
        if checked.returncode:
            raise RuntimeError(f"sshd -t: {checked.stderr.strip()}")
        return [str(sshd), "-D", "-e", "-f", str(config)]

    server, port = start_on_free_port(command, log=directory / "sshd.log")
    key_type, key_data = host_key.split()[:2]
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(f"[{HOST}]:{port} {key_type} {key_data}\n")
    return server, SFTPServer(
        host=HOST,
        port=port,
        username=username,
        key_path=directory / "client_key",
        known_hosts=known_hosts,
        root=root,
        startup_seconds=time.monotonic() - started,
    )


@pytest.fixture(scope="session")
def sftp_server() -> Iterator[SFTPServer]:
    """The run's sshd (one per pytest process); stopped at session end."""
    with tempfile.TemporaryDirectory(prefix="diskette-sftp-") as directory:
        try:
            server, details = start_sftp_server(Path(directory))
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            unavailable("SFTP server (sshd)", REQUIRE_VAR, error)
        try:
            yield details
        finally:
            server.stop()
