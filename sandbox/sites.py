"""Sandbox sites: each one a ``SANDBOX_VAR`` directory with its database and media.

The demo, the benchmark and the tests run ``sandbox/manage.py`` in real
subprocesses, each site in its own directory; this is the environment they give it.
"""

from __future__ import annotations

import os
from pathlib import Path

SANDBOX_DIR = Path(__file__).resolve().parent
REPO_ROOT = SANDBOX_DIR.parent
MANAGE_PY = SANDBOX_DIR / "manage.py"


def site_environment(var: str | os.PathLike, **extra: str) -> dict[str, str]:
    """The environment for ``manage.py`` on the site whose files are in ``var``.

    Django, sandbox and diskette variables of the caller are left out, so that the
    site's settings are exactly ``sandbox.settings`` on that directory.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "SANDBOX_", "DISKETTE_"))
    }
    env.update(
        SANDBOX_VAR=str(var),
        DJANGO_SETTINGS_MODULE="sandbox.settings",
        PYTHONPATH=str(REPO_ROOT),
        PYTHONIOENCODING="utf-8",
        **extra,
    )
    return env
