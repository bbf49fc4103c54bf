"""The S3 and SFTP servers are real: clients talk to them over sockets.

boto3 and django-storages go through HTTP (signed requests, multipart uploads)
to moto's server, and through SSH to OpenSSH's sshd; each refuses credentials
it does not know, and a closed port fails as a network error. The client
libraries are imported in the tests, after the fixture: without them, the
fixture has already skipped (or failed, in CI).
"""

from __future__ import annotations

import io
import os
import subprocess
from dataclasses import replace

import pytest
from django.core.files.base import ContentFile

from tests.servers.process import free_port
from tests.servers.s3 import unique_prefix
from tests.servers.sftp import unique_directory

MiB = 1024 * 1024


def test_s3_put_and_get_an_object(s3_server):
    client = s3_server.client()
    key = unique_prefix() + "hello.txt"

    client.put_object(Bucket=s3_server.bucket, Key=key, Body=b"hello, S3")
    body = client.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read()

    assert body == b"hello, S3"
    assert s3_server.endpoint_url.startswith("http://127.0.0.1:")


def test_s3_multipart_upload_of_an_object_above_the_threshold(s3_server):
    from boto3.s3.transfer import TransferConfig

    client = s3_server.client()
    key = unique_prefix() + "big.bin"
    data = os.urandom(11 * MiB)
    five_mib = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)

    client.upload_fileobj(io.BytesIO(data), s3_server.bucket, key, Config=five_mib)
    head = client.head_object(Bucket=s3_server.bucket, Key=key)
    downloaded = io.BytesIO()
    client.download_fileobj(s3_server.bucket, key, downloaded)

    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 1 MiB: three parts
    assert downloaded.getvalue() == data


def test_s3_storage_saves_opens_lists_and_deletes(s3_server):
    from storages.backends.s3 import S3Storage

    storage = S3Storage(**s3_server.storage_options(location=unique_prefix()))

    name = storage.save("archives/a.tar.gz", ContentFile(b"archive bytes"))
    with storage.open(name, "rb") as handle:
        content = handle.read()

    assert name == "archives/a.tar.gz"
    assert content == b"archive bytes"
    assert storage.listdir("archives") == ([], ["a.tar.gz"])
    assert storage.size(name) == len(b"archive bytes")
    storage.delete(name)
    assert not storage.exists(name)


@pytest.mark.parametrize(
    ("credentials", "code"),
    [
        ({"aws_access_key_id": "AKIANOTAKEY00000000"}, "InvalidAccessKeyId"),
        ({"aws_secret_access_key": "not-the-secret"}, "SignatureDoesNotMatch"),
    ],
    ids=["unknown-key", "wrong-secret"],
)
def test_s3_refuses_wrong_credentials(s3_server, credentials, code):
    from botocore.exceptions import ClientError

    client = s3_server.client(**credentials)

    with pytest.raises(ClientError) as caught:
        client.put_object(Bucket=s3_server.bucket, Key=unique_prefix() + "x", Body=b"")

    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_s3_storage_with_a_wrong_secret_fails(s3_server):
    from botocore.exceptions import ClientError
    from storages.backends.s3 import S3Storage

    storage = S3Storage(**s3_server.storage_options(secret_key="not-the-secret"))

    with pytest.raises(ClientError, match="SignatureDoesNotMatch|403"):
        storage.exists(unique_prefix() + "anything")


def test_s3_unreachable_endpoint_is_a_connection_error(s3_server):
    from botocore.exceptions import EndpointConnectionError

    closed = replace(s3_server, endpoint_url=f"http://127.0.0.1:{free_port()}")

    with pytest.raises(EndpointConnectionError):
        closed.client().head_bucket(Bucket=s3_server.bucket)


def test_sftp_storage_saves_opens_lists_and_deletes(sftp_server):
    from storages.backends.sftpstorage import SFTPStorage

    root = unique_directory(sftp_server)
    storage = SFTPStorage(**sftp_server.storage_options(root=root))

    name = storage.save("archives/a.tar.gz", ContentFile(b"archive bytes"))
    with storage.open(name, "rb") as handle:
        content = handle.read()

    assert name == "archives/a.tar.gz"
    assert content == b"archive bytes"
    assert storage.listdir("archives") == ([], ["a.tar.gz"])
    assert (root / "archives" / "a.tar.gz").read_bytes() == b"archive bytes"
    transport = storage.sftp.get_channel().get_transport()
    assert transport.remote_version.startswith("SSH-2.0-OpenSSH")
    storage.delete(name)
    assert not storage.exists(name)
    storage.close()


def test_sftp_refuses_a_key_it_does_not_know(sftp_server, tmp_path):
    import paramiko
    from storages.backends.sftpstorage import SFTPStorage

    other_key = tmp_path / "other_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)],
        check=True,
        timeout=30,
    )
    storage = SFTPStorage(**sftp_server.storage_options(key_filename=str(other_key)))

    with pytest.raises(paramiko.AuthenticationException):
        storage.exists("anything")


def test_sftp_refuses_a_host_whose_key_differs(sftp_server, tmp_path):
    import paramiko
    from storages.backends.sftpstorage import SFTPStorage

    impostor = tmp_path / "impostor"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(impostor)],
        check=True,
        timeout=30,
    )
    key_type, key_data = impostor.with_suffix(".pub").read_text().split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(
        f"[{sftp_server.host}]:{sftp_server.port} {key_type} {key_data}\n"
    )
    options = sftp_server.storage_options()
    storage = SFTPStorage(**{**options, "known_host_file": str(known_hosts)})

    with pytest.raises(paramiko.BadHostKeyException):
        storage.exists("anything")


def test_sftp_unreachable_port_is_a_connection_error(sftp_server):
    from storages.backends.sftpstorage import SFTPStorage

    storage = SFTPStorage(**sftp_server.storage_options(port=free_port()))

    with pytest.raises(OSError, match="Unable to connect|refused"):
        storage.exists("anything")
