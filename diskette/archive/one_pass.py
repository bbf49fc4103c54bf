"""Staging an archive in one pass: each member checked, hashed and written as it comes.

Every header is checked before anything of its member is written (type, values,
name, the size and count limits, a file that is also a directory), and every
file is hashed on its way into the private staging directory, or only hashed
when it is not wanted. The manifest may come anywhere: diskette writes it last,
once the checksums are known, as the original diskette did. Until it is read,
``provisional`` says which members to write (the load knows without it which
storages it may restore and whether it takes data); once it is read, the
members before it are checked against it (declared prefixes, checksums), the
caller chooses what it takes (``choose``), and the members after it are checked
as they come. What only the whole archive shows (a declared member missing,
counts) is checked at the end. Nothing is written outside the staging
directory, and the caller moves nothing out of it before :meth:`OnePass.finish`
returned.
"""

from __future__ import annotations

import hmac
import tarfile
from collections.abc import Callable
from pathlib import Path

from diskette.archive.extract import Staging
from diskette.archive.first_pass import (
    Tally,
    no_manifest,
    read_manifest,
    read_signature,
)
from diskette.archive.layout import Conflicts, Layout
from diskette.archive.source import Limited
from diskette.archive.tar_reader import TarReader
from diskette.exceptions import ChecksumError
from diskette.manifest import (
    MANIFEST_NAME,
    METADATA_NAMES,
    SIGNATURE_NAME,
    Manifest,
)

#: Which member names to write (None: all of them).
Wanted = Callable[[str], bool] | None
#: What chooses, from the validated manifest, the members to write.
Chooser = Callable[[Manifest], Wanted]


class OnePass:
    """Stage the members of one archive under ``root`` as they are read.

    Feed it each member with :meth:`member`, inside ``read_errors``, then call
    :meth:`finish`. ``missed`` is True when ``choose`` wants a member read before
    the manifest that ``provisional`` did not let through: the archive must then
    be read again (it never is when ``provisional`` wants at least what
    ``choose`` will).
    """

    def __init__(
        self,
        name: str,
        root: Path,
        *,
        max_size: int,
        max_members: int,
        choose: Chooser | None = None,
        provisional: Wanted = None,
    ):
        self.name = name
        self.tally = Tally(name, max_size=max_size, max_members=max_members)
        self.choose = choose
        self.manifest: Manifest | None = None
        self.manifest_bytes: bytes | None = None
        self.signature_bytes: bytes | None = None
        self.missed = False
        self._staging = Staging(root, provisional)
        self._conflicts = Conflicts()
        self._layout: Layout | None = None
        self._expected: dict[str, str] = {}
        self._early: dict[str, str] = {}  # SHA-256 of the files before the manifest

    def member(self, tar: TarReader, member: tarfile.TarInfo, reader: Limited) -> None:
        """Check, hash and (if wanted) write one member."""
        info = self.tally.add(member, reader)
        self._conflicts.check(info)
        if info.name == MANIFEST_NAME:
            self._read_manifest(read_manifest(tar, member, info))
            return
        if info.name == SIGNATURE_NAME:
            self.signature_bytes = read_signature(tar, member, info)
            return
        if self._layout is not None:
            self._layout.check(info)
        content = None if info.is_dir else tar.extractfile(member)
        digest = self._staging.write(member, info, content)
        if digest is None:
            return
        if self._layout is None:
            self._early[info.name] = digest
            return
        expected = self._expected.get(info.name)
        if expected is not None:
            compare_digest(info.name, digest, expected)

    def _read_manifest(self, raw: bytes) -> None:
        """Validate the manifest, check what came before it, then choose."""
        manifest = Manifest.from_bytes(raw)
        layout = Layout(manifest)
        for seen in self.tally.members:
            layout.check(seen)
        self._expected = expected_checksums(manifest)
        for name, digest in self._early.items():
            expected = self._expected.get(name)
            if expected is not None:
                compare_digest(name, digest, expected)
        self._early.clear()
        if self.choose is not None:
            wanted = self.choose(manifest)
            early = self._staging.wanted
            self.missed = any(
                _keeps(wanted, seen.name) and not _keeps(early, seen.name)
                for seen in self.tally.members
                if seen.name not in METADATA_NAMES
            )
            self._staging.wanted = wanted
        self._layout = layout
        self.manifest = manifest
        self.manifest_bytes = raw

    def finish(self) -> Manifest:
        """Once every member was read: what only the whole archive shows, then
        the storages' directories, modes and times in staging."""
        if self.manifest is None or self._layout is None:
            raise no_manifest(self.name)
        self._layout.check_complete(self.tally.members)
        self._staging.finish(self.manifest.storages)
        return self.manifest


def _keeps(wanted: Wanted, name: str) -> bool:
    return wanted is None or wanted(name)


def expected_checksums(manifest: Manifest) -> dict[str, str]:
    """Each member's SHA-256 as the manifest records it (data files twice, once)."""
    expected = dict(manifest.members)
    for item in manifest.data:
        if item.sha256:
            expected.setdefault(item.path, item.sha256)
    return expected


def compare_digest(name: str, digest: str, expected: str) -> None:
    """Raise ChecksumError unless a member's SHA-256 is the manifest's."""
    if not hmac.compare_digest(digest, expected):
        raise ChecksumError(
            f"archive member {name!r} has sha256 {digest[:16]}…, the "
            f"manifest says {expected[:16]}…: the archive was altered or damaged; "
            "nothing was loaded"
        )
