"""diskette.load() end to end: dump the sandbox, load it elsewhere, compare.

SQLite into SQLite, and SQLite into a real PostgreSQL server and back (through
the ``postgres`` alias of the throwaway cluster; skipped with the reason when
it is absent).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.sites.models import Site
from django.core.management import call_command

from diskette import api
from diskette.api.load_options import LoadOptions
from diskette.exceptions import ConfigurationError
from diskette.reporter import Reporter
from sandbox.library.models import Book, Publisher
from sandbox.library.seeding import seed_database, seed_media
from tests.archives import make_archive, sites

LABELS = ["library", "auth.user", "auth.group", "sites"]


def data(using: str) -> list[dict]:
    out = StringIO()
    call_command("dumpdata", *LABELS, natural_foreign=True, database=using, stdout=out)
    objects = json.loads(out.getvalue())
    for item in objects:
        for name, value in item["fields"].items():
            if isinstance(value, list):
                item["fields"][name] = sorted(value, key=json.dumps)
    return sorted(objects, key=lambda o: (o["model"], json.dumps(o["pk"])))


def files(root: Path) -> dict[str, tuple[str, float, int]]:
    """Every file's content, mtime and permission bits, and every directory."""
    return {
        p.relative_to(root).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime,
            stat.S_IMODE(p.stat().st_mode),
        )
        for p in root.rglob("*")
        if p.is_file()
    } | {
        p.relative_to(root).as_posix() + "/": ("dir", 0, 0)
        for p in root.rglob("*")
        if p.is_dir()
    }


def dump_site(tmp_path: Path, using: str, name: str) -> Path:
    source = tmp_path / f"{name}-source"
    result = api.dump(
        destination=tmp_path / f"{name}-dumps",
        storages=["media"],
        storages_basepath=source,
        no_storages_excludes=True,
        using=using,
    )
    return result.path


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.slow
def test_round_trip_sqlite_to_postgres_and_back(tmp_path, postgres_db):
    seed_database(40, using="default")
    seed_media(tmp_path / "first-source" / "media", files=5)
    (tmp_path / "first-source" / "media" / "empty-dir").mkdir()
    original = data("default")
    archive = dump_site(tmp_path, "default", "first")

    target = tmp_path / "pg-site"
    result = api.load(archive, storages_basepath=target, using=postgres_db, flush=True)
    assert result.objects == sum(d.objects for d in result.data) > 0
    assert data(postgres_db) == original
    assert files(target / "media") == files(tmp_path / "first-source" / "media")
    # Sequences were reset on PostgreSQL: new rows do not collide.
    Publisher.objects.using(postgres_db).create(name="new after load")

    # ... and back from PostgreSQL into SQLite.
    (tmp_path / "second-source").mkdir()
    (target / "media").rename(tmp_path / "second-source" / "media")
    Publisher.objects.using(postgres_db).filter(name="new after load").delete()
    back = dump_site(tmp_path, postgres_db, "second")
    Book.objects.using("default").update(title="overwritten")
    home = tmp_path / "home"
    api.load(back, storages_basepath=home, using="default", flush=True)
    assert data("default") == original
    assert files(home / "media") == files(tmp_path / "second-source" / "media")


@pytest.mark.django_db
def test_round_trip_sqlite(tmp_path):
    seed_database(30)
    seed_media(tmp_path / "first-source" / "media", files=3)
    original = data("default")
    archive = dump_site(tmp_path, "default", "first")
    Book.objects.all().update(title="overwritten")
    Publisher.objects.create(name="not in the archive")
    home = tmp_path / "home"
    (home / "media").mkdir(parents=True)
    (home / "media" / "stale.txt").write_bytes(b"stale")
    api.load(archive, storages_basepath=home, flush=True)
    assert data("default") == original
    assert files(home / "media") == files(tmp_path / "first-source" / "media")
    assert archive.is_file()


@pytest.mark.django_db(transaction=True)
def test_interrupted_load_removes_staging_and_changes_nothing(tmp_path):
    """Ctrl-C in the middle of the data: rolled back, staging gone, media intact."""
    from django.contrib.sites.models import Site
    from django.db.models.signals import post_save

    from tests.archives import make_archive, sites, snapshot

    archive = make_archive(
        tmp_path / "a.tar.gz",
        data={"sites.json": sites((71, "a.org"), (72, "b.org"), (73, "c.org"))},
        storages={"media": {"new.txt": b"new"}},
    )
    home = tmp_path / "home"
    (home / "media").mkdir(parents=True)
    (home / "media" / "old.txt").write_bytes(b"old")
    before = (snapshot(home), list(Site.objects.values_list("pk", "domain")))

    def interrupt(sender, instance, **kwargs):
        if instance.pk == 72:
            raise KeyboardInterrupt

    post_save.connect(interrupt, sender=Site)
    try:
        with pytest.raises(KeyboardInterrupt):
            api.load(archive, storages_basepath=home)
    finally:
        post_save.disconnect(interrupt, sender=Site)
    assert (snapshot(home), list(Site.objects.values_list("pk", "domain"))) == before


@pytest.mark.django_db
def test_a_swap_that_cannot_succeed_is_refused_before_the_commit(tmp_path):
    """The second storage cannot go in place: the load stops before the commit,
    so neither the data nor the first storage changes."""
    from django.contrib.sites.models import Site

    from diskette.exceptions import StorageRestoreError
    from tests.archives import make_archive, sites, snapshot

    archive = make_archive(
        tmp_path / "a.tar.gz",
        data={"sites.json": sites((81, "swap.example.org"))},
        storages={"media": {"new.txt": b"new"}, "var/media": {"x.txt": b"x"}},
    )
    home = tmp_path / "home"
    (home / "media").mkdir(parents=True)
    (home / "media" / "old.txt").write_bytes(b"old")
    (home / "var").write_bytes(b"a file where a directory should be")
    before = snapshot(home)
    with pytest.raises(StorageRestoreError, match="'var/media'") as caught:
        api.load(archive, storages_basepath=home, storages=["media", "var/media"])
    assert caught.value.exit_code == 22
    assert "nothing was changed" in str(caught.value)
    assert snapshot(home) == before
    assert not Site.objects.filter(pk=81).exists()


@pytest.mark.django_db
def test_stale_staging_directories_are_reported(tmp_path):
    from diskette.reporter import Reporter
    from tests.archives import make_archive, sites

    class Recorder(Reporter):
        def __init__(self):
            self.warnings = []

        def warning(self, message):
            self.warnings.append(message)

    archive = make_archive(tmp_path / "a.tar.gz", data={"s.json": sites((82, "x.org"))})
    home = tmp_path / "home"
    (home / ".diskette-load-killed").mkdir(parents=True)
    # No owner lock and older than the grace period: a killed load's staging.
    os.utime(home / ".diskette-load-killed", (1_600_000_000, 1_600_000_000))
    (home / ".diskette-load-young").mkdir()  # may be a load that just started
    reporter = Recorder()
    api.load(archive, storages_basepath=home, reporter=reporter)
    assert any(".diskette-load-killed" in w for w in reporter.warnings)
    assert not any(".diskette-load-young" in w for w in reporter.warnings)
    assert sorted(p.name for p in home.iterdir()) == [
        ".diskette-load-killed",
        ".diskette-load-young",
    ]


@pytest.mark.django_db
def test_load_does_not_need_the_dump_settings(tmp_path, settings):
    """A broken DISKETTE_APPS or DISKETTE_STORAGES is no reason to refuse a load."""
    seed_database(30)
    seed_media(tmp_path / "first-source" / "media", files=3)
    archive = dump_site(tmp_path, "default", "first")
    settings.DISKETTE_APPS = [["typo", {"models": ["nope.Nothing"]}]]
    settings.DISKETTE_STORAGES = ["/outside/the/base"]
    # The target's storages decide what a load restores: a broken setting is
    # a reason to refuse, unless the storages are named for the load.
    with pytest.raises(ConfigurationError, match="DISKETTE_STORAGES"):
        api.load(archive, storages_basepath=tmp_path / "home", flush=True)
    result = api.load(
        archive, storages_basepath=tmp_path / "home", flush=True, storages=["media"]
    )
    assert result.objects > 30


class Recorder(Reporter):
    """Keeps the warnings a load gives."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


@pytest.mark.django_db
def test_options_are_checked_once_into_one_frozen_value():
    options = LoadOptions.create(
        exclude_data="sites", storages=["media"], exact=["auth.Group"], flush=True
    )
    assert options.exclude_data == ("sites",)
    assert options.storages == ("media",)
    assert options.exact == ("auth.group",)
    assert options.flush is True and options.with_data is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.flush = False  # type: ignore[misc]
    with pytest.raises(ConfigurationError, match="storages mode 'swap' is unknown"):
        LoadOptions.create(storages_mode="swap")


@pytest.mark.django_db
def test_unknown_keyword_is_refused_by_load_and_plan(tmp_path):
    path = make_archive(tmp_path / "a.tar.gz", data={"sites.json": sites((61, "a"))})
    for function in (api.load, api.plan_load):
        with pytest.raises(TypeError, match="no_such_option"):
            function(path, no_such_option=True)
    assert not Site.objects.filter(pk=61).exists()


@pytest.mark.django_db
def test_messages_to_python_callers_name_the_arguments_not_flags(tmp_path):
    path = make_archive(tmp_path / "a.tar.gz", data={"sites.json": sites((62, "a"))})
    with pytest.raises(ConfigurationError) as caught:
        api.load(path, exact=["library.nope"], with_storages=False)
    assert str(caught.value).startswith("exact: 'library.nope' is not an installed")
    assert "--" not in str(caught.value)
    reporter = Recorder()
    api.load(path, exclude_data=["nope"], with_storages=False, reporter=reporter)
    assert reporter.warnings == [
        "exclude_data 'nope' matches no data file of the archive (it has sites.json)"
    ]
    plan = api.plan_load(path, flush=True, with_storages=False)
    assert "flush=True empties every table first: no row collides" in plan.notes
    assert not [note for note in plan.notes if "--" in note]
