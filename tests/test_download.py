"""Downloads against a real HTTP server on loopback, started by the tests."""

from __future__ import annotations

import http.server
import stat
import threading
import time

import pytest
from django.contrib.sites.models import Site

from diskette import api
from diskette.download import download, is_url, redact
from diskette.exceptions import DownloadError
from tests.archives import make_archive, sites

PAYLOAD = b"0123456789" * 1000


class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self):  # noqa: N802 - the http.server API
        status, headers, body = self.routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        """Keep the test output clean."""


@pytest.fixture
def server():
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    handler = type("RouteHandler", (Handler,), {"routes": routes})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield base, routes
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_download_streams_to_a_private_file(server, tmp_path):
    base, routes = server
    routes["/a.tar.gz"] = (200, {}, PAYLOAD)
    target = download(f"{base}/a.tar.gz", tmp_path / "got.tar.gz")
    assert target.read_bytes() == PAYLOAD
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["got.tar.gz"]


def test_redirect_is_refused_by_default(server, tmp_path):
    base, routes = server
    routes["/old"] = (302, {"Location": "/a.tar.gz"}, b"")
    routes["/a.tar.gz"] = (200, {}, PAYLOAD)
    with pytest.raises(DownloadError, match="redirects.*ALLOW_REDIRECT"):
        download(f"{base}/old", tmp_path / "got.tar.gz")
    assert list(tmp_path.iterdir()) == []


def test_redirect_is_followed_when_allowed(server, tmp_path):
    base, routes = server
    routes["/old"] = (302, {"Location": "/a.tar.gz"}, b"")
    routes["/a.tar.gz"] = (200, {}, PAYLOAD)
    target = download(f"{base}/old", tmp_path / "got.tar.gz", allow_redirect=True)
    assert target.read_bytes() == PAYLOAD


def test_redirect_to_a_disallowed_protocol_is_refused(server, tmp_path):
    base, routes = server
    routes["/old"] = (302, {"Location": "ftp://127.0.0.1/a.tar.gz"}, b"")
    with pytest.raises(DownloadError, match="protocol 'ftp'"):
        download(f"{base}/old", tmp_path / "got.tar.gz", allow_redirect=True)


def test_not_found_is_a_download_error(server, tmp_path):
    base, _routes = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{base}/nothing", tmp_path / "got.tar.gz")
    assert list(tmp_path.iterdir()) == []


def test_too_large_by_header_is_refused(server, tmp_path):
    base, routes = server
    routes["/big"] = (200, {}, PAYLOAD)
    with pytest.raises(DownloadError, match="MAX_SIZE"):
        download(f"{base}/big", tmp_path / "got.tar.gz", max_size=100)
    assert list(tmp_path.iterdir()) == []


def test_too_large_without_length_is_stopped_while_streaming(tmp_path):
    """A server that sends no Content-Length: counting stops the body."""

    class NoLength(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(PAYLOAD)

        def log_message(self, *args):
            """Quiet."""

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoLength)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/x"
        with pytest.raises(DownloadError, match="stopped"):
            download(url, tmp_path / "got.tar.gz", max_size=100)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/a.tar.gz", "file:///etc/passwd"])
def test_disallowed_protocols_are_refused(url, tmp_path):
    with pytest.raises(DownloadError, match="DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS"):
        download(url, tmp_path / "got.tar.gz")
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_is_a_download_error(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError, match="failed"):
        download(f"http://127.0.0.1:{port}/a.tar.gz", tmp_path / "x", timeout=5)


def test_messages_never_show_credentials():
    assert redact("https://user:secret@host.example:8443/a.tar.gz?token=t") == (
        "https://host.example:8443/a.tar.gz"
    )
    assert is_url("https://x/a.tar.gz")
    assert not is_url("/tmp/a.tar.gz")
    assert not is_url("C:\\dumps\\a.tar.gz")


@pytest.mark.django_db
def test_load_from_a_url_removes_the_download(server, tmp_path):
    base, routes = server
    archive = make_archive(
        tmp_path / "src.tar.gz",
        data={"sites.json": sites((61, "remote.example.org"))},
        storages={"media": {"r.txt": b"remote"}},
    )
    routes["/site.tar.gz"] = (200, {}, archive.read_bytes())
    site = tmp_path / "site"
    result = api.load(f"{base}/site.tar.gz", storages_basepath=site)
    assert Site.objects.filter(domain="remote.example.org").exists()
    assert (site / "media" / "r.txt").read_bytes() == b"remote"
    assert sorted(p.name for p in site.iterdir()) == ["media"]
    assert result.archive.endswith("/site.tar.gz")


@pytest.mark.django_db
def test_load_from_a_url_keeps_the_download_destination(server, tmp_path):
    base, routes = server
    archive = make_archive(
        tmp_path / "src.tar.gz", data={"sites.json": sites((62, "kept.example.org"))}
    )
    routes["/site.tar.gz"] = (200, {}, archive.read_bytes())
    kept = tmp_path / "kept.tar.gz"
    api.load(f"{base}/site.tar.gz", download_destination=kept, with_storages=False)
    assert kept.read_bytes() == archive.read_bytes()


@pytest.mark.django_db
def test_refused_download_through_the_api(server, tmp_path, settings):
    base, routes = server
    routes["/old"] = (301, {"Location": "/new"}, b"")
    site = tmp_path / "site"
    site.mkdir()
    with pytest.raises(DownloadError):
        api.load(f"{base}/old", storages_basepath=site)
    assert list(site.iterdir()) == []
    settings.DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS = ["https"]
    with pytest.raises(DownloadError, match="'http'"):
        api.load(f"{base}/old", storages_basepath=site)


class Trickle(http.server.BaseHTTPRequestHandler):
    """One byte every 0.2 s, of the body or of the headers, until the client leaves."""

    protocol_version = "HTTP/1.0"
    stop: threading.Event
    where = "body"
    length: str | None = "100000"

    def do_GET(self):  # noqa: N802 - the http.server API
        try:
            if self.where == "headers":
                self.wfile.write(b"HTTP/1.0 200 OK\r\n")
                self.trickle(b"X-Slow: " + b"a" * 100000)
            self.send_response(200)
            if self.length is not None:
                self.send_header("Content-Length", self.length)
            self.end_headers()
            self.trickle(b"b" * int(self.length or 100000))
        except OSError:
            return

    def trickle(self, data: bytes) -> None:
        for byte in data:
            if self.stop.wait(0.2):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def log_message(self, *args):
        """Quiet."""


@pytest.fixture
def trickling():
    """Start a trickling server: ``trickling(where, length)`` returns its URL."""
    stop = threading.Event()
    servers = []

    def start(where: str = "body", length: str | None = "100000") -> str:
        handler = type(
            "Slow", (Trickle,), {"stop": stop, "where": where, "length": length}
        )
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,))
        thread.daemon = True
        thread.start()
        servers.append((httpd, thread))
        return f"http://127.0.0.1:{httpd.server_address[1]}/slow.tar.gz"

    yield start
    stop.set()
    for httpd, thread in servers:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("where", "length"),
    [("body", "100000"), ("body", None), ("headers", None)],
    ids=["body", "body-until-close", "headers"],
)
@pytest.mark.slow
def test_a_trickling_server_is_stopped_by_the_deadline(
    trickling, tmp_path, where, length
):
    """The timeout counts silence only; the deadline counts the whole download."""
    url = trickling(where, length)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="DISKETTE_DOWNLOAD_DEADLINE") as caught:
        download(url, tmp_path / "got.tar.gz", timeout=5, deadline=1)
    assert time.monotonic() - started < 30  # stopped, not left to trickle for hours
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
@pytest.mark.slow
def test_the_deadline_setting_reaches_a_load(trickling, tmp_path, settings):
    """30 bytes in 6 s: without the deadline they arrive, and are not an archive."""
    settings.DISKETTE_DOWNLOAD_DEADLINE = 1
    site = tmp_path / "site"
    site.mkdir()
    with pytest.raises(DownloadError, match=r"DEADLINE \(1 s\)") as caught:
        api.load(trickling(length="30"), storages_basepath=site)
    assert caught.value.exit_code == 30
    assert list(site.iterdir()) == []
    with pytest.raises(DownloadError, match=r"DEADLINE \(1 s\)"):
        api.inspect(trickling(length="30"))
