"""A dump imports nothing of the load side: no ``diskette.loading`` module in memory.

Checked in a fresh interpreter (this one has imported everything): the dump
API is imported, a real dump runs on a fresh sandbox database, then
``sys.modules`` is read.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, run_manage

SCRIPT = """
import json, sys, types
from pathlib import Path
import django

if sys.argv[1] == "pipeline":
    # The package's own modules only, not the re-exports of its __init__.
    import diskette
    package = types.ModuleType("diskette.api")
    package.__path__ = [str(Path(diskette.__file__).parent / "api")]
    sys.modules["diskette.api"] = package
django.setup()
from diskette.api.dumping import dump

result = dump(destination=sys.argv[2], with_storages=False)
print(json.dumps({
    "objects": result.objects,
    "load": sorted(m for m in sys.modules if m.split(".")[:2] == ["diskette", "loading"]),
}))
"""


@pytest.mark.parametrize("imported", ["pipeline", "package"])
@pytest.mark.slow
def test_a_dump_imports_nothing_of_the_loader(sandbox_env, tmp_path, imported):
    migrated = run_manage("migrate", "--no-input", env=sandbox_env)
    assert migrated.returncode == 0, migrated.stderr
    seeded = run_manage("seed", "--objects", "50", env=sandbox_env)
    assert seeded.returncode == 0, seeded.stderr
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, imported, str(tmp_path / "dumps")],
        env=sandbox_env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["objects"] > 0, "a real dump ran"
    assert report["load"] == []
