"""The dumper writes exactly what dumpdata writes, and counts what it wrote."""

from __future__ import annotations

import json
import threading

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.contrib.sites.models import Site
from django.core.management import call_command
from django.db import connections

from diskette.definitions import Definition
from diskette.dumper import (
    count_fixture_objects,
    dumpdata_arguments,
    read_transaction,
    write_fixture,
)
from diskette.exceptions import DumpError
from diskette.reporter import Reporter


def definition(name, models, fmt="json", **options) -> Definition:
    return Definition(
        name=name, models=tuple(models), filename=f"{name}.{fmt}", format=fmt, **options
    )


def labels(app_label):
    return [m._meta.label for m in apps.get_app_config(app_label).get_models()]


def dumpdata(tmp_path, models, *flags, using="default"):
    output = tmp_path / "dumpdata-output"
    call_command(
        "dumpdata",
        *models,
        *flags,
        f"--database={using}",
        f"--output={output}",
        verbosity=0,
    )
    return output.read_bytes()


SHAPES = [
    ("json", (), {}),
    ("json", ("--natural-foreign",), {"natural_foreign": True}),
    (
        "json",
        ("--natural-foreign", "--natural-primary"),
        {"natural_foreign": True, "natural_primary": True},
    ),
    ("json", ("--all",), {"use_base_manager": True}),
    ("jsonl", ("--natural-foreign",), {"natural_foreign": True}),
    ("xml", ("--natural-foreign",), {"natural_foreign": True}),
    ("yaml", (), {}),
]


@pytest.mark.filterwarnings(
    "ignore::django.core.management.commands.dumpdata.ProxyModelWarning"
)
@pytest.mark.parametrize(("fmt", "flags", "options"), SHAPES)
def test_every_model_shape_equals_dumpdata(tmp_path, seeded, fmt, flags, options):
    """Each sandbox model on its own, then the whole app, byte for byte."""
    models = [*labels("library"), "auth.User", "auth.Group", "sites.Site"]
    models.append("library.PublishedBook")  # a proxy: dumpdata writes nothing for it
    for label in [*dict.fromkeys(models), None]:
        chosen = [label] if label else labels("library")
        item = definition("shape", chosen, fmt, **options)
        path = tmp_path / f"ours.{fmt}"
        result = write_fixture(item, path, indent=2)
        expected = dumpdata(tmp_path, chosen, *flags, f"--format={fmt}", "--indent=2")
        assert path.read_bytes() == expected, label
        if label and apps.get_model(label)._meta.proxy:
            assert result.models == {}, "dumpdata skips proxy models"
        else:
            assert result.objects > 0, label
    # The whole app: counts match the database.
    for model in apps.get_app_config("library").get_models():
        if not model._meta.proxy:
            assert result.models[model._meta.label] == model._default_manager.count()
    assert "library.PublishedBook" not in result.models


def test_counts_per_model_and_size(tmp_path, seeded):
    item = definition("auth", ["auth.Group", "auth.User"], natural_foreign=True)
    result = write_fixture(item, tmp_path / "auth.json")
    assert result.models == {
        "auth.Group": apps.get_model("auth.Group").objects.count(),
        "auth.User": User.objects.count(),
    }
    payload = json.loads((tmp_path / "auth.json").read_text("utf-8"))
    assert len(payload) == result.objects
    assert result.size == (tmp_path / "auth.json").stat().st_size


@pytest.mark.django_db
def test_empty_definition_writes_an_empty_fixture(tmp_path):
    item = definition("sessions", ["sessions.Session"])
    result = write_fixture(item, tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text()) == []
    assert result.models == {"sessions.Session": 0}


def test_dump_command_runs_instead(tmp_path, seeded):
    item = definition(
        "library", labels("library"), natural_foreign=True, dump_command="dumpdata"
    )
    result = write_fixture(item, tmp_path / "lib.json", indent=1)
    expected = dumpdata(tmp_path, labels("library"), "--natural-foreign", "--indent=1")
    assert (tmp_path / "lib.json").read_bytes() == expected
    assert (
        result.models["library.Book"] == apps.get_model("library.Book").objects.count()
    )


@pytest.mark.django_db
def test_unknown_dump_command_is_a_dump_error(tmp_path):
    item = definition("sites", ["sites.Site"], dump_command="no_such_command")
    with pytest.raises(DumpError, match="no_such_command"):
        write_fixture(item, tmp_path / "sites.json")


def test_unserialisable_row_is_a_dump_error(tmp_path, seeded):
    with connections["default"].cursor() as cursor:
        cursor.execute("UPDATE library_book SET price = 'not a number'")
    item = definition("library", ["library.Publisher", "library.Book"])
    with pytest.raises(DumpError, match=r"'library': model library\.Book could not"):
        write_fixture(item, tmp_path / "lib.json")


@pytest.mark.parametrize("fmt", ["json", "jsonl", "xml", "yaml"])
def test_count_fixture_objects(tmp_path, seeded, fmt):
    path = tmp_path / f"f.{fmt}"
    path.write_bytes(dumpdata(tmp_path, ["auth.User", "sites.Site"], f"--format={fmt}"))
    assert count_fixture_objects(path, fmt) == {
        "auth.User": User.objects.count(),
        "sites.Site": Site.objects.count(),
    }


def test_dumpdata_arguments():
    item = definition(
        "x",
        ["auth.User"],
        "xml",
        natural_foreign=True,
        natural_primary=True,
        use_base_manager=True,
    )
    assert dumpdata_arguments(item, output="o.xml", using="other", indent=2) == [
        "auth.User",
        "--natural-foreign",
        "--natural-primary",
        "--all",
        "--format=xml",
        "--indent=2",
        "--database=other",
        "--output=o.xml",
    ]


class InsertBetween(Reporter):
    """After the first definition is dumped, another connection commits a new user."""

    def __init__(self, alias):
        self.alias = alias
        self.inserted = False

    def insert(self):
        def run():
            other = connections.create_connection(self.alias)
            try:
                with other.cursor() as cursor:
                    cursor.execute(
                        "INSERT INTO auth_user (password, is_superuser, username, "
                        "first_name, last_name, email, is_staff, is_active, date_joined) "
                        "VALUES ('', false, 'late', '', '', '', false, true, now())"
                    )
            finally:
                other.close()

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        self.inserted = True


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_definitions_share_one_repeatable_read_snapshot(tmp_path, postgres_db):
    assert Site.objects.using(postgres_db).exists()  # from the sites migration
    reporter = InsertBetween(postgres_db)
    with read_transaction(postgres_db):
        write_fixture(
            definition("sites", ["sites.Site"]),
            tmp_path / "sites.json",
            using=postgres_db,
        )
        reporter.insert()
        write_fixture(
            definition("users", ["auth.User"]),
            tmp_path / "users.json",
            using=postgres_db,
        )
    assert reporter.inserted
    # Committed by another connection during the dump: not in the snapshot...
    assert "late" not in (tmp_path / "users.json").read_text()
    # ...but really committed.
    assert User.objects.using(postgres_db).filter(username="late").exists()


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_postgres_fixture_equals_dumpdata(tmp_path, postgres_db):
    from sandbox.library.seeding import seed_database

    seed_database(40, using=postgres_db)
    chosen = labels("library")
    item = definition("library", chosen, natural_foreign=True)
    with read_transaction(postgres_db):
        result = write_fixture(item, tmp_path / "lib.json", using=postgres_db)
    expected = dumpdata(tmp_path, chosen, "--natural-foreign", using=postgres_db)
    assert (tmp_path / "lib.json").read_bytes() == expected
    assert result.models["library.Book"] == (
        apps.get_model("library.Book").objects.using(postgres_db).count()
    )
