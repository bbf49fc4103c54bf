"""diskette.api.dump(): the whole pipeline on a real database and real directories."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tarfile
import tempfile

import pytest
from django.apps import apps
from django.contrib.auth.models import User

from diskette import api
from diskette.definitions import Definition
from diskette.exceptions import ConfigurationError, DumpError
from diskette.manifest import Manifest
from diskette.reporter import Reporter


def definition(name, models, fmt="json", **options) -> Definition:
    return Definition(
        name=name, models=tuple(models), filename=f"{name}.{fmt}", format=fmt, **options
    )


def library_models():
    return [m._meta.label for m in apps.get_app_config("library").get_models()]


@pytest.fixture
def definitions():
    return [
        definition("auth", ["auth.Group", "auth.User"], natural_foreign=True),
        definition("library", library_models(), natural_foreign=True),
    ]


@pytest.fixture
def site(tmp_path, settings):
    """A storages base with one media storage, and a private system temp dir."""
    base = tmp_path / "site"
    media = base / "media"
    (media / "docs").mkdir(parents=True)
    (media / "docs" / "unicodé ñame.txt").write_text("bonjour", encoding="utf-8")
    (media / "cache").mkdir()
    (media / "cache" / "thumb.bin").write_bytes(b"\0" * 50)
    (media / "empty").mkdir()
    (media / "photo.jpg").write_bytes(os.urandom(2000))
    settings.MEDIA_ROOT = str(media)
    settings.DISKETTE_STORAGES = ["media"]
    settings.DISKETTE_STORAGES_BASEPATH = str(base)
    settings.DISKETTE_STORAGES_EXCLUDES = ["cache/*"]
    settings.DISKETTE_DUMP_PATH = str(tmp_path / "dumps")
    return base


@pytest.fixture
def system_temp(tmp_path, monkeypatch):
    """Point Python's temp dir at an empty directory to prove nothing lands there."""
    path = tmp_path / "system-temp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


#: The default archive name: features, then the UTC time to the microsecond.
DEFAULT_NAME = re.compile(r"diskette(_data)?(_storages)?_\d{8}T\d{6}\.\d{6}Z\.tar\.gz")


def members_of(path):
    with tarfile.open(path, "r:gz") as tar:
        return {
            m.name: (tar.extractfile(m).read() if m.isfile() else None)
            for m in tar.getmembers()
        }


@pytest.mark.slow
def test_dump_writes_a_verifiable_archive(seeded, site, definitions, system_temp):
    result = api.dump(definitions=definitions)

    assert result.path.name == result.name
    assert DEFAULT_NAME.fullmatch(result.name)
    assert result.name.startswith("diskette_data_storages_")
    assert result.destination == f"local directory {site.parent / 'dumps'}"
    assert result.sidecar == result.name + ".manifest.json"
    raw = result.path.read_bytes()
    assert result.checksum == hashlib.blake2b(raw).hexdigest()
    assert result.size == len(raw)

    members = members_of(result.path)
    names = list(members)
    assert names[:2] == ["data/auth.json", "data/library.json"]
    assert names[-1] == "manifest.json"
    assert set(names[2:-1]) == {
        "media/docs/unicodé ñame.txt",
        "media/photo.jpg",
        "media/cache",
        "media/empty",
    }

    manifest = Manifest.from_bytes(members["manifest.json"])
    assert manifest.format == 1
    assert [d.path for d in manifest.data] == ["data/auth.json", "data/library.json"]
    assert manifest.to_dict()["datas"] == ["data/auth.json", "data/library.json"]
    assert manifest.to_dict()["storages"] == ["media"]
    assert manifest.database["vendor"] == "sqlite"
    assert "0001_initial" in manifest.migrations["library"]
    assert manifest.migrations["auth"][0] == "0001_initial"
    for name, digest in manifest.members.items():
        assert hashlib.sha256(members[name]).hexdigest() == digest
    assert set(manifest.members) == {n for n, c in members.items() if c is not None} - {
        "manifest.json"
    }
    auth = manifest.data[0]
    fixture = json.loads(members["data/auth.json"])
    assert auth.objects == len(fixture) == result.data[0].objects
    assert auth.models["auth.User"] == User.objects.count()
    assert auth.size == len(members["data/auth.json"])
    (storage,) = manifest.storages
    assert (storage.files, storage.bytes) == (2, len(b"bonjour") + 2000)
    assert sorted(storage.empty_directories) == ["cache", "empty"]
    assert result.storages[0].files == 2
    assert result.objects == sum(d.objects for d in manifest.data)
    # Nothing else in the destination, nothing in the system temp dir.
    assert sorted(p.name for p in result.path.parent.iterdir()) == [
        result.path.name,
        result.sidecar,
    ]
    assert list(system_temp.iterdir()) == []
    json.dumps(result.to_dict())


def test_modes_of_archive_and_directories(
    seeded, site, definitions, tmp_path, settings
):
    nested = tmp_path / "new" / "deeper"
    result = api.dump(definitions=definitions, destination=nested)
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(nested.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700

    existing = tmp_path / "existing"
    existing.mkdir()
    existing.chmod(0o755)
    settings.DISKETTE_DUMP_PERMISSIONS = 0o640
    result = api.dump(definitions=definitions, destination=existing)
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o640


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("with_data", "with_storages", "expected"),
    [
        (True, False, "diskette_data_"),
        (False, True, "diskette_storages_"),
    ],
)
def test_features_in_filename(site, definitions, with_data, with_storages, expected):
    result = api.dump(
        definitions=definitions, with_data=with_data, with_storages=with_storages
    )
    assert result.path.name.startswith(expected)
    assert DEFAULT_NAME.fullmatch(result.path.name)
    names = list(members_of(result.path))
    assert any(n.startswith("data/") for n in names) is with_data
    assert any(n.startswith("media/") for n in names) is with_storages


@pytest.mark.django_db
def test_nothing_to_dump_is_refused(site, definitions):
    with pytest.raises(ConfigurationError, match="nothing to dump"):
        api.dump(definitions=definitions, with_data=False, with_storages=False)


def test_date_placeholder(tmp_path):
    import datetime

    now = datetime.datetime(2026, 11, 22, 10, 15, 0)
    name = api.dump_filename(
        "site-{date}{features}.tar.gz", with_data=True, with_storages=False, now=now
    )
    assert name == "site-2026-11-22T101500_data.tar.gz"


def test_timestamp_placeholder_is_utc_to_the_microsecond():
    import datetime

    paris = datetime.timezone(datetime.timedelta(hours=1))
    now = datetime.datetime(2026, 12, 1, 15, 15, 3, 123456, tzinfo=paris)
    name = api.dump_filename(
        "diskette{features}_{timestamp}.tar.gz",
        with_data=True,
        with_storages=True,
        now=now,
    )
    assert name == "diskette_data_storages_20261201T141503.123456Z.tar.gz"
    assert (
        api.dump_filename("{date}.tar.gz", with_data=True, with_storages=True, now=now)
        == "2026-12-01T151503.tar.gz"
    )


@pytest.mark.parametrize(
    "pattern", ["x{nope}.tar.gz", "x{date:%Y}.tar.gz", "x{features!r}", "a/{date}", "{"]
)
def test_bad_filename_patterns(pattern):
    with pytest.raises(ConfigurationError, match="dump filename"):
        api.dump_filename(pattern, with_data=True, with_storages=True)


def test_apps_and_exclude_apps(seeded, site, definitions):
    result = api.dump(definitions=definitions, apps=["library"], with_storages=False)
    assert [d.name for d in result.data] == ["library"]
    result = api.dump(
        definitions=definitions, exclude_apps=["library"], with_storages=False
    )
    assert [d.name for d in result.data] == ["auth"]
    with pytest.raises(
        ConfigurationError, match="'nope'.*known ones are 'auth', 'library'"
    ):
        api.dump(definitions=definitions, apps=["nope"])


def test_format_override(seeded, site, definitions):
    result = api.dump(definitions=definitions, format="jsonl", with_storages=False)
    members = members_of(result.path)
    lines = members["data/library.jsonl"].decode().splitlines()
    assert len(lines) == result.data[1].objects
    assert all(json.loads(line)["model"].startswith("library.") for line in lines)
    manifest = Manifest.from_bytes(members["manifest.json"])
    assert [d.format for d in manifest.data] == ["jsonl", "jsonl"]


@pytest.mark.django_db
def test_storage_options(site, tmp_path):
    other = site / "other"
    other.mkdir()
    (other / "a.tmp").write_text("t")
    (other / "keep.txt").write_text("k")
    (site / "media" / "cache" / "keep.txt").write_text("k")
    result = api.dump(
        with_data=False, storages=["other", "media"], storages_excludes=["*.tmp"]
    )
    names = set(members_of(result.path))
    assert "other/keep.txt" in names
    assert "other/a.tmp" not in names
    assert "media/cache/keep.txt" not in names  # the setting's pattern still applies
    result = api.dump(
        with_data=False,
        storages=["other", "media"],
        storages_excludes=["*.tmp"],
        no_storages_excludes=True,
    )
    names = set(members_of(result.path))
    assert "media/cache/keep.txt" in names
    assert "other/a.tmp" not in names


@pytest.mark.django_db
def test_storages_basepath_option(site, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "uploads").mkdir(parents=True)
    (elsewhere / "uploads" / "f.txt").write_text("f")
    result = api.dump(
        with_data=False, storages=["uploads"], storages_basepath=elsewhere
    )
    assert "uploads/f.txt" in members_of(result.path)


@pytest.mark.django_db
def test_bad_storage_refused_before_anything_is_written(site, tmp_path):
    destination = tmp_path / "never"
    with pytest.raises(ConfigurationError, match="does not exist"):
        api.dump(with_data=False, storages=["missing"], destination=destination)
    with pytest.raises(ConfigurationError, match="outside"):
        api.dump(with_data=False, storages=[str(tmp_path)], destination=destination)
    assert not destination.exists()


def test_indent(seeded, site, definitions):
    result = api.dump(definitions=definitions, indent=4, with_storages=False)
    assert members_of(result.path)["data/auth.json"].startswith(b'[\n{\n    "model"')


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_unserialisable_model_leaves_nothing(seeded, site, definitions, system_temp):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE library_book SET price = 'not a number'")
    destination = site.parent / "dumps"
    with pytest.raises(DumpError, match=r"library\.Book could not be serialized"):
        api.dump(definitions=definitions)
    assert leftovers(destination) == []
    assert list(system_temp.iterdir()) == []


class Sabotage(Reporter):
    """After the first storage file is archived, do something nasty."""

    def __init__(self, action):
        self.action = action
        self.fired = False

    def progress(self, label, done, total=None, unit=""):
        if label.startswith("archiving") and not self.fired:
            self.fired = True
            self.action()


def test_file_vanishing_mid_dump_leaves_nothing(seeded, site, definitions, system_temp):
    destination = site.parent / "dumps"
    destination.mkdir()
    (destination / "older.tar.gz").write_bytes(b"kept")
    victim = site / "media" / "photo.jpg"
    reporter = Sabotage(victim.unlink)
    with pytest.raises(DumpError, match="photo.jpg.*vanished"):
        api.dump(definitions=definitions, reporter=reporter)
    assert reporter.fired
    assert leftovers(destination) == ["older.tar.gz"]
    assert list(system_temp.iterdir()) == []


def test_interrupt_mid_dump_leaves_nothing(seeded, site, definitions, system_temp):
    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.dump(definitions=definitions, reporter=Sabotage(interrupt))
    assert leftovers(site.parent / "dumps") == []
    assert list(system_temp.iterdir()) == []


@pytest.mark.django_db
def test_destination_that_cannot_be_a_directory(site, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DumpError, match="the dump failed"):
        api.dump(with_data=False, destination=blocker / "sub")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
@pytest.mark.django_db
def test_no_permission_on_destination(site, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(DumpError, match="permission denied"):
        api.dump(with_data=False, destination=locked)


@pytest.mark.django_db
def test_plan_and_describe_write_nothing(site, definitions, tmp_path):
    destination = tmp_path / "planned"
    plan = api.plan_dump(definitions=definitions, destination=destination)
    description = plan.describe()
    assert description["archive"] == str(destination / plan.filename)
    assert plan.filename.startswith("diskette_data_storages_")
    assert description["destination"] == f"local directory {destination}"
    assert description["data"][0]["models"] == ["auth.Group", "auth.User"]
    assert "library.PublishedBook" not in description["data"][1]["models"]
    (media,) = description["storages"]
    assert (media["files"], media["excluded"]) == (2, 1)
    assert not destination.exists()


def test_definitions_from_settings_and_appconf(seeded, site, tmp_path, settings):
    settings.DISKETTE_APPS = [["sites", {"models": "sites"}]]
    result = api.dump(with_storages=False)
    assert [d.name for d in result.data] == ["sites"]
    appconf = tmp_path / "appconf.json"
    appconf.write_text(json.dumps([["users", {"models": ["auth.User"]}]]))
    result = api.dump(appconf=appconf, with_storages=False)
    assert [(d.name, list(d.models)) for d in result.data] == [("users", ["auth.User"])]
    appconf.write_text("[not json")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        api.dump(appconf=appconf)


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_dump_from_postgres(site, definitions, postgres_db):
    from sandbox.library.seeding import seed_database

    seed_database(30, using=postgres_db)
    result = api.dump(definitions=definitions, using=postgres_db)
    members = members_of(result.path)
    manifest = Manifest.from_bytes(members["manifest.json"])
    assert manifest.database == {"vendor": "postgresql", "alias": postgres_db}
    book_count = apps.get_model("library.Book").objects.using(postgres_db).count()
    assert manifest.data[1].models["library.Book"] == book_count


def test_definition_without_models_is_skipped(seeded, site, definitions):
    """A drain left with nothing would make dumpdata dump everything."""
    lines = []

    class Lines(Reporter):
        def info(self, message):
            lines.append(message)

    empty = Definition(name="rest", models=(), filename="rest.json", format="json")
    result = api.dump(
        definitions=[*definitions, empty], with_storages=False, reporter=Lines()
    )
    assert [d.name for d in result.data] == ["auth", "library"]
    assert "data/rest.json" not in members_of(result.path)
    assert "definition 'rest' selects no model: skipped" in lines
    plan = api.plan_dump(definitions=[*definitions, empty], with_storages=False)
    assert len(api.dumpdata_command_lines(plan)) == 2


def test_destination_inside_a_storage(seeded, site, definitions):
    """The archive being written and the work directory never go into the archive."""
    destination = site / "media" / "dumps"
    first = api.dump(
        definitions=definitions, destination=destination, filename="a.tar.gz"
    )
    names = set(members_of(first.path))
    assert not any(name.startswith("media/dumps") for name in names)
    manifest = Manifest.from_bytes(members_of(first.path)["manifest.json"])
    assert "dumps" not in manifest.storages[0].empty_directories
    assert manifest.storages[0].files == 2


@pytest.mark.django_db
def test_settings_an_argument_replaces_are_not_checked(site, definitions, settings):
    """--appconf/definitions replace DISKETTE_APPS: a broken one does not matter."""
    settings.DISKETTE_APPS = "auth"
    result = api.dump(definitions=definitions, with_storages=False)
    assert result.path.is_file()
    with pytest.raises(ConfigurationError, match="DISKETTE_APPS"):
        api.dump(with_storages=False)


class ModeWhileWriting(Reporter):
    """Record the mode of a fixture while the dumper is still writing it."""

    def __init__(self, path):
        self.path = path
        self.modes = []

    def progress(self, label, done, total=None, unit=""):
        if label.startswith("dumping"):
            self.modes.append(stat.S_IMODE(self.path.stat().st_mode))


@pytest.mark.parametrize("dump_command", ["", "dumpdata"])
def test_fixtures_are_private_from_their_first_byte(seeded, tmp_path, dump_command):
    """Fixtures hold password hashes: never readable by others, even half written."""
    from diskette.dumping.dumper import write_fixture

    path = tmp_path / "auth.json"
    item = definition("auth", ["auth.User"], dump_command=dump_command)
    reporter = ModeWhileWriting(path)
    fixture = write_fixture(item, path, reporter=reporter)
    assert fixture.objects == User.objects.count()
    assert b'"password": "md5$' in path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(reporter.modes) <= {0o600}
    assert reporter.modes or dump_command


class Warnings(Reporter):
    def __init__(self):
        self.warnings = []

    def warning(self, message):
        self.warnings.append(message)


def test_dump_names_what_killed_runs_left_in_the_destination(seeded, site, definitions):
    from diskette.owner import DUMP_PREFIX, Owned, hold_file

    destination = site.parent / "dumps"
    destination.mkdir(mode=0o700)
    dead = Owned.create(DUMP_PREFIX, destination)
    (dead.path / "auth.json").write_text("[]")
    dead.release(remove=False)  # its owner is gone, its lock file stays
    part = destination / ".diskette_data_storages.tar.gz.abcd1234.part"
    part.write_bytes(b"partial")
    live = Owned.create(DUMP_PREFIX, destination)
    live_part = destination / ".other.tar.gz.efgh5678.part"
    with open(live_part, "wb") as held:
        hold_file(held)
        reporter = Warnings()
        plan = api.plan_dump(definitions=definitions, reporter=reporter)
        plan.describe(reporter)
        assert reporter.warnings == []  # a check writes nothing and names nothing
        result = api.dump(definitions=definitions, reporter=reporter)
    live.release()
    (warning,) = [line for line in reporter.warnings if "diskette_recover" in line]
    assert f"{str(dead.path)!r} (dump work directory)" in warning
    assert f"{str(part)!r} (partial archive)" in warning
    assert str(live.path) not in warning
    assert str(live_part) not in warning
    assert warning in result.warnings
    assert dead.path.is_dir() and part.is_file()  # named, not removed


def test_leftovers_in_a_storage_are_not_archived(seeded, site, definitions):
    """A destination inside a storage: what a killed dump left is not archived."""
    from diskette.owner import DUMP_PREFIX, Owned

    destination = site / "media" / "dumps"
    destination.mkdir(mode=0o700)
    dead = Owned.create(DUMP_PREFIX, destination)
    (dead.path / "auth.json").write_text("[]")
    dead.release(remove=False)
    result = api.dump(
        definitions=definitions, destination=destination, filename="a.tar.gz"
    )
    assert not any("diskette-dump" in name for name in members_of(result.path))


def test_a_dump_warns_of_file_fields_whose_files_it_leaves_out(
    seeded, site, definitions, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "elsewhere")
    reporter = Warnings()
    plan = api.plan_dump(definitions=definitions, reporter=reporter)
    (warning,) = [line for line in reporter.warnings if "library.Book.cover" in line]
    assert "no storage of the dump holds" in warning
    assert warning in plan.warnings
