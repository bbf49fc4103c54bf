"""``diskette_load --plan`` and ``--ignore-migrations``: text, JSON, exit statuses."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from diskette import api
from diskette.migrations import applied_migrations
from sandbox.library.models import Publisher
from sandbox.library.seeding import EXCLUDED_FILES, seed_database
from tests.archives import make_archive, snapshot
from tests.conftest import run_manage

BOTH = pytest.mark.django_db(databases=["default", "postgres"])
PUBLISHERS = [{"model": "library.publisher", "pk": 901, "fields": {"name": "Plan"}}]


def publishers_archive(path, using, *, future=False, extra=()):
    def tamper(payload):
        migrations = applied_migrations(using)
        if future:
            migrations["library"] = [*migrations["library"], "0002_future"]
        payload["diskette"]["migrations"] = migrations

    return make_archive(
        path, data={"library.json": [*PUBLISHERS, *extra]}, tamper=tamper
    )


def run(*args, **options):
    out, err = StringIO(), StringIO()
    try:
        call_command("diskette_load", *args, stdout=out, stderr=err, **options)
    except CommandError as error:
        return error.returncode, out.getvalue(), str(error)
    return 0, out.getvalue(), err.getvalue()


@BOTH
def test_plan_of_a_load_that_would_succeed(tmp_path, db_alias):
    path = publishers_archive(tmp_path / "a.tar.gz", db_alias)
    code, out, _ = run(str(path), "--plan", "--no-storages", database=db_alias)
    assert code == 0
    assert "library.Publisher" in out and "the load would succeed" in out
    assert not Publisher.objects.using(db_alias).filter(pk=901).exists()


@BOTH
def test_plan_json_and_exit_status_of_a_migration_mismatch(tmp_path, db_alias):
    path = publishers_archive(tmp_path / "a.tar.gz", db_alias, future=True)
    code, out, message = run(
        str(path), "--plan", "--json", "--no-storages", database=db_alias
    )
    assert code == 23
    payload = json.loads(out)
    assert payload["exit_code"] == 23 and payload["would_succeed"] is False
    [app] = [a for a in payload["migrations"]["apps"] if a["blocking"]]
    assert (app["app"], app["unknown"]) == ("library", ["0002_future"])
    assert [m["model"] for m in payload["models"]] == ["library.Publisher"]
    assert "0002_future" in message

    # A real load is refused with the same status, and --ignore-migrations loads.
    code, _, message = run(str(path), "--no-storages", database=db_alias)
    assert code == 23 and "library 0002_future" in message
    assert not Publisher.objects.using(db_alias).filter(pk=901).exists()
    code, _, _ = run(
        str(path), "--no-storages", "--ignore-migrations", database=db_alias
    )
    assert code == 0
    assert Publisher.objects.using(db_alias).get(pk=901).name == "Plan"


@BOTH
def test_migration_messages_of_the_core_name_the_command_flags(tmp_path, db_alias):
    path = publishers_archive(tmp_path / "a.tar.gz", db_alias, future=True)
    fix = "--ignore-migrations (adding --ignorenonexistent where fields were removed)"
    code, out, message = run(str(path), "--plan", "--no-storages", database=db_alias)
    assert code == 23 and fix in out and fix in message
    code, out, _ = run(
        str(path), "--plan", "--json", "--no-storages", database=db_alias
    )
    assert fix in json.loads(out)["problems"][0]["message"]
    code, _, err = run(
        str(path), "--no-storages", "--ignore-migrations", database=db_alias
    )
    assert code == 0 and "--ignore-migrations: loading although" in err
    assert "ignore_migrations" not in message + err


@BOTH
def test_plan_exit_status_of_a_missing_foreign_key(tmp_path, db_alias):
    book = {
        "model": "library.book",
        "pk": "6f0c1d4e-2b1a-4c3d-9e8f-0a1b2c3d4e5f",
        "fields": {
            "title": "Orphan",
            "publisher": 999_999,
            "price": "1.00",
            "published_at": "2024-06-01T12:00:00Z",
        },
    }
    path = publishers_archive(tmp_path / "a.tar.gz", db_alias, extra=[book])
    code, out, message = run(str(path), "--plan", "--no-storages", database=db_alias)
    assert code == 21
    assert "library.json" in message and "the load would fail (exit status 21)" in out


@pytest.mark.django_db
def test_plan_with_flush_needs_no_confirmation_and_changes_nothing(tmp_path):
    seed_database(20)
    path = publishers_archive(tmp_path / "a.tar.gz", "default")
    count = Publisher.objects.count()
    code, out, _ = run(str(path), "--plan", "--flush", "--no-storages")
    assert code == 0 and "--flush empties every table first" in out
    assert Publisher.objects.count() == count


@pytest.mark.slow
def test_plan_in_a_subprocess(tmp_path, sandbox_env):
    """As a user runs it: a seeded site, its dump, a plan against itself."""
    for args in (("migrate", "-v", "0"), ("seed", "--objects", "30")):
        assert run_manage(*args, env=sandbox_env).returncode == 0
    dumped = run_manage(
        "diskette_dump", "--destination", str(tmp_path), "--json", env=sandbox_env
    )
    assert dumped.returncode == 0, dumped.stderr
    archive = json.loads(dumped.stdout)["path"]
    var = tmp_path / "sandbox-var"
    before = snapshot(var)
    result = run_manage("diskette_load", archive, "--plan", "--json", env=sandbox_env)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["migrations"]["apps"] == []
    book = next(m for m in payload["models"] if m["model"] == "library.Book")
    assert book["objects"] == book["rows"] == book["collisions"] > 0
    [media] = payload["storages"]
    assert media["added"] == media["replaced"] == 0
    # The files the dump excluded would go: replace mode makes the storage as archived.
    assert media["removed"] == len(EXCLUDED_FILES)
    assert media["unchanged"] > 0
    assert snapshot(var) == before


def test_api_plan_load_is_exported():
    assert callable(api.plan_load)
