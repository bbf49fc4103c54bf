"""Real mounts for tests: tmpfs and bind mounts, each unmounted at teardown.

Mounting needs root, which CI has. A test that needs a mount skips, saying why,
when the process is not root, or when mounting fails outside CI; under CI (the
``CI`` environment variable set) a failed mount fails the test instead, so that
these tests are never skipped silently there.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


class Mounts:
    """The mounts one test made, most recent last."""

    def __init__(self) -> None:
        self.points: list[Path] = []

    def tmpfs(self, path: Path, *, size: str = "4m", inodes: int | None = None) -> Path:
        """Mount a fresh tmpfs on ``path`` (created when missing)."""
        options = f"size={size},mode=0755"
        if inodes is not None:
            options += f",nr_inodes={inodes}"
        return self._mount(["-t", "tmpfs", "-o", options, "tmpfs"], path)

    def bind(self, source: Path, path: Path) -> Path:
        """Bind-mount the directory ``source`` on ``path`` (same file system)."""
        return self._mount(["--bind", str(source)], path)

    def _mount(self, arguments: list[str], path: Path) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a file system needs root (CI runs the tests as root)")
        path.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["mount", *arguments, str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode:
            reason = f"cannot mount on {path}: {result.stderr.strip()}"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
        self.points.append(path)
        return path

    def unmount_all(self) -> None:
        """Unmount in reverse order; a busy mount is detached lazily."""
        for path in reversed(self.points):
            done = subprocess.run(
                ["umount", str(path)], capture_output=True, check=False
            )
            if done.returncode:
                subprocess.run(
                    ["umount", "-l", str(path)], capture_output=True, check=False
                )
        self.points.clear()
