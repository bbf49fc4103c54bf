"""The public API functions stay functions whatever was imported before.

A stage package named like an API function (``diskette.load``) would replace
the function with the module once imported; the stages are ``dumping`` and
``loading`` for that reason.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import django
django.setup()
import diskette.dumping.dumper, diskette.loading.loader, diskette.api.dumping, diskette.api.loading
import diskette
from diskette import api
assert callable(diskette.dump) and callable(diskette.load) and callable(diskette.inspect)
assert callable(api.dump) and callable(api.load) and callable(api.inspect)
assert diskette.load is api.load and diskette.dump is api.dump
print("ok")
"""


@pytest.mark.slow
def test_api_functions_are_not_shadowed_by_modules(sandbox_env):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=sandbox_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "ok", result.stderr
