"""The plan, the load and inspect read the same truth: the fixtures' objects.

A manifest whose checksums are right but whose object counts are not what its
fixtures hold (here: 10 users recorded, 11 in the fixture, the extra one a
superuser) is refused as a manifest error by ``--plan``, by the load (inside its
transaction: every row stays as it was) and by ``diskette_inspect --verify``.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sites.models import Site
from django.core.management import CommandError, call_command

from diskette import api
from diskette.exceptions import LoadError, ManifestError
from diskette.loading.loader import Fixture, load_fixtures
from diskette.manifest import DataFile, check_counts, model_label
from tests.archives import make_archive, sites, snapshot

pytestmark = pytest.mark.django_db
HASH = "pbkdf2_sha256$600000$salt$" + "A" * 43


def user(pk: int, *, superuser: bool = False) -> dict:
    return {
        "model": "auth.user",
        "pk": pk,
        "fields": {
            "password": HASH,
            "last_login": None,
            "is_superuser": superuser,
            "username": f"intruder{pk}" if superuser else f"user{pk}",
            "first_name": "",
            "last_name": "",
            "email": "",
            "is_staff": superuser,
            "is_active": True,
            "date_joined": "2026-01-01T00:00:00Z",
            "groups": [],
            "user_permissions": [],
        },
    }


USERS = [user(pk) for pk in range(501, 511)] + [user(511, superuser=True)]


def says(models: dict[str, int], objects: int, path: str = "data/users.json"):
    """A manifest tamper: the entry of ``path`` records ``models`` and ``objects``
    (the members' checksums stay right)."""

    def tamper(payload):
        for item in payload["diskette"]["data"]:
            if item["path"] == path:
                item["models"], item["objects"] = models, objects

    return tamper


def undercounting(path: Path, **data) -> Path:
    """The finding's archive: 11 users in the fixture, 10 in the manifest."""
    return make_archive(
        path,
        data={**data, "users.json": USERS},
        storages={"media": {"new.txt": b"archived"}},
        tamper=says({"auth.User": 10}, 10),
    )


def rows() -> dict[str, list[dict]]:
    """Every row the archives could touch, field by field."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in (User, Group, Permission, ContentType, Site)
    }


@pytest.fixture
def site(tmp_path):
    """A storages base path with a media directory, and a user of the target's."""
    (tmp_path / "site" / "media").mkdir(parents=True)
    (tmp_path / "site" / "media" / "kept.txt").write_bytes(b"before")
    User.objects.create_user("resident", password="x")  # noqa: S106
    return tmp_path


def test_the_plan_refuses_a_manifest_that_hides_a_superuser(site):
    path = undercounting(site / "a.tar.gz")
    before, files = rows(), snapshot(site)

    with pytest.raises(ManifestError) as caught:
        api.plan_load(path, storages_basepath=site / "site")

    message = str(caught.value)
    assert caught.value.exit_code == 12
    assert "'data/users.json' holds 11 objects of auth.User" in message
    assert "the manifest says 10" in message and "\n" not in message
    assert rows() == before and snapshot(site) == files


def test_the_plan_command_exits_12(site):
    path = undercounting(site / "a.tar.gz")
    with pytest.raises(CommandError) as caught:
        call_command(
            "diskette_load",
            str(path),
            "--plan",
            "--storages-basepath",
            str(site / "site"),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert caught.value.returncode == 12
    assert "holds 11 objects of auth.User" in str(caught.value)


def test_the_load_refuses_it_before_the_commit_and_changes_nothing(site):
    path = undercounting(site / "a.tar.gz", **{"sites.json": sites((7, "seven"))})
    before, files = rows(), snapshot(site)

    with pytest.raises(ManifestError) as caught:
        api.load(path, storages_basepath=site / "site")

    message = str(caught.value)
    assert "'data/users.json' holds 11 objects of auth.User, the manifest says 10" in (
        message
    )
    assert message.endswith("the database is unchanged")
    assert rows() == before  # the sites fixture before it was rolled back too
    assert not User.objects.filter(is_superuser=True).exists()
    assert snapshot(site) == files


def test_inspect_shows_the_manifest_and_verify_refuses_with_12(tmp_path):
    path = undercounting(tmp_path / "a.tar.gz")

    result = api.inspect(path)
    (data,) = result.data
    assert (data.models, data.objects) == ({"auth.User": 10}, 10)
    assert not result.ok and result.checksums == "failed"
    assert "holds 11 objects of auth.User, the manifest says 10" in result.problems[0]
    assert isinstance(result.error(), ManifestError)

    with pytest.raises(CommandError) as caught:
        call_command(
            "diskette_inspect",
            str(path),
            "--verify",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert caught.value.returncode == 12
    assert "does not verify: data file 'data/users.json' holds 11" in str(caught.value)


def test_an_honest_archive_plans_and_loads_its_fixture_counts(site):
    path = make_archive(
        site / "a.tar.gz",
        data={"users.json": USERS},
        tamper=says({"auth.User": 11, "auth.Group": 0}, 11),
    )
    plan = api.plan_load(path, storages_basepath=site / "site")
    assert plan.exit_code == 0, plan.problems
    assert [(m.model, m.objects) for m in plan.models] == [("auth.User", 11)]
    assert api.inspect(path).ok
    result = api.load(path, storages_basepath=site / "site")
    assert result.objects == 11


def test_an_excluded_data_file_is_not_compared(site):
    path = undercounting(site / "a.tar.gz", **{"sites.json": sites((7, "seven"))})
    plan = api.plan_load(path, storages_basepath=site / "site", exclude_data=["users"])
    assert plan.exit_code == 0, plan.problems
    result = api.load(path, storages_basepath=site / "site", exclude_data=["users"])
    assert result.objects == 1 and not User.objects.filter(pk__gt=500).exists()


GONE = {"model": "gone.relic", "pk": 1, "fields": {"name": "old"}}


def test_ignorenonexistent_compares_what_the_file_holds(site):
    honest = make_archive(
        site / "honest.tar.gz",
        data={"users.json": [*USERS[:2], GONE]},
        tamper=says({"auth.User": 2, "gone.Relic": 1}, 3),
    )
    options = {"storages_basepath": site / "site", "ignorenonexistent": True}
    assert api.plan_load(honest, **options).exit_code == 0
    assert api.load(honest, **options).objects == 2  # the relic is skipped

    hiding = make_archive(
        site / "hiding.tar.gz",
        data={"users.json": [*USERS[:2], GONE]},
        tamper=says({"auth.User": 2}, 2),
    )
    before = rows()
    with pytest.raises(ManifestError, match="holds 1 object of gone.relic"):
        api.plan_load(hiding, **options)
    with pytest.raises(ManifestError, match="holds 1 object of gone.relic"):
        api.load(hiding, **options)
    assert rows() == before


def test_the_original_diskettes_archives_record_no_counts(site):
    path = make_archive(site / "old.tar.gz", data={"users.json": USERS}, legacy=True)
    plan = api.plan_load(path, storages_basepath=site / "site")
    assert plan.exit_code == 0, plan.problems
    assert [(m.model, m.objects) for m in plan.models] == [("auth.User", 11)]
    assert api.load(path, with_storages=False).objects == 11


# ---- the loader and the comparison ---------------------------------------------


def test_the_loader_counts_xml_as_it_deserializes(tmp_path):
    xml = tmp_path / "sites.xml"
    call_command("dumpdata", "sites", format="xml", output=str(xml), verbosity=0)
    fixture = Fixture(name="sites.xml", path=xml, format="xml")
    Site.objects.all().delete()
    before = rows()
    lying = DataFile(path="data/sites.xml", format="xml", models={}, objects=0)
    with pytest.raises(ManifestError, match="holds 1 object of sites.Site"):
        load_fixtures([fixture], expected=[lying])
    assert rows() == before
    honest = DataFile(path="data/sites.xml", format="xml", models={"sites.Site": 1})
    (result,) = load_fixtures([fixture], expected=[honest])
    assert result.objects == 1


def test_a_fixture_that_does_not_read_is_a_load_error_not_a_count(tmp_path):
    path = tmp_path / "users.json"
    path.write_bytes(b'[{"model": "auth.user", "pk": 1, "fields": {}}, ')
    expected = DataFile(path="data/users.json", models={"auth.User": 5}, objects=5)
    with pytest.raises(LoadError):
        load_fixtures([Fixture(name="users.json", path=path)], expected=[expected])


def test_check_counts_compares_labels_one_way():
    entry = DataFile(path="data/a.json", models={"auth.Permission": 2}, objects=2)
    check_counts(entry, {"auth.permission": 2})
    assert model_label("auth.Permission") == model_label("auth.permission")
    assert model_label("auth.permission") == "auth.Permission"
    with pytest.raises(ManifestError, match="holds 0 objects of auth.Permission"):
        check_counts(entry, {})
    check_counts(DataFile(path="data/old.json"), {"auth.user": 11})  # legacy
    total = DataFile(path="data/a.json", models={"auth.Permission": 2}, objects=3)
    with pytest.raises(ManifestError, match="holds 2 objects, the manifest says 3"):
        check_counts(total, {"auth.permission": 2})
    # Deserialized counts miss skipped models: only those it accepts compare.
    partial = DataFile(path="data/a.xml", models={"gone.relic": 1}, objects=1)
    check_counts(partial, {}, comparable=lambda key: key != "gone.relic")


def test_labels_of_models_not_installed_stay_as_written_and_compare_in_any_case():
    """A model this project lacks has no registry entry to name it: its label is
    shown as written, and the manifest's ``gone.Relic`` still counts the
    fixture's ``gone.relic``."""
    assert model_label("gone.relic") == "gone.relic"
    assert model_label("Auth.permission") == "Auth.permission"  # app labels are exact
    assert model_label(None) == model_label(["auth.user"]) == "(no model label)"
    entry = DataFile(path="data/a.json", models={"gone.Relic": 2}, objects=2)
    check_counts(entry, {"gone.relic": 2})
    with pytest.raises(ManifestError, match="holds 1 object of gone.Relic, the"):
        check_counts(entry, {"gone.relic": 1})
