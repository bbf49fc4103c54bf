"""The README's "Five minutes with your own project" runs as printed.

A new project made by ``django-admin startproject`` gets each step's block:
the shell lines run in the project directory (with this environment's Python
first on ``PATH``), the settings blocks are pasted into its ``settings.py``
(``# ...`` standing for the apps already there, ``[...]`` for what step 3
printed). Step 1 installs into this environment, which already has diskette:
it only runs with ``--dry-run``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.sites import REPO_ROOT


def steps() -> dict[int, str]:
    """Each numbered step's literal block, dedented."""
    text = (REPO_ROOT / "README.rst").read_text("utf-8")
    section = text.split("Five minutes with your own project", 1)[1].split(
        "\nDocumentation\n", 1
    )[0]
    found: dict[int, str] = {}
    for match in re.finditer(
        r"^(\d+)\. .*?::\n\n((?:(?: {7}[^\n]*)?\n)+)", section, re.M | re.S
    ):
        lines = [line[7:] for line in match.group(2).splitlines()]
        found[int(match.group(1))] = "\n".join(lines).strip() + "\n"
    return found


def run(line: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", line],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{line!r} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_five_minutes_run_as_printed(tmp_path):
    blocks = steps()
    assert sorted(blocks) == [1, 2, 3, 4, 5, 6]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PYTHONPATH": "",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run("django-admin startproject mysite .", tmp_path, env)
    run("python manage.py migrate -v 0", tmp_path, env)
    settings = tmp_path / "mysite" / "settings.py"
    upload = tmp_path / "media" / "uploads" / "a.txt"  # the site's media
    upload.parent.mkdir(parents=True)
    upload.write_text("kept")

    install = blocks[1].replace("~/src/diskette", str(REPO_ROOT))
    install = install.replace("pip install", "pip install --dry-run --no-deps")
    assert "0.7" in run(install, tmp_path, env).stdout

    existing = re.search(
        r"INSTALLED_APPS = \[(.*?)\]", settings.read_text(), re.S
    ).group(1)
    settings.write_text(
        settings.read_text() + "\n" + blocks[2].replace("# ...", existing.strip())
    )
    generated = run(blocks[3], tmp_path, env).stdout
    assert "DISKETTE_APPS" not in generated or "=" in generated
    pasted = blocks[4].replace(
        "[...]  # the output of diskette_apps", generated.strip()
    )
    settings.write_text(settings.read_text() + "\n" + pasted)
    checked = run(blocks[5], tmp_path, env)
    assert "System check identified no issues" in checked.stdout, (
        checked.stdout + checked.stderr
    )

    dump, load = blocks[6].splitlines()
    run(dump, tmp_path, env)
    # "into another database": a freshly migrated one, as a teammate has.
    (tmp_path / "db.sqlite3").unlink()
    run("python manage.py migrate -v 0", tmp_path, env)
    run(load, tmp_path, env)
    assert upload.read_text() == "kept"
