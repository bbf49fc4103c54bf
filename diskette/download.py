"""Download an archive from a URL with the standard library only.

Only the schemes in ``DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS``; redirects refused
unless ``DISKETTE_DOWNLOAD_ALLOW_REDIRECT``; a timeout and a maximum size; the
body is streamed to a private temporary file beside the destination and renamed
into place only when complete.
"""

from __future__ import annotations

import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from diskette.exceptions import DownloadError
from diskette.reporter import Reporter

_CHUNK = 1024 * 1024


def is_url(value: str | os.PathLike) -> bool:
    """True when ``value`` looks like a URL (``scheme://...``) rather than a path."""
    text = str(value)
    scheme = urlsplit(text).scheme
    return "://" in text and len(scheme) > 1


def redact(url: str) -> str:
    """The URL without credentials or query, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _allowed(url: str, protocols: Iterable[str]) -> str:
    scheme = urlsplit(url).scheme.lower()
    allowed = [str(p).lower() for p in protocols]
    if scheme not in allowed:
        raise DownloadError(
            f"download of {redact(url)!r} refused: protocol {scheme!r} is not in "
            f"DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS ({', '.join(allowed) or 'empty'})"
        )
    return scheme


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects, or follow them only to allowed protocols."""

    def __init__(self, allow: bool, protocols: Iterable[str]):
        self.allow = allow
        self.protocols = list(protocols)

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: PLR0913
        if not self.allow:
            raise DownloadError(
                f"download of {redact(req.full_url)!r} refused: the server redirects "
                f"(HTTP {code}) to {redact(newurl)!r}; use that URL, or set "
                "DISKETTE_DOWNLOAD_ALLOW_REDIRECT = True"
            )
        _allowed(newurl, self.protocols)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download(
    url: str,
    destination: str | os.PathLike,
    *,
    allowed_protocols: Iterable[str] = ("http", "https"),
    allow_redirect: bool = False,
    timeout: float = 60,
    max_size: int = 50 * 1024**3,
    reporter: Reporter | None = None,
) -> Path:
    """Download ``url`` to ``destination``; raise :class:`DownloadError` on failure.

    The body goes to a 0600 temporary file in the destination's directory, which
    is renamed to ``destination`` once complete and removed on any failure.
    """
    reporter = reporter or Reporter()
    protocols = list(allowed_protocols)
    _allowed(url, protocols)
    target = Path(destination)
    if target.is_dir():
        raise DownloadError(
            f"download destination {str(target)!r} is a directory: give a file name"
        )
    opener = urllib.request.build_opener(_Redirects(bool(allow_redirect), protocols))
    shown = redact(url)
    descriptor, temporary = tempfile.mkstemp(
        prefix=".diskette-download-", suffix=".part", dir=target.parent
    )
    received = 0
    try:
        with os.fdopen(descriptor, "wb") as output:
            request = urllib.request.Request(  # noqa: S310 - protocol checked above
                url, headers={"User-Agent": "diskette"}
            )
            with opener.open(request, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > max_size:
                    raise DownloadError(
                        f"download of {shown!r} refused: it is {int(length)} bytes, "
                        f"more than DISKETTE_DOWNLOAD_MAX_SIZE ({max_size})"
                    )
                total = int(length) if length and length.isdigit() else None
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    received += len(chunk)
                    if received > max_size:
                        raise DownloadError(
                            f"download of {shown!r} stopped: more than "
                            f"DISKETTE_DOWNLOAD_MAX_SIZE ({max_size} bytes)"
                        )
                    output.write(chunk)
                    reporter.progress("Downloading", received, total)
                if total is not None and received != total:
                    raise DownloadError(
                        f"download of {shown!r} ended after {received} of {total} "
                        "bytes: try again"
                    )
        reporter.done()
        Path(temporary).replace(target)
    except DownloadError:
        _discard(temporary)
        raise
    except urllib.error.HTTPError as error:
        _discard(temporary)
        raise DownloadError(
            f"download of {shown!r} failed: HTTP {error.code} {error.reason}"
        ) from None
    except urllib.error.URLError as error:
        _discard(temporary)
        raise DownloadError(f"download of {shown!r} failed: {error.reason}") from None
    except TimeoutError:
        _discard(temporary)
        raise DownloadError(
            f"download of {shown!r} timed out after {timeout} s "
            "(DISKETTE_DOWNLOAD_TIMEOUT)"
        ) from None
    except (OSError, ValueError, http.client.HTTPException) as error:
        _discard(temporary)
        raise DownloadError(f"download of {shown!r} failed: {error}") from None
    except BaseException:
        _discard(temporary)
        raise
    reporter.info(f"Downloaded {shown} ({received} bytes)")
    return target


def _discard(path: str) -> None:
    Path(path).unlink(missing_ok=True)
