"""``--json`` on an error: one JSON object on stdout with the message and the
exit status, while the one line on stderr stays; and every warning the command
printed is in its JSON, on success and on error."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_manage, seed_site


@pytest.fixture
def site(sandbox_env):
    assert run_manage("migrate", "-v", "0", env=sandbox_env).returncode == 0
    return sandbox_env


def one_line(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.strip()]
    return line


@pytest.mark.slow
def test_an_error_is_a_json_object_and_one_line(site, tmp_path):
    missing = tmp_path / "missing.tar.gz"
    ran = run_manage("diskette_load", str(missing), "--json", env=site)

    assert ran.returncode == 10
    payload = json.loads(ran.stdout)
    assert payload["exit_status"] == 10
    assert "does not exist" in payload["error"]
    assert one_line(ran.stderr) == f"CommandError: {payload['error']}"

    usage = run_manage("diskette_dump", "--json", "--no-sign", "--sign", "k", env=site)
    assert usage.returncode == 2
    assert json.loads(usage.stdout)["exit_status"] == 2


@pytest.mark.slow
def test_the_warnings_printed_are_in_the_json(site, tmp_path):
    """Dumping the library alone leaves its users out: warned on stderr, and the
    same lines are in the JSON, which stays the only thing on stdout."""
    seed_site(site, 20)
    ran = run_manage(
        "diskette_dump", "--app", "library", "--no-storages", "--destination",
        str(tmp_path), "--json", env=site,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    payload = json.loads(ran.stdout)
    printed = [line for line in ran.stderr.splitlines() if line.strip()]
    assert printed, "the dump of the library alone warns of its users"
    assert printed == payload["warnings"]
