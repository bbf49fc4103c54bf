"""Credentials in a download URL: sent as HTTP basic auth to that host only, shown
nowhere, against real HTTP servers on loopback."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from io import StringIO
from urllib.parse import quote

import pytest
from django.contrib.sites.models import Site
from django.core.management import CommandError, call_command

from diskette import api
from diskette.download import download, redact
from diskette.exceptions import DownloadError
from tests.archives import make_archive, sites

PAYLOAD = b"archive bytes " * 100
USER = "deploy"
PASSWORD = "s3/cr#t@x:y?z"  # every character a URL gives a meaning to


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Site_:
    """A real HTTP server: paths that redirect, paths behind basic auth, a log."""

    def __init__(self, password: str = PASSWORD):
        self.expected = basic(USER, password)
        self.body = PAYLOAD
        self.redirects: dict[str, str] = {}
        self.open: set[str] = set()
        self.seen: list[tuple[str, str | None]] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                authorization = self.headers.get("Authorization")
                site.seen.append((self.path, authorization))
                if self.path in site.redirects:
                    self.send_response(302)
                    self.send_header("Location", site.redirects[self.path])
                    body = b""
                elif self.path in site.open or authorization == site.expected:
                    self.send_response(200)
                    body = site.body
                else:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="dumps"')
                    body = b"who are you?"
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                """Keep the test output clean."""

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), daemon=True
        )
        self.thread.start()

    def url(self, path: str, userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def site():
    server = Site_()
    yield server
    server.close()


ENCODED = f"{USER}:{quote(PASSWORD, safe='')}"


def test_credentials_in_the_url_are_sent_as_basic_auth(site, tmp_path):
    target = download(site.url("/a.tar.gz", ENCODED), tmp_path / "got.tar.gz")
    assert target.read_bytes() == PAYLOAD
    assert site.seen == [("/a.tar.gz", basic(USER, PASSWORD))]


def test_a_password_with_a_raw_slash_and_hash_is_read_whole(tmp_path):
    """``user:pa/ss#w@host``: the user information ends at the '@' before the host."""
    server = Site_(password="pa/ss#w")
    try:
        url = server.url("/a.tar.gz", f"{USER}:pa/ss#w")
        assert download(url, tmp_path / "got.tar.gz").read_bytes() == PAYLOAD
        assert server.seen == [("/a.tar.gz", basic(USER, "pa/ss#w"))]
    finally:
        server.close()


def test_a_refused_password_is_one_line_that_does_not_show_it(site, tmp_path):
    url = site.url("/a.tar.gz", f"{USER}:wrong-secret")
    with pytest.raises(DownloadError) as caught:
        download(url, tmp_path / "got.tar.gz")
    message = str(caught.value)
    assert "HTTP 401" in message and "not accept the user name and password" in message
    assert "wrong-secret" not in message and USER not in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_server_that_wants_credentials_says_how_to_give_them(site, tmp_path):
    with pytest.raises(DownloadError, match="401.*USER:PASSWORD@"):
        download(site.url("/a.tar.gz"), tmp_path / "got.tar.gz")


@pytest.mark.parametrize("userinfo", ["tok/SECRET", "tok#SECRET", "u:p@ss/SECRET"])
def test_credentials_that_cannot_be_told_from_the_host_are_refused(
    site, tmp_path, userinfo
):
    """Two readings of the URL: nothing is sent anywhere, nothing of it is shown."""
    with pytest.raises(DownloadError, match="percent-encode") as caught:
        download(site.url("/a.tar.gz", userinfo), tmp_path / "got.tar.gz")
    assert "SECRET" not in str(caught.value)
    assert site.seen == []
    assert list(tmp_path.iterdir()) == []


def test_credentials_follow_a_redirect_on_the_same_host_only(site, tmp_path):
    other = Site_()
    try:
        other.open.add("/elsewhere.tar.gz")
        site.redirects["/old"] = "/a.tar.gz"
        site.redirects["/away"] = other.url("/elsewhere.tar.gz")
        url = site.url("/old", ENCODED)
        download(url, tmp_path / "one", allow_redirect=True)
        download(site.url("/away", ENCODED), tmp_path / "two", allow_redirect=True)
        assert site.seen == [
            ("/old", basic(USER, PASSWORD)),
            ("/a.tar.gz", basic(USER, PASSWORD)),
            ("/away", basic(USER, PASSWORD)),
        ]
        assert other.seen == [("/elsewhere.tar.gz", None)]
    finally:
        other.close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://u:pa/ss#w@host.example/a.tar.gz?sig=1",
            "https://host.example/a.tar.gz",
        ),
        ("https://tok%2Fen@host:8443/a.tar.gz", "https://host:8443/a.tar.gz"),
        ("https://tok/en@host/a.tar.gz", "https://***@host/a.tar.gz"),
        ("https://u:p@[::1/a.tar.gz", "https://***@[::1/a.tar.gz"),
        ("/srv/dumps/a.tar.gz", "/srv/dumps/a.tar.gz"),
    ],
)
def test_shown_urls_hold_no_part_of_a_password(url, shown):
    assert redact(url) == shown


@pytest.fixture
def remote(site, tmp_path):
    archive = make_archive(
        tmp_path / "src.tar.gz", data={"sites.json": sites((71, "auth.example.org"))}
    )
    site.body = archive.read_bytes()
    return site


@pytest.mark.django_db
def test_load_plan_and_inspect_never_show_the_password(remote, tmp_path):
    url = remote.url("/site.tar.gz", ENCODED)
    plan = api.plan_load(url, with_storages=False)
    inspected = api.inspect(url)
    result = api.load(url, with_storages=False)
    assert Site.objects.filter(domain="auth.example.org").exists()
    shown = f"http://127.0.0.1:{remote.port}/site.tar.gz"
    assert result.archive == plan.archive == inspected.archive == shown
    for text in (
        json.dumps(result.to_dict()),
        json.dumps(plan.to_dict()),
        json.dumps(inspected.to_dict()),
    ):
        assert quote(PASSWORD, safe="") not in text and USER not in text


@pytest.mark.django_db
def test_the_command_never_prints_the_password(remote, tmp_path):
    out, err = StringIO(), StringIO()
    url = remote.url("/site.tar.gz", ENCODED)
    call_command(
        "diskette_load", url, "--json", "--no-storages", stdout=out, stderr=err
    )
    assert json.loads(out.getvalue())["archive"].endswith("/site.tar.gz")
    call_command(
        "diskette_load", url, "--no-storages", "-v", "2", stdout=out, stderr=err
    )
    wrong = remote.url("/site.tar.gz", f"{USER}:hunter22")
    with pytest.raises(CommandError) as caught:
        call_command("diskette_load", wrong, stdout=out, stderr=err)
    printed = out.getvalue() + err.getvalue() + str(caught.value)
    assert "HTTP 401" in str(caught.value)
    for secret in (quote(PASSWORD, safe=""), PASSWORD, "hunter22", USER):
        assert secret not in printed
