"""The commands as a user runs them, in real processes: diskette_keys, then a
dump encrypted and signed, inspect and load with the keys, and the one-line
errors and exit statuses of the documented failures."""

from __future__ import annotations

import json
import stat

import pytest

from tests.conftest import dump_json, run_manage, seed_site

pytest.importorskip("pyrage")


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def settings_of(output: str) -> dict[str, object]:
    """The settings lines diskette_keys prints, evaluated as Python literals."""
    import ast

    found = {}
    for line in lines(output):
        if not line.startswith("#"):
            name, _, value = line.partition(" = ")
            found[name] = ast.literal_eval(value)
    return found


@pytest.fixture
def site(sandbox_env):
    return seed_site(sandbox_env, 40)


@pytest.mark.slow
def test_keys_dump_inspect_and_load(site, tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    made = run_manage("diskette_keys", "--directory", str(keys), env=site)
    assert made.returncode == 0, made.stderr
    printed = settings_of(made.stdout)
    for name in ("diskette-age.key", "diskette-signing.key"):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600
    again = run_manage("diskette_keys", "--directory", str(keys), env=site)
    assert again.returncode == 3 and "never replaced" in again.stderr

    out = tmp_path / "out"
    archive = dump_json(
        site,
        out,
        "--encrypt-to",
        printed["DISKETTE_ENCRYPT_TO"][0],
        "--sign",
        printed["DISKETTE_SIGNING_KEY"],
    )["path"]
    assert archive.endswith(".tar.gz.age")

    locked = run_manage("diskette_inspect", archive, env=site)
    assert locked.returncode == 15
    assert len(lines(locked.stderr)) == 1 and "--identity" in locked.stderr

    identity = printed["DISKETTE_IDENTITY_FILES"][0]
    shown = run_manage("diskette_inspect", archive, "--identity", identity, env=site)
    assert shown.returncode == 0, shown.stderr
    assert "encrypted: yes (age)" in shown.stdout + shown.stderr
    assert "signed by: SHA256:" in shown.stdout + shown.stderr

    loaded = run_manage(
        "diskette_load",
        archive,
        "--identity",
        identity,
        "--no-storages",
        "--json",
        env=site,
    )
    assert loaded.returncode == 0, loaded.stderr
    result = json.loads(loaded.stdout)
    assert result["encrypted"] is True and result["signed_by"].startswith("SHA256:")


@pytest.mark.slow
def test_a_passphrase_comes_from_the_environment_never_from_an_option(site, tmp_path):
    out = tmp_path / "out"
    no_tty = run_manage(
        "diskette_dump",
        "--no-storages",
        "--destination",
        str(out),
        "--passphrase",
        env=site,
    )
    assert no_tty.returncode == 3
    assert "DISKETTE_PASSPHRASE" in no_tty.stderr and not out.exists()

    env = {**site, "DISKETTE_PASSPHRASE": "a long shared secret"}
    archive = dump_json(env, out, "--passphrase")["path"]
    assert b"a long shared secret" not in (out / archive.rsplit("/", 1)[1]).read_bytes()

    wrong = run_manage(
        "diskette_load",
        archive,
        "--no-storages",
        env={**site, "DISKETTE_PASSPHRASE": "not it"},
    )
    assert wrong.returncode == 15
    assert lines(wrong.stderr) == [
        line
        for line in lines(wrong.stderr)
        if "does not open with this passphrase" in line
    ]
    right = run_manage("diskette_load", archive, "--no-storages", env=env)
    assert right.returncode == 0, right.stderr


def test_contradicting_options_are_usage_errors(site):
    both = run_manage(
        "diskette_dump",
        "--no-storages",
        "--no-encrypt",
        "--encrypt-to",
        "age1x",
        env=site,
    )
    assert both.returncode == 2 and "--no-encrypt contradicts" in both.stderr
    bad = run_manage(
        "diskette_dump", "--no-storages", "--encrypt-to", "age1x", env=site
    )
    assert bad.returncode == 3
    assert lines(bad.stderr)[-1].startswith("CommandError: --encrypt-to: ")
