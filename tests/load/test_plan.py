"""diskette.loading.rehearsal and ``api.plan_load``: migration state, collisions, storages,
a rolled-back load, on SQLite and PostgreSQL.

Archives are built with ``api.dump`` on the seeded sandbox or with
``tests.archives.make_archive``; every test checks that the plan changed
nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from diskette import api
from diskette.exceptions import (
    IntegrityLoadError,
    MigrationMismatchError,
    StorageRestoreError,
)
from diskette.migrations import applied_migrations, compare_migrations, data_apps
from diskette.reporter import Reporter
from diskette.restore.diff import diff_storage
from diskette.restore.swaps import StagedStorage
from sandbox.library.models import Publisher, Review, Tag
from sandbox.library.seeding import seed_database
from tests.archives import make_archive, snapshot

COMPAT = Path(__file__).resolve().parents[3] / "shared" / "compat" / "diskette-0.6.0"
LABELS = ["library", "auth.user", "auth.group", "sites"]
BOTH = pytest.mark.django_db(databases=["default", "postgres"])

PUBLISHERS = [
    {"model": "library.publisher", "pk": 901, "fields": {"name": "Plan Press"}},
    {"model": "library.publisher", "pk": 902, "fields": {"name": "Dry Run Books"}},
]
ORPHAN_BOOK = {
    "model": "library.book",
    "pk": "6f0c1d4e-2b1a-4c3d-9e8f-0a1b2c3d4e5f",
    "fields": {
        "title": "Orphan",
        "publisher": 999_999,
        "authors": [],
        "tags": [],
        "price": "9.99",
        "published_at": "2024-06-01T12:00:00Z",
        "metadata": {},
        "signature": "",
        "cover": "",
        "sequel": None,
    },
}


def rows(using: str) -> list[dict]:
    """Every row of the sandbox's data, sorted, for before/after comparisons."""
    out = StringIO()
    call_command("dumpdata", *LABELS, database=using, stdout=out)
    return sorted(json.loads(out.getvalue()), key=lambda o: (o["model"], str(o["pk"])))


def archive(
    path: Path,
    data: dict[str, list[dict]],
    *,
    using: str,
    migrations: dict[str, list[str]] | None = None,
    storages: dict[str, dict[str, bytes]] | None = None,
) -> Path:
    """An archive of ``data`` whose manifest records its models and, by default,
    the migrations ``using`` has applied."""

    def tamper(payload):
        extra = payload["diskette"]
        extra["migrations"] = (
            applied_migrations(using) if migrations is None else migrations
        )
        for item in extra["data"]:
            objects = data[item["path"].split("/", 1)[1]]
            counts = Counter(apps.get_model(o["model"])._meta.label for o in objects)
            item["models"] = dict(counts)
            item["objects"] = len(objects)

    return make_archive(path, data=data, storages=storages, tamper=tamper)


class Recorder(Reporter):
    """Keeps the warnings a load gives."""

    def __init__(self):
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


def with_future(using: str) -> dict[str, list[str]]:
    migrations = applied_migrations(using)
    migrations["library"] = [*migrations["library"], "0002_future"]
    return migrations


# ---- migrations ----------------------------------------------------------------


@BOTH
def test_unknown_migration_refuses_the_load_and_writes_nothing(tmp_path, db_alias):
    path = archive(
        tmp_path / "a.tar.gz",
        {"library.json": PUBLISHERS},
        using=db_alias,
        migrations=with_future(db_alias),
        storages={"media": {"a.txt": b"a"}},
    )
    before = rows(db_alias)
    with pytest.raises(MigrationMismatchError) as caught:
        api.load(path, using=db_alias, storages_basepath=tmp_path / "site")
    message = str(caught.value)
    assert "library 0002_future (unknown to this project)" in message
    assert "ignore_migrations=True (adding ignorenonexistent=True" in message
    assert caught.value.exit_code == 23
    assert rows(db_alias) == before
    assert not (tmp_path / "site" / "media").exists()


@BOTH
def test_ignore_migrations_loads_anyway(tmp_path, db_alias):
    path = archive(
        tmp_path / "a.tar.gz",
        {"library.json": PUBLISHERS},
        using=db_alias,
        migrations=with_future(db_alias),
    )
    reporter = Recorder()
    result = api.load(
        path,
        using=db_alias,
        ignore_migrations=True,
        with_storages=False,
        reporter=reporter,
    )
    assert result.objects == 2
    [warning] = reporter.warnings
    assert "ignore_migrations=True" in warning and "library 0002_future" in warning
    names = Publisher.objects.using(db_alias).filter(pk__in=[901, 902])
    assert sorted(names.values_list("name", flat=True)) == [
        "Dry Run Books",
        "Plan Press",
    ]


@BOTH
def test_target_at_an_older_migration_is_refused_then_planned(tmp_path, db_alias):
    """The target has not applied library's 0001_initial (its record is gone)."""
    path = archive(tmp_path / "a.tar.gz", {"library.json": PUBLISHERS}, using=db_alias)
    MigrationRecorder(connections[db_alias]).migration_qs.filter(
        app="library", name="0001_initial"
    ).delete()
    with pytest.raises(MigrationMismatchError, match=r"library 0001_initial \(not"):
        api.load(path, using=db_alias, with_storages=False)
    assert not Publisher.objects.using(db_alias).filter(pk__in=[901, 902]).exists()

    plan = api.plan_load(path, using=db_alias, with_storages=False)
    assert plan.exit_code == MigrationMismatchError.exit_code
    [item] = plan.migrations.blocking
    assert (item.app, item.missing, item.unknown) == ("library", ["0001_initial"], [])
    assert plan.problems[0].kind == "migrations"
    assert "run 'manage.py migrate' first" in plan.problems[0].message
    # The rolled-back load itself would work: only the migration check fails.
    assert [d["objects"] for d in plan.data] == [2]
    assert not Publisher.objects.using(db_alias).filter(pk__in=[901, 902]).exists()

    ignoring = api.plan_load(
        path, using=db_alias, with_storages=False, ignore_migrations=True
    )
    assert ignoring.exit_code == 0
    assert ignoring.migrations.blocking  # still listed


@BOTH
def test_apps_without_data_do_not_block(tmp_path, db_alias):
    migrations = applied_migrations(db_alias)
    migrations["sessions"] = [*migrations.get("sessions", []), "0099_future"]
    path = archive(
        tmp_path / "a.tar.gz",
        {"library.json": PUBLISHERS},
        using=db_alias,
        migrations=migrations,
    )
    plan = api.plan_load(path, using=db_alias, with_storages=False)
    [item] = plan.migrations.apps
    assert (item.app, item.unknown, item.blocking) == (
        "sessions",
        ["0099_future"],
        False,
    )
    assert plan.exit_code == 0
    assert api.load(path, using=db_alias, with_storages=False).objects == 2


@BOTH
def test_apps_the_data_apps_depend_on_block(tmp_path, db_alias):
    """library's migrations depend on contenttypes: a newer contenttypes blocks."""
    migrations = applied_migrations(db_alias)
    migrations["contenttypes"] = [*migrations["contenttypes"], "0099_future"]
    path = archive(
        tmp_path / "a.tar.gz",
        {"library.json": PUBLISHERS},
        using=db_alias,
        migrations=migrations,
    )
    with pytest.raises(MigrationMismatchError, match="contenttypes 0099_future"):
        api.load(path, using=db_alias, with_storages=False)


@pytest.mark.django_db
def test_target_ahead_is_listed_not_blocking(tmp_path):
    migrations = applied_migrations("default")
    migrations["library"] = []
    path = archive(
        tmp_path / "a.tar.gz",
        {"library.json": PUBLISHERS},
        using="default",
        migrations=migrations,
    )
    plan = api.plan_load(path, with_storages=False)
    [item] = plan.migrations.apps
    assert (item.app, item.extra, item.blocking) == ("library", ["0001_initial"], False)
    assert plan.exit_code == 0


def test_data_apps_from_the_manifest_counts():
    from diskette.manifest import DataFile, Manifest

    manifest = Manifest(
        version="1",
        creation="now",
        format=1,
        migrations={"library": ["0001_initial"], "sites": ["0001_initial"]},
    )
    counted = DataFile(path="data/a.json", models={"library.Book": 3, "auth.User": 0})
    unknown = DataFile(path="data/b.json", models={}, objects=None)
    empty = DataFile(path="data/c.json", models={}, objects=0)
    assert data_apps(manifest, [counted, empty]) == {"library"}
    assert data_apps(manifest, [unknown]) == {"library", "sites"}


# ---- collisions and the rolled-back load ----------------------------------------


@BOTH
@pytest.mark.slow
def test_collisions_per_model(tmp_path, db_alias):
    seed_database(30, using=db_alias)
    dumped = api.dump(
        destination=tmp_path / "dumps", with_storages=False, using=db_alias
    )
    archived = Counter()
    for item in dumped.data:
        archived.update(item.models)
    reviews = list(
        Review.objects.using(db_alias).order_by("pk").values_list("pk", flat=True)
    )
    Review.objects.using(db_alias).filter(pk__in=reviews[:3]).delete()
    Tag.objects.using(db_alias).bulk_create(
        [Tag(slug="plan-only-1", label="x"), Tag(slug="plan-only-2", label="y")]
    )
    before = rows(db_alias)

    plan = api.plan_load(dumped.path, using=db_alias, with_storages=False)

    assert plan.exit_code == 0, plan.problems
    assert rows(db_alias) == before
    found = {item.model: item for item in plan.models}
    assert set(found) == {label for label, n in archived.items() if n}
    for label, item in found.items():
        assert item.objects == archived[label]
    review, tag = found["library.Review"], found["library.Tag"]
    assert (review.rows, review.collisions) == (archived["library.Review"] - 3,) * 2
    assert (tag.rows, tag.collisions) == (
        archived["library.Tag"] + 2,
        archived["library.Tag"],
    )
    book = found["library.Book"]  # UUID primary keys
    assert book.rows == book.collisions == book.objects
    assert sum(d["objects"] for d in plan.data) == dumped.objects


@BOTH
@pytest.mark.parametrize("fmt", ["xml", "jsonl"])
def test_collisions_in_other_formats(tmp_path, db_alias, fmt):
    seed_database(20, using=db_alias)
    dumped = api.dump(
        destination=tmp_path / "dumps",
        with_storages=False,
        using=db_alias,
        format=fmt,
        apps=["library"],
    )
    Publisher.objects.using(db_alias).create(name="only in the target")
    plan = api.plan_load(dumped.path, using=db_alias, with_storages=False)
    found = {item.model: item for item in plan.models}
    publisher = found["library.Publisher"]
    assert publisher.collisions == publisher.objects == publisher.rows - 1
    assert plan.exit_code == 0


@BOTH
def test_missing_foreign_key_target_is_reported_and_nothing_changes(tmp_path, db_alias):
    path = archive(
        tmp_path / "a.tar.gz",
        {"library.json": PUBLISHERS, "books.json": [ORPHAN_BOOK]},
        using=db_alias,
    )
    before = rows(db_alias)
    plan = api.plan_load(path, using=db_alias, with_storages=False)
    assert plan.exit_code == IntegrityLoadError.exit_code
    [problem] = plan.problems
    assert problem.kind == "data"
    assert "books.json" in problem.message and "library_book" in problem.message
    assert rows(db_alias) == before
    # The plan is right: the real load fails the same way.
    with pytest.raises(IntegrityLoadError):
        api.load(path, using=db_alias, with_storages=False)
    assert rows(db_alias) == before


@BOTH
def test_data_that_does_not_fit_is_reported(tmp_path, db_alias):
    broken = [{"model": "library.publisher", "pk": 903, "fields": {"nope": 1}}]
    path = archive(tmp_path / "a.tar.gz", {"broken.json": broken}, using=db_alias)
    plan = api.plan_load(path, using=db_alias, with_storages=False)
    assert plan.exit_code == 20
    assert "broken.json" in plan.problems[0].message
    assert (
        api.plan_load(
            path, using=db_alias, with_storages=False, ignorenonexistent=True
        ).exit_code
        == 0
    )


@pytest.mark.postgres
@BOTH
def test_postgres_sequences_are_not_lowered(tmp_path, postgres_db):
    path = archive(
        tmp_path / "a.tar.gz", {"library.json": PUBLISHERS}, using=postgres_db
    )
    Publisher.objects.using(postgres_db).create(pk=5000, name="high")
    Publisher.objects.using(postgres_db).filter(pk=5000).delete()
    with connections[postgres_db].cursor() as cursor:
        cursor.execute("SELECT setval('library_publisher_id_seq', 5000)")
    plan = api.plan_load(path, using=postgres_db, with_storages=False)
    assert plan.exit_code == 0
    with connections[postgres_db].cursor() as cursor:
        cursor.execute("SELECT last_value FROM library_publisher_id_seq")
        assert cursor.fetchone()[0] == 5000


@BOTH
def test_vendor_of_the_archive_against_the_target(tmp_path, db_alias):
    def tamper(payload):
        payload["diskette"]["database"]["vendor"] = "mysql"

    path = make_archive(tmp_path / "a.tar.gz", data={"sites.json": []}, tamper=tamper)
    plan = api.plan_load(path, using=db_alias, with_storages=False)
    vendor = connections[db_alias].vendor
    assert plan.vendors == {"archive": "mysql", "target": vendor}
    assert any("mysql" in note and vendor in note for note in plan.notes)
    assert plan.exit_code == 0


# ---- storages ------------------------------------------------------------------


ARCHIVED = {"a.txt": b"same", "b.txt": b"new content", "sub/c.txt": b"added"}


def target_media(base: Path) -> Path:
    media = base / "media"
    (media / "old").mkdir(parents=True)
    (media / "a.txt").write_bytes(b"same")
    (media / "b.txt").write_bytes(b"old content")  # same size, other bytes
    (media / "old" / "gone.txt").write_bytes(b"12345")
    return media


@BOTH
@pytest.mark.parametrize("mode", ["replace", "merge"])
def test_storage_changes_are_counted(tmp_path, db_alias, mode):
    path = archive(
        tmp_path / "a.tar.gz", {}, using=db_alias, storages={"media": ARCHIVED}
    )
    base = tmp_path / "site"
    target_media(base)
    before = snapshot(base)
    plan = api.plan_load(
        path, using=db_alias, storages_basepath=base, storages_mode=mode
    )
    [diff] = plan.storages
    assert (diff.added, diff.added_bytes) == (1, len(b"added"))
    assert (diff.replaced, diff.replaced_bytes) == (1, len(b"new content"))
    assert diff.unchanged == 1
    expected_removed = (1, 5) if mode == "replace" else (0, 0)
    assert (diff.removed, diff.removed_bytes) == expected_removed
    assert plan.exit_code == 0
    assert snapshot(base) == before
    assert not list(base.glob(".diskette-load-*"))


def test_plan_does_not_create_the_storages_base(tmp_path, db):
    path = make_archive(tmp_path / "a.tar.gz", storages={"media": ARCHIVED})
    plan = api.plan_load(path, storages_basepath=tmp_path / "nowhere")
    assert plan.storages[0].added == 3
    assert not (tmp_path / "nowhere").exists()


def test_merge_conflicts(tmp_path):
    staged = tmp_path / "staged" / "media"
    (staged / "docs").mkdir(parents=True)
    (staged / "docs" / "x.txt").write_bytes(b"x")
    (staged / "file").write_bytes(b"f")
    base = tmp_path / "base"
    (base / "media" / "file").mkdir(parents=True)  # a directory where a file goes
    (base / "media" / "docs").write_bytes(b"a file where a directory goes")
    storage = StagedStorage(name="media", staged=staged)
    merge = diff_storage(storage, base, mode="merge")
    assert sorted(merge.conflicts) == ["media/docs/x.txt", "media/file"]
    replace = diff_storage(storage, base, mode="replace")
    assert replace.conflicts == [] and replace.removed == 1


@pytest.mark.django_db
def test_merge_conflict_is_a_problem(tmp_path):
    path = make_archive(tmp_path / "a.tar.gz", storages={"media": {"docs/x": b"x"}})
    base = tmp_path / "site"
    (base / "media").mkdir(parents=True)
    (base / "media" / "docs").write_bytes(b"")
    plan = api.plan_load(path, storages_basepath=base, storages_mode="merge")
    assert plan.exit_code == StorageRestoreError.exit_code
    assert "media/docs/x" in plan.problems[0].message


# ---- the original diskette's archives ------------------------------------------


@pytest.mark.skipif(
    not (COMPAT / "diskette_data_storages.tar.gz").is_file(),
    reason=f"the original diskette's archives are not beside the repository ({COMPAT})",
)
@BOTH
def test_original_archives_skip_the_migration_check(tmp_path, db_alias):
    path = COMPAT / "diskette_data_storages.tar.gz"
    plan = api.plan_load(path, using=db_alias, storages_basepath=tmp_path / "site")
    assert plan.legacy and not plan.migrations.checked
    assert "records no migrations" in plan.migrations.note
    assert plan.exit_code == 0, plan.problems
    counts = {item.model: item.objects for item in plan.models}
    assert counts == {"auth.Group": 2, "auth.User": 6, "sites.Site": 2}
    assert plan.storages[0].added == 3
    # The real load goes on, with the note.
    result = api.load(
        path, using=db_alias, storages_basepath=tmp_path / "site", with_storages=False
    )
    assert result.legacy and result.objects == 10


def test_compare_migrations_skips_legacy(db):
    from diskette.manifest import Manifest

    state = compare_migrations(Manifest(version="0.6.0", creation="x"), [], "default")
    assert state.checked is False and state.error() is None
