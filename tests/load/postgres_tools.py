"""What the PostgreSQL load tests share: fixtures written, foreign keys and
statements looked at."""

from __future__ import annotations

import json

import pytest
from django.db import connections

from diskette.loading.loader import Fixture


@pytest.fixture(autouse=True)
def forget_content_types():
    """A flush creates content types that the test's rollback removes."""
    yield
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


def write(path, objects) -> Fixture:
    """A JSON fixture of ``objects`` at ``path``."""
    path.write_text(json.dumps(objects), encoding="utf-8")
    return Fixture(name=path.name, path=path)


def foreign_keys(using: str) -> list[tuple]:
    """Every foreign key of the database: table, name, definition, timing,
    and the count of the triggers that enforce it."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT con.conrelid::regclass::text, con.conname, "
            "pg_get_constraintdef(con.oid), con.condeferrable, con.condeferred, "
            "con.convalidated, (SELECT count(*) FROM pg_trigger t "
            "WHERE t.tgconstraint = con.oid) "
            "FROM pg_constraint con WHERE con.contype = 'f' ORDER BY 1, 2"
        )
        return cursor.fetchall()


def containing(queries, text: str) -> list[str]:
    """The statements a ``CaptureQueriesContext`` saw that contain ``text``."""
    return [q["sql"] for q in queries.captured_queries if text in q["sql"]]
