"""The crash tests' key moments on PostgreSQL: the commit marker decides there too.

A real ``diskette_load`` subprocess into a PostgreSQL database of the suite's
throwaway cluster is killed with ``SIGKILL`` once the journal's marker is written
but not committed, right after the commit (the journal still says "prepared":
only the committed marker row knows), and between two storage swaps. Then
``diskette_recover`` runs: the database and both storages must end up together
entirely old or entirely new, with no staging, parked directory or marker row
left. See ``test_crash.py`` for the same moments, and more, on SQLite.
"""

from __future__ import annotations

import os
import secrets
import signal

import psycopg
import pytest

from sandbox.sites import site_environment
from tests.conftest import postgres_missing
from tests.security.test_crash import (
    NEW_ROWS,
    OLD_FILES,
    OLD_ROWS,
    STATUS,
    Site,
    expected_trees,
    stop_load,
)
from tests.security.test_crash import archive as archive  # noqa: F401 - a fixture

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


class PostgresSite(Site):
    """A sandbox site whose database is one of the cluster's (psycopg reads it)."""

    dsn: str = ""

    def _query(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            return list(connection.execute(sql))

    def rows(self) -> dict[str, dict[int, str]]:
        return {
            "groups": dict(self._query("SELECT id, name FROM auth_group")),
            "sites": dict(self._query("SELECT id, domain FROM django_site")),
        }

    def markers(self) -> list[tuple]:
        if not self._query("SELECT to_regclass('diskette_journal')")[0][0]:
            return []  # never created: no load got that far
        return self._query("SELECT token FROM diskette_journal")


@pytest.fixture
def site(tmp_path):
    """A site in the old state, on a database of its own in the cluster."""
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    server = {
        "host": os.environ["DISKETTE_TEST_PGHOST"],
        "port": os.environ["DISKETTE_TEST_PGPORT"],
        "user": os.environ["DISKETTE_TEST_PGUSER"],
    }
    name = f"crash_{secrets.token_hex(4)}"
    admin = psycopg.connect(dbname="postgres", autocommit=True, **server)
    admin.execute(f'CREATE DATABASE "{name}"')
    env = site_environment(
        tmp_path / "var",
        TMPDIR=str(tmp_path / "tmp"),
        SANDBOX_DB_ENGINE="postgresql",
        PGDATABASE=name,
        PGHOST=server["host"],
        PGPORT=server["port"],
        PGUSER=server["user"],
    )
    made = PostgresSite(tmp_path, env)
    made.dsn = psycopg.conninfo.make_conninfo(dbname=name, **server)
    made.var.mkdir()
    made.tmp.mkdir()
    try:
        migrated = made.run("migrate", "--verbosity=0")
        assert migrated.returncode == 0, migrated.stderr
        with psycopg.connect(made.dsn, autocommit=True) as connection:
            for pk, group in OLD_ROWS["groups"].items():
                connection.execute(
                    "INSERT INTO auth_group (id, name) VALUES (%s, %s)", (pk, group)
                )
        for storage, files in OLD_FILES.items():
            for relative, content in files.items():
                path = made.var / storage / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
        assert made.state("replace") == "old"
        yield made
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


#: Where the load is killed, the state the database is in then, and where
#: diskette_recover must take everything.
MOMENTS = [
    ("marker", OLD_ROWS, "old"),
    ("commit", NEW_ROWS, "new"),
    ("swaps", NEW_ROWS, "new"),
]


@pytest.mark.parametrize(("point", "rows", "settled"), MOMENTS)
def test_a_load_killed_at_its_commit_settles_entirely_on_postgres(
    site, archive, point, rows, settled
):  # noqa: F811 - ``archive`` is the shared fixture
    stopped = stop_load(site, archive, point, signal.SIGKILL)
    assert stopped.returncode == STATUS[signal.SIGKILL]
    assert site.rows() == rows  # committed or not, as the moment says

    recovered = site.run("diskette_recover")

    assert recovered.returncode == 0, recovered.stderr
    said = "before its commit" if settled == "old" else "after its commit"
    assert said in recovered.stdout + recovered.stderr
    assert site.state("replace") == settled
    assert site.trees() == expected_trees(settled, "replace")
    assert site.leftovers() == []
    assert site.markers() == []
