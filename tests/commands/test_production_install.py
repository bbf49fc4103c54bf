"""A production install (``"diskette.production"`` in INSTALLED_APPS): every
command but the load, which refuses in one line naming the setting; and the
full install, unchanged. Real processes on the sandbox."""

from __future__ import annotations

import pytest

from tests.conftest import dump_json, run_manage, seed_site


@pytest.fixture
def production(sandbox_env):
    return seed_site({**sandbox_env, "SANDBOX_PRODUCTION": "1"}, 30)


@pytest.mark.slow
def test_production_dumps_lists_and_inspects_but_never_loads(production, tmp_path):
    archive = dump_json(production, tmp_path)["path"]
    for command in (("diskette_inspect", archive), ("diskette_apps",)):
        ran = run_manage(*command, env=production)
        assert ran.returncode == 0, ran.stderr
    listed = run_manage("diskette_list", "--from", "local", env=production)
    assert listed.returncode == 0, listed.stderr

    for arguments in ((archive,), (archive, "--flush", "--noinput"), ("--help",)):
        refused = run_manage("diskette_load", *arguments, env=production)
        assert refused.returncode == 3, refused.stdout + refused.stderr
        (line,) = refused.stderr.splitlines()
        assert "INSTALLED_APPS has 'diskette.production'" in line
    check = run_manage("check", env=production)
    assert check.returncode == 0, check.stderr


def test_both_installs_together_are_refused_by_django(sandbox_env):
    both = run_manage("check", env={**sandbox_env, "SANDBOX_PRODUCTION": "both"})
    assert both.returncode != 0
    assert "Application labels aren't unique, duplicates: diskette" in both.stderr


def test_the_full_install_keeps_every_command(sandbox_env):
    listed = run_manage("help", "--commands", env=sandbox_env)
    commands = set(listed.stdout.split())
    assert {"diskette_load", "diskette_dump", "diskette_recover"} <= commands
    production = run_manage(
        "help", "--commands", env={**sandbox_env, "SANDBOX_PRODUCTION": "1"}
    )
    assert set(production.stdout.split()) == commands  # the load refuses, not gone
