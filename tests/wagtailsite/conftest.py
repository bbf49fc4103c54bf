"""The Wagtail site's tests run in their own pytest process, never in the main one.

Wagtail's models cannot be imported under the sandbox's settings, so the main run
(``pytest``, settings ``sandbox.settings_test``) collects nothing here; this
project's run names its settings::

    pytest --ds=tests.wagtailsite.settings --confcutdir=tests/wagtailsite tests/wagtailsite

(``--confcutdir`` keeps the main suite's ``tests/conftest.py``, which imports
the sandbox's models, from being loaded.) The pytest process itself never touches
a database: every step is a ``manage.py`` subprocess (see ``sites.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.wagtailsite.sites import SETTINGS, PostgresServer, Site

if os.environ.get("DJANGO_SETTINGS_MODULE") != SETTINGS:
    collect_ignore_glob = ["*"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A freshly migrated SQLite database, copied by every SQLite site."""
    site = Site(tmp_path_factory.mktemp("wagtail-sqlite-template"))
    site.run("migrate", "--no-input", "-v", "0")
    return site.sqlite


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The test cluster; skips without one, fails when it is required."""
    server = PostgresServer.from_environment()
    if server is None:
        from tests.pgcluster import skip_reason

        reason = skip_reason() or "no PostgreSQL server"
        if os.environ.get("DISKETTE_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"DISKETTE_TEST_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    try:
        yield server
    finally:
        server.drop_all()


@pytest.fixture(scope="session")
def postgres_template(postgres_server, tmp_path_factory) -> str:
    """A freshly migrated PostgreSQL database, the template of every PG site."""
    name = postgres_server.create("template")
    site = postgres_server.site(name, tmp_path_factory.mktemp("wagtail-pg-template"))
    site.run("migrate", "--no-input", "-v", "0")
    return name
