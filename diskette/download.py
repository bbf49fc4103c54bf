"""Download an archive from a URL with the standard library only.

Only the schemes in ``DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS``; redirects refused
unless ``DISKETTE_DOWNLOAD_ALLOW_REDIRECT``; a timeout on silence, an overall
deadline and a maximum size; ``user:password@`` in the URL sent as HTTP basic
authentication to that host only, and never shown. The body is streamed to a
private temporary file beside the destination and renamed into place only when
complete.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import socket
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from diskette.exceptions import DownloadError
from diskette.reporter import Reporter
from diskette.urls import has_scheme, scheme_of, split_userinfo

_CHUNK = 1024 * 1024
_ENCODE = "percent-encode them (/ %2F, ? %3F, # %23, @ %40, : %3A)"


def is_url(value: str | os.PathLike) -> bool:
    """True when ``value`` looks like a URL (``scheme://...``) rather than a path."""
    return has_scheme(str(value))


def redact(url: str | os.PathLike) -> str:
    """The URL without credentials, query or fragment: what messages and results show.

    When the credentials cannot be told from the host, everything up to the last
    ``@`` is hidden, which leaves no part of a password whatever it holds.
    """
    text = str(url)
    if not has_scheme(text):
        return text
    scheme, _, main = text.partition("://")
    split = split_userinfo(text)
    if split is not None:
        shown = split.rest
    elif "@" in main:
        shown = "***@" + main.rpartition("@")[2]
    else:
        shown = main
    for mark in "?#":
        shown = shown.partition(mark)[0]
    return f"{scheme}://{shown}"


def _allowed(url: str, protocols: Iterable[str]) -> str:
    scheme = scheme_of(url)
    allowed = [str(p).lower() for p in protocols]
    if scheme not in allowed:
        raise DownloadError(
            f"download of {redact(url)!r} refused: protocol {scheme!r} is not in "
            f"DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS ({', '.join(allowed) or 'empty'})"
        )
    return scheme


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port: credentials go to this origin and no other."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class Deadline:
    """A clock for a whole download: when it runs out, the watched socket is shut.

    A socket timeout only counts silence, and a read blocks until its bytes come;
    shutting the socket from a timer ends any read, however the server trickles.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._socket = None

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` when the time is up (at once if it already is)."""
        with self._lock:
            self._socket = sock
            if self.expired:
                self._shut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._socket is not None:
            # the plain socket's shutdown, also under TLS: it ends a blocked read
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._socket, socket.SHUT_RDWR)


class _Credentials:
    """The request URL without its user information, and that as a basic-auth header."""

    def __init__(self, url: str, shown: str):
        self.original = url
        self.url = url.partition("#")[0]
        self.header: str | None = None
        self.origin: tuple[str, str, int | None] | None = None
        self.secrets = [self.url.partition("?")[2]]  # a signed URL's signature
        if "@" not in url.partition("://")[2]:
            return
        split = split_userinfo(url)
        if split is None:
            raise DownloadError(
                f"download of {shown!r} refused: its user name or password cannot be "
                "told from its host (an '@', '/', '?', '#' or ':' written as is); "
                f"{_ENCODE}"
            )
        self.url = split.without_userinfo.partition("#")[0]
        self.secrets = [self.url.partition("?")[2]]
        if split.userinfo:
            user, _, password = split.userinfo.partition(":")
            pair = f"{unquote(user)}:{unquote(password)}".encode()
            self.header = "Basic " + base64.b64encode(pair).decode("ascii")
            self.secrets += [split.userinfo, unquote(user), unquote(password)]
        try:
            self.origin = _origin(self.url)
        except ValueError:
            raise DownloadError(
                f"download of {shown!r} refused: its host cannot be read; {_ENCODE} "
                "in the user name and password"
            ) from None

    def scrub(self, text: str, shown: str) -> str:
        """``text`` (an error from the network stack) with no credential left in it."""
        text = text.replace(self.original, shown).replace(self.url, shown)
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= 3:
                text = text.replace(secret, "***")
        return text


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects, or follow them only to allowed protocols; basic auth stays home."""

    def __init__(
        self, allow: bool, protocols: Iterable[str], credentials: _Credentials
    ):
        self.allow = allow
        self.protocols = list(protocols)
        self.credentials = credentials

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: PLR0913
        if not self.allow:
            raise DownloadError(
                f"download of {redact(req.full_url)!r} refused: the server redirects "
                f"(HTTP {code}) to {redact(newurl)!r}; use that URL, or set "
                "DISKETTE_DOWNLOAD_ALLOW_REDIRECT = True"
            )
        _allowed(newurl, self.protocols)
        if "@" in urlsplit(newurl).netloc:
            raise DownloadError(
                f"download of {redact(req.full_url)!r} refused: the server redirects "
                f"(HTTP {code}) to a URL with credentials ({redact(newurl)!r})"
            )
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        header = self.credentials.header
        if new is not None and header and _origin(newurl) == self.credentials.origin:
            new.add_unredirected_header("Authorization", header)
        return new


class _Watched:
    """Hand each connection's socket to the deadline, which shuts it when time is up."""

    deadline: Deadline

    def do_open(self, http_class, req, **kwargs):
        deadline = self.deadline

        class Connection(http_class):
            def connect(self) -> None:
                super().connect()
                deadline.watch(self.sock)

        return super().do_open(Connection, req, **kwargs)


class _HTTP(_Watched, urllib.request.HTTPHandler):
    def __init__(self, deadline: Deadline):
        super().__init__()
        self.deadline = deadline


class _HTTPS(_Watched, urllib.request.HTTPSHandler):
    def __init__(self, deadline: Deadline):
        super().__init__()
        self.deadline = deadline


def download(
    url: str,
    destination: str | os.PathLike,
    *,
    allowed_protocols: Iterable[str] = ("http", "https"),
    allow_redirect: bool = False,
    timeout: float = 60,
    max_size: int = 50 * 1024**3,
    deadline: float = 6 * 3600,
    reporter: Reporter | None = None,
) -> Path:
    """Download ``url`` to ``destination``; raise :class:`DownloadError` on failure.

    ``timeout`` bounds each wait on the network, ``deadline`` the whole download.
    The body goes to a 0600 temporary file in the destination's directory, which
    is renamed to ``destination`` once complete and removed on any failure.
    """
    reporter = reporter or Reporter()
    url = str(url)
    protocols = list(allowed_protocols)
    shown = redact(url)
    _allowed(url, protocols)
    credentials = _Credentials(url, shown)
    target = _file_target(destination)
    clock = Deadline(deadline)
    opener = _opener(clock, bool(allow_redirect), protocols, credentials)
    descriptor, temporary = tempfile.mkstemp(
        prefix=".diskette-download-", suffix=".part", dir=target.parent
    )
    late = DownloadError(
        f"download of {shown!r} stopped: not finished within "
        f"DISKETTE_DOWNLOAD_DEADLINE ({deadline} s); raise it, or download from a "
        "faster server"
    )
    try:
        with clock, os.fdopen(descriptor, "wb") as output:
            request = _request(credentials)
            with opener.open(request, timeout=min(timeout, deadline)) as response:
                received = _copy_body(
                    response,
                    output,
                    shown=shown,
                    max_size=max_size,
                    clock=clock,
                    late=late,
                    reporter=reporter,
                )
        reporter.done()
        Path(temporary).replace(target)
    except BaseException as error:
        _discard(temporary)
        if isinstance(error, DownloadError):
            raise
        if clock.expired and isinstance(error, Exception):
            raise late from None
        _translate(error, shown, timeout, credentials)
        raise
    reporter.info(f"Downloaded {shown} ({received} bytes)")
    return target


def _file_target(destination: str | os.PathLike) -> Path:
    """``destination`` as a path, refused when it names a directory."""
    target = Path(destination)
    if target.is_dir():
        raise DownloadError(
            f"download destination {str(target)!r} is a directory: give a file name"
        )
    return target


def _opener(
    clock: Deadline,
    allow_redirect: bool,
    protocols: list[str],
    credentials: _Credentials,
) -> urllib.request.OpenerDirector:
    """An opener whose connections the deadline can shut and whose redirects obey."""
    return urllib.request.build_opener(
        _HTTP(clock),
        _HTTPS(clock),
        _Redirects(allow_redirect, protocols, credentials),
    )


def _request(credentials: _Credentials) -> urllib.request.Request:
    """The request for the URL without its user information, sent in a header that
    no redirect carries (:class:`_Redirects` adds it back for the same origin only).
    """
    request = urllib.request.Request(  # noqa: S310 - protocol checked by download()
        credentials.url, headers={"User-Agent": "diskette"}
    )
    if credentials.header:
        request.add_unredirected_header("Authorization", credentials.header)
    return request


def _copy_body(
    response: http.client.HTTPResponse,
    output: IO[bytes],
    *,
    shown: str,
    max_size: int,
    clock: Deadline,
    late: DownloadError,
    reporter: Reporter,
) -> int:
    """Copy the response's body into ``output``; the number of bytes it held.

    The size announced is checked before the first byte and the bytes as they come,
    since an announcement may lie; a body shorter than announced is an error.
    """
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_size:
        raise DownloadError(
            f"download of {shown!r} refused: it is {int(length)} bytes, "
            f"more than DISKETTE_DOWNLOAD_MAX_SIZE ({max_size})"
        )
    total = int(length) if length and length.isdigit() else None
    received = 0
    read = getattr(response, "read1", response.read)
    for chunk in iter(lambda: read(_CHUNK), b""):
        if clock.expired:
            raise late
        received += len(chunk)
        if received > max_size:
            raise DownloadError(
                f"download of {shown!r} stopped: more than "
                f"DISKETTE_DOWNLOAD_MAX_SIZE ({max_size} bytes)"
            )
        output.write(chunk)
        reporter.progress("Downloading", received, total)
    if clock.expired:
        raise late
    if total is not None and received != total:
        raise DownloadError(
            f"download of {shown!r} ended after {received} of {total} bytes: try again"
        )
    return received


def _translate(
    error: BaseException, shown: str, timeout: float, credentials: _Credentials
) -> None:
    """Raise the one-line DownloadError that says what went wrong, if it is ours to say."""
    if isinstance(error, urllib.error.HTTPError):
        reason = credentials.scrub(str(error.reason), shown)
        if error.code == 401 and credentials.header:
            raise DownloadError(
                f"download of {shown!r} refused: HTTP 401 {reason}: the server does "
                "not accept the user name and password in the URL; check them, and "
                f"{_ENCODE}"
            ) from None
        if error.code == 401:
            raise DownloadError(
                f"download of {shown!r} refused: HTTP 401 {reason}: the server wants "
                "a user name and password; give them in the URL as "
                "https://USER:PASSWORD@host/..."
            ) from None
        raise DownloadError(
            f"download of {shown!r} failed: HTTP {error.code} {reason}"
        ) from None
    if isinstance(error, urllib.error.URLError):
        reason = credentials.scrub(str(error.reason), shown)
        raise DownloadError(f"download of {shown!r} failed: {reason}") from None
    if isinstance(error, TimeoutError):
        raise DownloadError(
            f"download of {shown!r} timed out after {timeout} s of silence "
            "(DISKETTE_DOWNLOAD_TIMEOUT)"
        ) from None
    if isinstance(error, (OSError, ValueError, http.client.HTTPException)):
        reason = credentials.scrub(str(error), shown)
        raise DownloadError(f"download of {shown!r} failed: {reason}") from None


def _discard(path: str) -> None:
    Path(path).unlink(missing_ok=True)
