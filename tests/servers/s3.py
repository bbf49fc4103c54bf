"""A real S3 endpoint for the tests: moto's standalone server on loopback.

The server runs as a separate process (``python -m moto.server`` on 127.0.0.1
and a free port), not as moto's in-process mock or its server thread: the
client then goes through real HTTP, real request signing and real multipart
uploads over a socket, against a server whose state and failures are its own, as
with a real S3. The in-process mock patches botocore instead, and so would let
through code that only works without a network.

The server checks credentials: after the fixture creates an IAM user allowed
``s3:*`` and its access key, it switches moto's IAM enforcement on
(``/moto-api/reset-auth`` with 0 free actions, the same setting as
``INITIAL_NO_AUTH_ACTION_COUNT``), so an unknown key or a wrong secret gets the
403 a real S3 sends. It then creates one bucket for the run.

``s3_server`` is session scoped: one server per pytest process, so each xdist
worker has its own (as each has its own PostgreSQL cluster, see
``tests/pgcluster.py``), started the first time a test asks for it. Tests share
the bucket and keep apart by writing under a prefix of their own
(``unique_prefix``). ``DISKETTE_TEST_REQUIRE_S3=1`` turns a failed start into an
error.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.process import GuardedServer, start_on_free_port, unavailable

REQUIRE_VAR = "DISKETTE_TEST_REQUIRE_S3"
REGION = "us-east-1"
BUCKET = "diskette-test-run"
USER = "diskette-test"
#: Anything goes before enforcement is on; these only create the IAM user.
BOOTSTRAP_CREDENTIALS = {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "x"}
ALLOW_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@dataclass(frozen=True)
class S3Server:
    """How to reach the run's server and bucket, with credentials it accepts."""

    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str
    region: str = REGION
    startup_seconds: float = 0.0

    def client(self, **credentials: str) -> Any:
        """A boto3 S3 client on the server; ``credentials`` override the good ones."""
        import boto3
        from botocore.config import Config

        options = {
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            **credentials,
        }
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            config=Config(retries={"max_attempts": 1}),
            **options,
        )

    def storage_options(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``storages.backends.s3.S3Storage``."""
        return {
            "bucket_name": self.bucket,
            "endpoint_url": self.endpoint_url,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region_name": self.region,
            **overrides,
        }


def unique_prefix() -> str:
    """A key prefix no other test uses: tests share the run's bucket."""
    return f"t-{uuid.uuid4().hex[:12]}/"


def _enforce_credentials(endpoint_url: str) -> None:
    request = urllib.request.Request(
        f"{endpoint_url}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},  # a form body would be parsed away
    )
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(request, timeout=10) as response:
        response.read()


def _prepare(endpoint_url: str) -> tuple[str, str]:
    """Create the IAM user and its key, turn enforcement on, create the bucket."""
    import boto3

    iam = boto3.client(
        "iam", endpoint_url=endpoint_url, region_name=REGION, **BOOTSTRAP_CREDENTIALS
    )
    iam.create_user(UserName=USER)
    iam.put_user_policy(
        UserName=USER, PolicyName="s3", PolicyDocument=json.dumps(ALLOW_S3)
    )
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    _enforce_credentials(endpoint_url)
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    s3.create_bucket(Bucket=BUCKET)
    return key["AccessKeyId"], key["SecretAccessKey"]


def start_s3_server(directory: Path) -> tuple[GuardedServer, S3Server]:
    """Start moto on a free port and prepare it; RuntimeError when it fails."""
    import moto  # noqa: F401  (a clear ImportError before spawning anything)

    started = time.monotonic()
    server, port = start_on_free_port(
        lambda port: [
            *(sys.executable, "-m", "moto.server"),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        log=directory / "moto.log",
    )
    endpoint_url = f"http://127.0.0.1:{port}"
    try:
        access_key, secret_key = _prepare(endpoint_url)
    except BaseException:
        server.stop()
        raise
    return server, S3Server(
        endpoint_url=endpoint_url,
        bucket=BUCKET,
        access_key=access_key,
        secret_key=secret_key,
        startup_seconds=time.monotonic() - started,
    )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """The run's S3 server (one per pytest process); stopped at session end."""
    with tempfile.TemporaryDirectory(prefix="diskette-s3-") as directory:
        try:
            server, details = start_s3_server(Path(directory))
        except Exception as error:  # ImportError, OSError, RuntimeError, botocore
            unavailable("S3 server (moto)", REQUIRE_VAR, error)
        try:
            yield details
        finally:
            server.stop()
