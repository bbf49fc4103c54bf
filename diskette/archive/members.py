"""What one untrusted member header may be: its type, its values, its name.

Both reading passes check every header with :func:`check_member`, so the second
pass can compare what it reads with what the first one accepted.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass

from diskette.exceptions import UnsafeArchiveError
from diskette.paths import check_member_name

#: Restored files and directories keep their permission bits, as tarfile's ``data``
#: filter does: never setuid, setgid or sticky, never writable by group or others.
RESTORED_MODE_MASK = 0o755
#: Modification times restored, in seconds around 1970: what tar's 11 octal
#: digits hold, either way (pax headers can say anything, even ``nan``).
MTIME_RANGE = (-(8**11), 8**11)
#: Largest user or group id a header may carry (they are not restored).
_MAX_ID = 2**32 - 1
#: Longest user or group name a header may carry (they are not restored).
_MAX_OWNER_NAME = 255


@dataclass(frozen=True)
class MemberInfo:
    """One checked archive member: a regular file or a directory."""

    name: str
    is_dir: bool
    size: int
    mtime: float
    mode: int  # permission bits to restore, masked by RESTORED_MODE_MASK


def check_member(member: tarfile.TarInfo) -> MemberInfo:
    """Refuse a member that is not a plain file or directory with sane values."""
    name = check_member_name(member.name)
    problem = _member_type_problem(member)
    if problem:
        raise UnsafeArchiveError(
            f"archive member {name!r} {problem}: only regular files and directories "
            "are accepted; refusing the archive, nothing was extracted"
        )
    problem = _header_value_problem(member)
    if problem:
        raise UnsafeArchiveError(
            f"archive member {name!r} has {problem}: the header is damaged or "
            "forged; refusing the archive, nothing was extracted"
        )
    return MemberInfo(
        name=name,
        is_dir=member.isdir(),
        size=0 if member.isdir() else int(member.size),
        mtime=float(member.mtime),
        mode=member.mode & RESTORED_MODE_MASK,
    )


def _member_type_problem(member: tarfile.TarInfo) -> str | None:
    if member.issparse():
        return "is a sparse file"
    if member.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE):
        return None
    if member.issym():
        return f"is a symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"is a hard link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "is a device file"
    if member.isfifo():
        return "is a FIFO"
    return f"has an unsupported member type {member.type!r}"


def _header_value_problem(member: tarfile.TarInfo) -> str | None:
    """What is out of range in a member header's values, or None.

    tarfile turns pax strings into numbers without bounds; the values used when
    extracting (size, mode, mtime) must be ones the file system can take.
    """
    size, mode, mtime = member.size, member.mode, member.mtime
    if type(size) is not int or size < 0:
        return f"a size of {_shown(size)} bytes"
    if type(mode) is not int or not 0 <= mode <= 0o7777:
        return f"a mode of {_shown(mode)}, not within 0..0o7777"
    low, high = MTIME_RANGE
    if type(mtime) not in (int, float) or not low < mtime < high:
        return (
            f"a modification time of {_shown(mtime)}, not a number of seconds "
            f"within {low}..{high}"
        )
    for field in ("uid", "gid"):
        value = getattr(member, field)
        if type(value) is not int or not 0 <= value <= _MAX_ID:
            return f"a {field} of {_shown(value)}, not within 0..{_MAX_ID}"
    for field in ("uname", "gname"):
        value = getattr(member, field)
        if not isinstance(value, str) or len(value) > _MAX_OWNER_NAME:
            return f"a {field} longer than {_MAX_OWNER_NAME} characters"
    return None


def _shown(value: object) -> str:
    """A header value for a one-line message: at most 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
