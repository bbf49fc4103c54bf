"""A dump whose destination fails: one line naming it, the dump's status, and
nothing left behind (no archive under its name, no sidecar, no local file).

Real failures only: a real S3 server refusing a key or lacking a bucket, a port
nobody listens on, a real sshd refusing a key, a full tmpfs, and a real
``manage.py diskette_dump`` process killed while it uploads.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from diskette.exceptions import DumpError
from sandbox.sites import MANAGE_PY, REPO_ROOT
from tests.conftest import run_manage
from tests.destinations import test_dump_to_destination as shared
from tests.destinations.test_dump_to_destination import FILESYSTEM, MiB, names
from tests.mounts import Mounts
from tests.servers.s3 import unique_prefix
from tests.servers.sftp import unique_directory

#: The fixtures of the dumps that succeed: the same site, aliases and temp dir.
site = shared.site
aliases = shared.aliases
system_temp = shared.system_temp

S3 = "storages.backends.s3.S3Storage"
SFTP = "storages.backends.sftpstorage.SFTPStorage"


@pytest.fixture
def mounts():
    made = Mounts()
    yield made
    made.unmount_all()


def failed_dump(*args: str) -> str:
    """Run diskette_dump, which must fail as a DumpError; its one line."""
    with pytest.raises(CommandError) as caught:
        call_command("diskette_dump", *args, stdout=io.StringIO(), stderr=io.StringIO())
    message = str(caught.value)
    assert caught.value.returncode == DumpError.exit_code, message
    assert "\n" not in message
    return message


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def no_retries():
    from botocore.config import Config

    return Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10)


@pytest.mark.django_db
@pytest.mark.slow
def test_s3_refusing_the_credentials(site, tmp_path, aliases, s3_server, system_temp):
    prefix = unique_prefix()
    options = s3_server.storage_options(
        location=prefix.rstrip("/"), secret_key="wrong", client_config=no_retries()
    )
    aliases(s3=(S3, options))

    message = failed_dump("--to", "s3")

    assert message.startswith("reaching STORAGES['s3'] (S3Storage) failed: ClientError")
    assert "403" in message and message.endswith("no archive was written")
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix)
    assert listed.get("Contents", []) == []
    assert names(tmp_path / "dumps") == []
    assert names(system_temp) == []


@pytest.mark.django_db
def test_s3_without_the_bucket(site, tmp_path, aliases, s3_server, system_temp):
    options = s3_server.storage_options(
        bucket_name="diskette-no-such-bucket", client_config=no_retries()
    )
    aliases(s3=(S3, options))

    message = failed_dump("--to", "s3")

    assert message.startswith("uploading to STORAGES['s3'] (S3Storage) failed: ")
    assert "NoSuchBucket" in message and message.endswith("no archive was written")
    assert names(tmp_path / "dumps") == []
    assert names(system_temp) == []


@pytest.mark.django_db
def test_s3_endpoint_nobody_listens_on(site, tmp_path, aliases, s3_server):
    options = s3_server.storage_options(
        endpoint_url=f"http://127.0.0.1:{closed_port()}", client_config=no_retries()
    )
    aliases(s3=(S3, options))

    message = failed_dump("--to", "s3")

    assert message.startswith(
        "reaching STORAGES['s3'] (S3Storage) failed: EndpointConnectionError: "
        "Could not connect to the endpoint URL"
    )
    assert names(tmp_path / "dumps") == []


@pytest.mark.django_db
def test_sftp_refusing_the_key(site, tmp_path, aliases, sftp_server):
    other_key = tmp_path / "other_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)],
        check=True,
        timeout=30,
    )
    root = unique_directory(sftp_server)
    options = sftp_server.storage_options(root=root, key_filename=str(other_key))
    aliases(sftp=(SFTP, options))

    message = failed_dump("--to", "sftp")

    assert message.startswith(
        "reaching STORAGES['sftp'] (SFTPStorage) failed: AuthenticationException"
    )
    assert names(root) == []
    assert names(tmp_path / "dumps") == []


@pytest.mark.django_db
def test_sftp_directory_that_cannot_exist(site, tmp_path, aliases, sftp_server):
    """The root is under a regular file: the storage cannot create it."""
    parent = unique_directory(sftp_server)
    (parent / "a-file").write_bytes(b"")
    aliases(sftp=(SFTP, sftp_server.storage_options(root=parent / "a-file" / "dumps")))

    message = failed_dump("--to", "sftp")

    assert message.startswith("uploading to STORAGES['sftp'] (SFTPStorage) failed: ")
    assert message.endswith("no archive was written")
    assert names(parent) == ["a-file"]
    assert names(tmp_path / "dumps") == []


@pytest.mark.django_db
def test_sftp_directory_that_does_not_exist_yet_is_made(
    site, tmp_path, aliases, sftp_server
):
    root = unique_directory(sftp_server) / "new" / "dumps"
    aliases(sftp=(SFTP, sftp_server.storage_options(root=root)))
    call_command("diskette_dump", "--to", "sftp", stdout=io.StringIO())
    assert len(names(root)) == 2  # the archive and its sidecar


@pytest.mark.django_db
@pytest.mark.parametrize("to", ["local", "backups"])
def test_a_full_disk_while_the_archive_is_written(
    site, tmp_path, aliases, settings, mounts, system_temp, to
):
    volume = mounts.tmpfs(tmp_path / "small", size="1m")
    settings.DISKETTE_DUMP_PATH = str(volume)
    backups = tmp_path / "backups"
    aliases(backups=(FILESYSTEM, {"location": str(backups)}))
    (site / "big.bin").write_bytes(os.urandom(3 * MiB))

    message = failed_dump("--to", to)

    assert "no space left on the device" in message
    assert message.endswith("no archive was written")
    assert names(volume) == []
    assert names(backups) == []
    assert names(system_temp) == []


@pytest.mark.django_db
def test_a_full_disk_while_an_encrypted_archive_is_written(
    site, tmp_path, settings, mounts, system_temp
):
    """The disk fills under pyrage's thread: the error is the disk's, as itself."""
    pytest.importorskip("pyrage")
    from tests.crypto.keys import age_key

    key = age_key(tmp_path / "keys")
    volume = mounts.tmpfs(tmp_path / "small", size="1m")
    settings.DISKETTE_DUMP_PATH = str(volume)
    (site / "big.bin").write_bytes(os.urandom(3 * MiB))

    message = failed_dump("--to", "local", "--encrypt-to", key.recipient)

    assert "no space left on the device" in message
    assert message.endswith("no archive was written")
    assert names(volume) == []
    assert names(system_temp) == []


# -- a real process stopped while it uploads ---------------------------------------

#: Random bytes, so the archive keeps their size: 10 parts of 5 MiB, one at a time.
UPLOADED = 48 * MiB


def s3_environment(env: dict[str, str], s3_server, prefix: str, tmp: Path) -> dict:
    return {
        **env,
        "SANDBOX_S3_BUCKET": s3_server.bucket,
        "SANDBOX_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "SANDBOX_S3_ACCESS_KEY": s3_server.access_key,
        "SANDBOX_S3_SECRET_KEY": s3_server.secret_key,
        "SANDBOX_S3_REGION": s3_server.region,
        "SANDBOX_S3_LOCATION": prefix.rstrip("/"),
        "TMPDIR": str(tmp),
    }


def wait_for_the_upload(process: subprocess.Popen, client, bucket, prefix) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        if uploads.get("Uploads"):
            return
        if process.poll() is not None:
            pytest.fail(f"the dump ended before its upload: {process.communicate()}")
        time.sleep(0.01)
    pytest.fail("the upload never started")


@pytest.mark.parametrize(
    ("number", "status"),
    [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGINT, 130)],
    ids=["SIGKILL", "SIGINT"],
)
@pytest.mark.slow
def test_an_upload_stopped_mid_way_leaves_nothing(
    sandbox_env, tmp_path, s3_server, number, status
):
    var = Path(sandbox_env["SANDBOX_VAR"])
    (var / "media").mkdir()
    (var / "media" / "big.bin").write_bytes(os.urandom(UPLOADED))
    assert run_manage("migrate", "-v0", env=sandbox_env).returncode == 0
    prefix = unique_prefix()
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = s3_environment(sandbox_env, s3_server, prefix, temporary)
    client = s3_server.client()
    command = [sys.executable, str(MANAGE_PY), "diskette_dump", "--to", "sandbox_s3"]
    process = subprocess.Popen(
        [*command, "--compresslevel", "0"],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_the_upload(process, client, s3_server.bucket, prefix)
        process.send_signal(number)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == status, err
    if number == signal.SIGINT:
        (line,) = err.splitlines()
        assert line.startswith("CommandError: interrupted"), err
    listed = client.list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix)
    assert listed.get("Contents", []) == []  # neither the archive nor a sidecar
    assert names(var / "dumps") == []
    assert names(temporary) == []
    for upload in client.list_multipart_uploads(
        Bucket=s3_server.bucket, Prefix=prefix
    ).get("Uploads", []):  # what a killed client cannot abort: the test's own clean-up
        client.abort_multipart_upload(
            Bucket=s3_server.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )
