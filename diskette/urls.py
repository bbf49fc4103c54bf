"""Where a URL's user information ends, however its credentials are written.

RFC 3986 wants ``/``, ``?``, ``#`` and ``@`` percent-encoded in a user name or a
password, but pasted passwords and tokens often hold them raw, and ``urlsplit``
then reads part of the secret as the host or the path. Here the user information
ends at an ``@`` followed by a host, and a URL that can be read two ways is
reported as such, so that callers refuse it or drop it instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
#: A host as RFC 3986 writes it (an IP literal or a registered name), then a port.
_HOST = re.compile(r"(?:\[[0-9A-Za-z:.%]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]*)?")


@dataclass(frozen=True)
class SplitURL:
    """A URL cut in three: ``scheme://userinfo@rest``, ``userinfo`` still encoded."""

    scheme: str
    userinfo: str | None
    rest: str

    @property
    def without_userinfo(self) -> str:
        return f"{self.scheme}://{self.rest}" if self.scheme else self.rest


def has_scheme(text: str) -> bool:
    """True when ``text`` starts with ``scheme://`` (a one-letter scheme is a drive)."""
    match = _SCHEME.match(text)
    return bool(match) and len(match.group(1)) > 1


def scheme_of(text: str) -> str:
    """The URL's scheme in lower case, ``""`` when it has none."""
    match = _SCHEME.match(text)
    return match.group(1).lower() if match else ""


def _host_at(text: str, start: int) -> bool:
    """True when a host (and port) starts at ``start`` and ends the authority."""
    match = _HOST.match(text, start)
    return bool(match) and (match.end() == len(text) or text[match.end()] in "/?#")


def split_userinfo(url: str) -> SplitURL | None:
    """Take the user information out of ``url``; ``None`` when that is not certain.

    Two readings are weighed: the standard one (the authority ends at the first
    ``/``, ``?`` or ``#``) and one where the user information holds such a
    character raw (it ends at a later ``@`` followed by a host). Exactly one of them
    must make sense; otherwise the URL is ambiguous or unreadable.
    """
    match = _SCHEME.match(url)
    if match is None:
        return None if "@" in url else SplitURL("", None, url)
    scheme, main = match.group(1), url[match.end() :]
    cut = re.search(r"[/?#]", main)
    end = cut.start() if cut else len(main)
    authority = main[:end]
    if not authority:  # ``file:///path``: no host, so no user information
        return SplitURL(scheme, None, main)
    readings = set()
    at = authority.rfind("@")
    host = _HOST.fullmatch(authority, at + 1)
    if host:
        readings.add(at)
    readings.update(
        position
        for position in range(end, len(main))
        if main[position] == "@" and _host_at(main, position + 1)
    )
    if len(readings) != 1:
        return None
    position = readings.pop()
    userinfo = main[:position] if position >= 0 else None
    return SplitURL(scheme, userinfo, main[position + 1 :])
