"""diskette_list and diskette_prune on a destination that cannot be read: one
line naming the destination and the cause, the status of a DownloadError, and
nothing deleted. Against the real S3 server (moto) and sshd of the suite."""

from __future__ import annotations

import io
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from diskette.exceptions import DownloadError
from tests.destinations import test_dump_to_destination as shared
from tests.destinations.test_dump_faults import S3, SFTP, closed_port, no_retries
from tests.servers.s3 import unique_prefix
from tests.servers.sftp import unique_directory

aliases = shared.aliases


def failed(command: str, *args: str) -> str:
    """Run ``command``, which must fail as a DownloadError; its one line."""
    with pytest.raises(CommandError) as caught:
        call_command(command, *args, stdout=io.StringIO(), stderr=io.StringIO())
    message = str(caught.value)
    assert caught.value.returncode == DownloadError.exit_code, message
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "command", [("diskette_list",), ("diskette_prune", "--keep", "1", "--noinput")]
)
def test_an_s3_endpoint_nobody_listens_on(aliases, s3_server, command):
    options = s3_server.storage_options(
        endpoint_url=f"http://127.0.0.1:{closed_port()}", client_config=no_retries()
    )
    aliases(dead=(S3, options))

    message = failed(*command, "--from", "dead")

    assert message.startswith(
        "reading STORAGES['dead'] (S3Storage) failed: EndpointConnectionError: "
    )
    assert message.endswith("; nothing was changed")


def test_s3_refusing_the_credentials_deletes_nothing(aliases, s3_server):
    good = s3_server.storage_options(location=unique_prefix().rstrip("/"))
    aliases(good=(S3, good))
    call_command("diskette_list", "--from", "good", stdout=io.StringIO())
    aliases(wrong=(S3, {**good, "secret_key": "wrong", "client_config": no_retries()}))

    message = failed("diskette_prune", "--from", "wrong", "--keep", "1", "--noinput")

    assert message.startswith("reading STORAGES['wrong'] (S3Storage) failed: ")
    assert "SignatureDoesNotMatch" in message or "403" in message, message


def test_an_sftp_key_the_server_refuses(aliases, sftp_server, tmp_path):
    other_key = tmp_path / "other_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)],
        check=True,
        timeout=30,
    )
    options = sftp_server.storage_options(
        root=unique_directory(sftp_server), key_filename=str(other_key)
    )
    aliases(refused=(SFTP, options))

    message = failed("diskette_list", "--from", "refused")

    assert message.startswith("reading STORAGES['refused'] (SFTPStorage) failed: ")
