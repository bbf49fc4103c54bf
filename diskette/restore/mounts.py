"""Which file system holds a path, for the checks before a storage swap.

A swap renames, and a rename cannot cross file systems nor replace a mount point:
the checks need the mount points of this process. The kernel lists them in
``/proc/self/mountinfo``, which also knows bind mounts of one file system (the
device numbers do not tell those apart); where it does not exist, each path's
mount point is found by :func:`os.path.ismount`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MOUNTINFO = "/proc/self/mountinfo"


class MountTable:
    """The mount points of this process, or ``None`` where the kernel does not say."""

    def __init__(self, points: list[str] | None) -> None:
        self.points = points

    @classmethod
    def read(cls) -> MountTable:
        """The table of this process, read now."""
        return cls(_mount_points())

    def mount_of(self, real: Path) -> tuple[int, str]:
        """The device and mount point holding an existing resolved path."""
        device = real.stat().st_dev
        if self.points is None:
            point = real
            while not os.path.ismount(point) and point != point.parent:
                point = point.parent
            return device, str(point)
        text = str(real)
        best = "/"
        for point in self.points:
            inside = text == point or text.startswith(point.rstrip("/") + "/")
            if inside and len(point) > len(best):
                best = point
        return device, best

    def is_mount_point(self, real: Path) -> bool:
        if self.points is None:
            return os.path.ismount(real)
        return str(real) in self.points

    def mounts_inside(self, real: Path) -> list[str]:
        """The mount points below ``real`` (none known without the kernel's list)."""
        if self.points is None:
            return []
        prefix = str(real).rstrip("/") + "/"
        return sorted({point for point in self.points if point.startswith(prefix)})


def _mount_points() -> list[str] | None:
    """Every mount point of this process, or ``None`` where the kernel does not say."""
    try:
        with open(MOUNTINFO, encoding="utf-8", errors="surrogateescape") as lines:
            points = [line.split(" ")[4] for line in lines if line.count(" ") >= 5]
    except OSError:
        return None
    return [_unescape(point) for point in points]


def _unescape(field: str) -> str:
    r"""Undo mountinfo's octal escapes (``\040`` for a space...)."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), field)
