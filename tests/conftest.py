"""Shared fixtures.

Testing against SQLite and PostgreSQL
-------------------------------------
``tests/pgcluster.py`` starts a throwaway PostgreSQL cluster when the binaries are
present, and the settings then have a second database alias, ``postgres``. A test
that needs it declares the alias and asks for ``postgres_db`` (which skips with the
visible reason when the cluster is absent; without the alias, tests marked
``postgres`` or naming it in ``databases`` are skipped at collection, since
pytest-django refuses an unknown alias)::

    @pytest.mark.postgres
    @pytest.mark.django_db(databases=["postgres"])
    def test_something(postgres_db):
        Book.objects.using(postgres_db).count()

A test that runs once per database takes ``db_alias`` and allows both aliases::

    @pytest.mark.django_db(databases=["default", "postgres"])
    def test_round_trip(db_alias):
        seed_database(60, using=db_alias)

Subprocesses
------------
``sandbox_env`` gives the environment for running ``sandbox/manage.py`` as a user
would, on a fresh SQLite database and media directory under ``tmp_path``, and
``run_manage`` runs it::

    def test_cli(sandbox_env):
        run_manage("migrate", env=sandbox_env)
        result = run_manage("seed", "--objects", "50", env=sandbox_env)
        assert result.returncode == 0
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from sandbox.library.seeding import seed_database, seed_media
from sandbox.sites import MANAGE_PY, REPO_ROOT, site_environment
from tests.pgcluster import skip_reason
from tests.servers.s3 import s3_server  # noqa: F401  (fixture)
from tests.servers.sftp import sftp_server  # noqa: F401  (fixture)

POSTGRES_ALIAS = "postgres"
#: Size of the ``seeded`` fixture's data: every model gets rows, tests stay fast.
SEEDED_COUNT = 60


def postgres_missing() -> str | None:
    """Why the ``postgres`` alias is unavailable, or ``None`` when it is there."""
    if POSTGRES_ALIAS in settings.DATABASES:
        return None
    return skip_reason() or "no 'postgres' database alias in the settings"


def pytest_collection_modifyitems(config, items) -> None:
    """Without the ``postgres`` alias, skip what needs it instead of erroring.

    pytest-django refuses a ``django_db`` mark naming an unknown alias, so tests
    marked ``postgres`` or naming it in ``databases`` are skipped with the reason,
    except the ``default`` case of ``db_alias``, which runs on SQLite alone.
    """
    reason = postgres_missing()
    if reason is None:
        return
    for item in items:
        mark = item.get_closest_marker("django_db")
        databases = (mark.kwargs.get("databases") if mark else None) or ()
        if POSTGRES_ALIAS not in databases and not item.get_closest_marker("postgres"):
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("db_alias") == "default" and mark is not None:
            others = [alias for alias in databases if alias != POSTGRES_ALIAS]
            item.add_marker(
                pytest.mark.django_db(
                    *mark.args, **{**mark.kwargs, "databases": others}
                ),
                append=False,
            )
        else:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def postgres_db() -> str:
    """The ``postgres`` alias; skips with the reason when there is no cluster."""
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    return POSTGRES_ALIAS


@pytest.fixture(params=["default", POSTGRES_ALIAS])
def db_alias(request) -> str:
    """Each database alias in turn (SQLite, then PostgreSQL when present)."""
    if request.param == POSTGRES_ALIAS:
        reason = postgres_missing()
        if reason:
            pytest.skip(reason)
    return request.param


@pytest.fixture
def seeded(db) -> dict[str, int]:
    """A small seeded sample (``SEEDED_COUNT`` rows) in the default test database."""
    return seed_database(SEEDED_COUNT)


@pytest.fixture
def media_root(tmp_path) -> Path:
    """A directory holding the seeded media layout (see ``seed_media``)."""
    root = tmp_path / "media"
    seed_media(root, files=5)
    return root


@pytest.fixture
def sandbox_env(tmp_path) -> dict[str, str]:
    """Environment for ``sandbox/manage.py`` on a fresh site under ``tmp_path``."""
    var = tmp_path / "sandbox-var"
    var.mkdir()
    return site_environment(var)


def run_manage(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run ``sandbox/manage.py ARGS`` in a subprocess; output is captured as text."""
    return subprocess.run(
        [sys.executable, str(MANAGE_PY), *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def seed_site(env: dict[str, str], objects: int) -> dict[str, str]:
    """Migrate the sandbox site of ``env`` and seed ``objects`` objects (no media)."""
    assert run_manage("migrate", "-v", "0", env=env).returncode == 0
    seeded = run_manage("seed", "--objects", str(objects), "--no-media", env=env)
    assert seeded.returncode == 0, seeded.stderr
    return env


def dump_json(env: dict[str, str], destination: Path, *args: str) -> dict:
    """``diskette_dump --no-storages --json`` into ``destination``: its JSON."""
    import json

    dumped = run_manage(
        "diskette_dump",
        "--no-storages",
        "--destination",
        str(destination),
        "--json",
        *args,
        env=env,
    )
    assert dumped.returncode == 0, dumped.stderr
    return json.loads(dumped.stdout)
