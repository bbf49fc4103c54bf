"""The archive layout policy: every member sits where the manifest says, and back.

The manifest declares data files (directly under ``data/``) and storages (one
directory tree each); an archive member outside them, or a declared file or
checksum without its member, refuses the archive. A file that is also a
directory is refused as soon as its header is read (:class:`Conflicts`); a
member is checked against the manifest's prefixes once both are read
(:class:`Layout`); what only the whole archive shows is checked once every
member was read. All of it before anything leaves the staging directory.
"""

from __future__ import annotations

from collections.abc import Collection

from diskette.archive.members import MemberInfo
from diskette.exceptions import ManifestError, UnsafeArchiveError
from diskette.manifest import DATA_PREFIX, METADATA_NAMES, Manifest
from diskette.paths import check_member_name

_DATA_DIRECTORY = DATA_PREFIX.rstrip("/")


class Conflicts:
    """A file that is also the directory of another member, refused as members
    come (in any order), whatever the manifest says."""

    def __init__(self) -> None:
        self._files: set[str] = set()
        self._parents: set[str] = set()

    def check(self, member: MemberInfo) -> None:
        name = member.name
        _check_not_under_a_file(name, self._files)
        if not member.is_dir:
            if name in self._parents:
                raise _file_and_directory(name)
            self._files.add(name)
        parts = name.split("/")
        self._parents.update("/".join(parts[:index]) for index in range(1, len(parts)))


class Layout:
    """One manifest's layout policy, checked member by member.

    The manifest itself is checked when the policy is made (data paths directly
    under ``data/``, storages that neither repeat nor nest); :meth:`check`
    refuses a member outside the declared prefixes; :meth:`check_complete`, once
    every member was read, what only the whole archive shows (a declared file
    missing, a count or a size that differs).
    """

    def __init__(self, manifest: Manifest):
        self.manifest = manifest
        self.data_paths = _declared_data_paths(manifest)
        self.storages = _declared_storages(manifest)

    def check(self, member: MemberInfo) -> None:
        """Refuse a member that is neither the manifest nor declared by it."""
        if member.name not in METADATA_NAMES:
            _check_declared(member, self.manifest, self.data_paths, self.storages)

    def check_complete(self, members: list[MemberInfo]) -> None:
        """Every declared file is there, with the sizes and counts declared."""
        files = {m.name for m in members if not m.is_dir}
        _check_declared_present(self.data_paths, self.manifest.members, files)
        sizes = {m.name: m.size for m in members if not m.is_dir}
        _check_data_entries(self.manifest, sizes)
        _check_storage_counts(self.manifest, files)


def check_layout(manifest: Manifest, members: list[MemberInfo]) -> None:
    """Every member sits under a prefix the manifest declares, and vice versa."""
    conflicts = Conflicts()
    layout = Layout(manifest)
    for member in members:
        conflicts.check(member)
        layout.check(member)
    layout.check_complete(members)


def _file_and_directory(name: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"archive path {name!r} is both a file and a directory: refusing the archive"
    )


def _declared_data_paths(manifest: Manifest) -> set[str]:
    """The data files the manifest lists: each directly under ``data/``, once."""
    data_paths: set[str] = set()
    for item in manifest.data:
        path = check_member_name(item.path, "data file in the manifest")
        if not path.startswith(DATA_PREFIX) or "/" in path[len(DATA_PREFIX) :]:
            raise ManifestError(
                f"data file {item.path!r} in the manifest is not directly under "
                f"{DATA_PREFIX!r}: the archive is damaged or was edited"
            )
        if path in data_paths:
            raise ManifestError(
                f"data file {item.path!r} is listed twice in the manifest"
            )
        data_paths.add(path)
    return data_paths


def _declared_storages(manifest: Manifest) -> list[str]:
    """The storage names: none is the archive's own data, none repeats or nests."""
    storages: list[str] = []
    for entry in manifest.storages:
        name = check_member_name(entry.name, "storage name in the manifest")
        if name.split("/")[0] == _DATA_DIRECTORY or name in METADATA_NAMES:
            raise UnsafeArchiveError(
                f"storage name {entry.name!r} in the manifest collides with the "
                "archive's own data: refusing the archive"
            )
        for other in storages:
            if name == other or _nested(name, other) or _nested(other, name):
                raise UnsafeArchiveError(
                    f"storage name {entry.name!r} in the manifest repeats or nests "
                    f"in storage {other!r}: refusing the archive"
                )
        storages.append(name)
    return storages


def _nested(name: str, directory: str) -> bool:
    return name.startswith(directory + "/")


def _check_not_under_a_file(name: str, files: Collection[str]) -> None:
    parts = name.split("/")
    for index in range(1, len(parts)):
        ancestor = "/".join(parts[:index])
        if ancestor in files:
            raise _file_and_directory(ancestor)


def _check_declared(
    member: MemberInfo,
    manifest: Manifest,
    data_paths: Collection[str],
    storages: list[str],
) -> None:
    """A member is a declared data file, inside a storage, or a directory above one."""
    name = member.name
    in_storage = any(_nested(name, s) for s in storages)
    if member.is_dir:
        if (
            name == _DATA_DIRECTORY
            or in_storage
            or any(s == name or _nested(s, name) for s in storages)
        ):
            return
    elif name in data_paths or in_storage:
        if not manifest.is_legacy and name not in manifest.members:
            raise ManifestError(
                f"archive member {name!r} has no checksum in the manifest: the "
                "archive is damaged or was edited"
            )
        return
    if name.startswith(DATA_PREFIX):
        raise UnsafeArchiveError(
            f"data file {name!r} is not listed in the manifest: refusing the archive"
        )
    raise UnsafeArchiveError(
        f"archive member {name!r} is outside every prefix the manifest declares "
        "(data files and storages): refusing the archive"
    )


def _check_declared_present(
    data_paths: Collection[str], checksums: Collection[str], files: Collection[str]
) -> None:
    """Each data file and each checksummed member the manifest lists is there."""
    for path in data_paths:
        if path not in files:
            raise ManifestError(
                f"data file {path!r} is listed in the manifest but missing from the "
                "archive: the archive is incomplete, dump it again"
            )
    for name in checksums:
        if name not in files:
            raise ManifestError(
                f"member {name!r} has a checksum in the manifest but is missing from "
                "the archive: the archive is incomplete, dump it again"
            )


def _check_data_entries(manifest: Manifest, sizes: dict[str, int]) -> None:
    """A data file's own checksum and size agree with the member and the manifest."""
    for item in manifest.data:
        listed = manifest.members.get(item.path)
        if item.sha256 and listed and item.sha256 != listed:
            raise ManifestError(
                f"data file {item.path!r} has two different checksums in the manifest: "
                "the archive is damaged or was edited"
            )
        if item.size is not None and item.size != sizes.get(item.path):
            raise ManifestError(
                f"data file {item.path!r} is {sizes.get(item.path)} bytes, the manifest "
                f"says {item.size}: the archive is damaged or was edited"
            )


def _check_storage_counts(manifest: Manifest, files: Collection[str]) -> None:
    """A storage holds as many files as the manifest counts, when it counts them."""
    for entry in manifest.storages:
        if entry.files is None:
            continue
        inside = [n for n in files if _nested(n, entry.name)]
        if len(inside) != entry.files:
            raise ManifestError(
                f"storage {entry.name!r} holds {len(inside)} files, the manifest says "
                f"{entry.files}: the archive is damaged or was edited"
            )
