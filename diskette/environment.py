"""The Python distributions installed where a dump runs, recorded like ``pip freeze``.

An archive records them so that a load that goes wrong can be traced to a
different version of an app or of Django. Entries are ``name==version``, or
``name @ url`` for a distribution installed from a URL, a VCS or a local
directory (its ``direct_url.json``), with any credentials taken out of the URL;
a URL whose credentials cannot be told apart from its host is left out (the entry
is then ``name==version``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from diskette.urls import SplitURL, scheme_of, split_userinfo


def canonical_name(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def strip_credentials(url: str) -> str | None:
    """``url`` without its user information (``user:password@``, a token) nor query.

    The user information and the query are where credentials go in the URLs pip
    installs from; the host, the path, the fragment and a VCS revision are kept.
    ``None`` when the user information cannot be told from the host (an ``@`` that
    a password or a path may hold): the URL cannot be made safe, so it is dropped.
    """
    base, revision = _revision(url)
    split = split_userinfo(base)
    if split is None:
        return None
    rest, hashed, fragment = split.rest.partition("#")
    rest = rest.partition("?")[0]
    kept = SplitURL(split.scheme, None, rest).without_userinfo
    return kept + (f"#{fragment}" if hashed else "") + revision


def _revision(url: str) -> tuple[str, str]:
    """``(url, "@revision#fragment")`` of a VCS URL as pip writes it, else ``(url, "")``."""
    if "+" not in scheme_of(url):
        return url, ""
    match = re.search(r"@[^/@?#]+(?:#[^@]*)?\Z", url)
    if match is None or "/" not in url[: match.start()].partition("://")[2]:
        return url, ""
    return url[: match.start()], match.group()


def safe_entry(entry: str) -> str:
    """A recorded entry with the credentials of its URL removed, or only its name."""
    name, found, url = entry.partition(" @ ")
    if not found:
        return entry
    cleaned = strip_credentials(url.strip())
    return f"{name} @ {cleaned}" if cleaned else name.strip()


def _direct_url(distribution: metadata.Distribution) -> str | None:
    """The URL a distribution was installed from (PEP 610), credentials removed."""
    try:
        text = distribution.read_text("direct_url.json")
        info = json.loads(text) if text else None
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("url"), str):
        return None
    url = strip_credentials(info["url"])
    if url is None:
        return None
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict) and isinstance(vcs.get("vcs"), str):
        url = f"{vcs['vcs']}+{url}"
        if isinstance(vcs.get("commit_id"), str):
            url = f"{url}@{vcs['commit_id']}"
    return url


def installed_distributions(path: list[str] | None = None) -> list[str]:
    """The running environment: one ``name==version`` or ``name @ url`` per distribution.

    Sorted by name; a distribution found twice on the path counts once, the first
    one found (the one Python imports), as ``pip freeze`` does. ``path`` replaces
    ``sys.path`` as where to look.
    """
    found = metadata.distributions(path=path) if path else metadata.distributions()
    entries: dict[str, str] = {}
    for distribution in found:
        name = distribution.metadata["Name"]
        if not name or canonical_name(name) in entries:
            continue
        url = _direct_url(distribution)
        entries[canonical_name(name)] = (
            f"{name} @ {url}" if url else f"{name}=={distribution.version}"
        )
    return [entries[key] for key in sorted(entries)]


def _split(entry: str) -> tuple[str, str]:
    """``(canonical name, what was installed)`` of one recorded entry."""
    for separator in (" @ ", "=="):
        name, found, rest = entry.partition(separator)
        if found:
            return canonical_name(name.strip()), rest.strip()
    return canonical_name(entry.strip()), ""


def _name(entry: str) -> str:
    """The distribution name of an entry, as it is written."""
    return entry.replace(" @ ", "==", 1).partition("==")[0].strip()


@dataclass
class EnvironmentDifference:
    """How the running environment differs from the one an archive records.

    ``added``: installed here, not where the archive was made; ``removed``: the
    other way round; ``changed``: ``(name, in the archive, here)``.
    """

    recorded: bool
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return self.recorded and not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [
                {"name": name, "archive": old, "current": new}
                for name, old, new in self.changed
            ],
        }


def compare_environments(
    recorded: Iterable[str], current: Iterable[str]
) -> EnvironmentDifference:
    """Compare the entries an archive records with ``current`` ones, by name."""
    before = {_split(entry)[0]: entry for entry in map(safe_entry, recorded)}
    after = {_split(entry)[0]: entry for entry in current}
    if not before:
        return EnvironmentDifference(recorded=False)
    return EnvironmentDifference(
        recorded=True,
        added=[after[name] for name in sorted(after.keys() - before.keys())],
        removed=[before[name] for name in sorted(before.keys() - after.keys())],
        changed=[
            (_name(after[name]), _split(before[name])[1], _split(after[name])[1])
            for name in sorted(before.keys() & after.keys())
            if before[name] != after[name]
        ],
    )
