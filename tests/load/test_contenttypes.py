"""Content type and permission ids mean the same model after a load as before.

The source's content types are renumbered first (as a site whose apps were
migrated in another order has them); its data then stores content type ids as
plain data (generic foreign keys dumped by id, an id inside a JSON field) and
permission ids (a group's permissions by id). After a load into the same
database renumbered differently, with and without ``flush``, every such id must
name the same model and permission as in the source.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from diskette import api, contenttypes
from diskette.contenttypes import Identities, align, identities_from_objects
from diskette.exceptions import LoadError, ManifestError
from diskette.manifest import Manifest
from sandbox.library.models import Author, Book, Note
from sandbox.library.seeding import seed_database
from tests.archives import make_archive, manifest_dict

#: Data written with ids, not natural keys: the ids must keep their meaning.
BY_ID = [
    ["auth", {"models": ["auth.Group", "auth.User"], "natural_foreign": False}],
    ["library", {"models": ["library"], "natural_foreign": False}],
]


def shuffle(using: str, seed: int) -> None:
    """Renumber the content types and permissions of ``using``, with every
    reference to them, in an order of its own (reversed, offset by ``seed``)."""
    types = list(
        ContentType.objects.using(using).order_by("pk").values_list("pk", flat=True)
    )
    perms = list(
        Permission.objects.using(using).order_by("pk").values_list("pk", flat=True)
    )
    start = max(types + perms) + 100 + seed
    with transaction.atomic(using=using):
        _shuffle(using, types, perms, start)
    ContentType.objects.clear_cache()


def _shuffle(using, types, perms, start) -> None:
    contenttypes._apply(
        ContentType,
        {pk: start + index for index, pk in enumerate(reversed(types))},
        using,
        set(contenttypes.connections[using].introspection.table_names()),
    )
    contenttypes._apply(
        Permission,
        {pk: start + index for index, pk in enumerate(reversed(perms))},
        using,
        set(contenttypes.connections[using].introspection.table_names()),
    )


def meaning(using: str) -> dict:
    """What the site's ids mean, by natural key."""
    names = {
        pk: (app_label, model)
        for pk, app_label, model in ContentType.objects.using(using).values_list(
            "pk", "app_label", "model"
        )
    }
    perms = {
        pk: (names[ct], codename)
        for pk, ct, codename in Permission.objects.using(using).values_list(
            "pk", "content_type_id", "codename"
        )
    }
    return {
        "notes": sorted(
            (note.pk, names[note.content_type_id], note.object_id)
            for note in Note.objects.using(using).all()
        ),
        "metadata": sorted(
            (book.pk, names.get(book.metadata.get("content_type")))
            for book in Book.objects.using(using).all()
        ),
        "groups": sorted(
            (
                group.name,
                sorted(
                    perms[pk] for pk in group.permissions.values_list("pk", flat=True)
                ),
            )
            for group in Group.objects.using(using).all()
        ),
    }


def prepare_source(using: str) -> dict:
    shuffle(using, seed=0)
    seed_database(40, using=using)
    author = ContentType.objects.db_manager(using).get_for_model(Author)
    Book.objects.using(using).update(metadata={"content_type": author.pk})
    editors = Group.objects.using(using).create(name="ct-editors")
    editors.permissions.set(
        Permission.objects.using(using).filter(
            codename__in=["change_book", "view_note"]
        )
    )
    source = meaning(using)
    assert source["notes"] and source["groups"]
    return source


@pytest.mark.parametrize("flush", [True, False], ids=["flush", "merge"])
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_ids_keep_their_meaning(tmp_path, db_alias, flush):
    source = prepare_source(db_alias)
    archive = api.dump(
        destination=tmp_path, definitions=BY_ID, with_storages=False, using=db_alias
    ).path
    recorded = Manifest.from_bytes(_manifest_bytes(archive))
    assert recorded.content_types and recorded.permissions

    shuffle(db_alias, seed=7)  # the target numbers them otherwise
    assert meaning(db_alias) != source  # the data now points at other models
    result = api.load(archive, using=db_alias, flush=flush, with_storages=False)

    assert meaning(db_alias) == source
    ids = dict(ContentType.objects.using(db_alias).values_list("pk", "model"))
    assert all(ids[pk] == model for pk, _app, model in recorded.content_types)
    assert result.objects > 0
    # New rows take ids after the aligned ones (sequences follow).
    ContentType.objects.using(db_alias).create(app_label="later", model="added")
    Permission.objects.using(db_alias).create(
        name="later",
        codename="later",
        content_type=ContentType.objects.using(db_alias).first(),
    )


@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_plan_says_what_moves_and_changes_nothing(tmp_path, db_alias):
    prepare_source(db_alias)
    archive = api.dump(
        destination=tmp_path, definitions=BY_ID, with_storages=False, using=db_alias
    ).path
    shuffle(db_alias, seed=3)
    before = sorted(ContentType.objects.using(db_alias).values_list("pk", "model"))
    plan = api.plan_load(archive, using=db_alias, with_storages=False)
    assert plan.exit_code == 0, plan.problems
    assert any("renumbered to the archive's ids" in note for note in plan.notes)
    assert (
        sorted(ContentType.objects.using(db_alias).values_list("pk", "model")) == before
    )


@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
@pytest.mark.slow
def test_rows_storing_ids_as_data_refuse_the_load(tmp_path, db_alias, monkeypatch):
    prepare_source(db_alias)
    archive = api.dump(
        destination=tmp_path, definitions=BY_ID, with_storages=False, using=db_alias
    ).path
    shuffle(db_alias, seed=5)
    before = meaning(db_alias), Book.objects.using(db_alias).count()
    # Notes stand for a model that stores content type ids where no foreign
    # key says so (reversion's versions, Wagtail's revisions).
    monkeypatch.setattr(contenttypes, "CONTENT_TYPE_DATA", ("library.Note",))
    with pytest.raises(LoadError, match=r"library\.Note row\(s\).*flush=True or"):
        api.load(archive, using=db_alias, with_storages=False)
    assert (meaning(db_alias), Book.objects.using(db_alias).count()) == before
    plan = api.plan_load(archive, using=db_alias, with_storages=False)
    assert plan.exit_code != 0
    assert any("library.Note" in problem.message for problem in plan.problems)
    api.load(archive, using=db_alias, with_storages=False, flush=True)  # the fix


@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_original_archive_aligned_from_its_own_fixtures(tmp_path, db_alias):
    """The original diskette records no content types: its contenttypes fixture
    (and permissions referring to content types by id) give them."""
    shuffle(db_alias, seed=0)
    source_types = list(
        ContentType.objects.using(db_alias).values("pk", "app_label", "model")
    )
    source_perms = list(
        Permission.objects.using(db_alias).values(
            "pk", "codename", "name", "content_type"
        )
    )
    book_ct = ContentType.objects.db_manager(db_alias).get_for_model(Book)
    objects = (
        [
            {
                "model": "contenttypes.contenttype",
                "pk": row["pk"],
                "fields": {"app_label": row["app_label"], "model": row["model"]},
            }
            for row in source_types
        ]
        + [
            {
                "model": "auth.permission",
                "pk": row["pk"],
                "fields": {
                    "codename": row["codename"],
                    "name": row["name"],
                    "content_type": row["content_type"],
                },
            }
            for row in source_perms
        ]
        + [
            {"model": "library.publisher", "pk": 900, "fields": {"name": "Old press"}},
        ]
    )
    archive = make_archive(
        tmp_path / "old.tar.gz", data={"everything.json": objects}, legacy=True
    )
    shuffle(db_alias, seed=11)
    api.load(archive, using=db_alias, with_storages=False)
    assert ContentType.objects.using(db_alias).get(pk=book_ct.pk).model == "book"
    assert sorted(
        ContentType.objects.using(db_alias).values_list("pk", "app_label", "model")
    ) == sorted((row["pk"], row["app_label"], row["model"]) for row in source_types)


def test_identities_from_objects_resolve_permissions_by_id_and_by_key():
    found = identities_from_objects(
        [
            {
                "model": "auth.permission",
                "pk": 4,
                "fields": {"codename": "x", "content_type": 2},
            },
            {
                "model": "auth.Permission",
                "pk": 5,
                "fields": {"codename": "y", "content_type": ["a", "b"]},
            },
            {
                "model": "contenttypes.ContentType",
                "pk": 2,
                "fields": {"app_label": "c", "model": "d"},
            },
            {"model": "auth.permission", "pk": True, "fields": {"codename": "z"}},
            "not an object",
        ]
    )
    assert found == Identities(
        content_types={2: ("c", "d")},
        permissions={4: ("c", "d", "x"), 5: ("a", "b", "y")},
    )


@pytest.mark.django_db
def test_nothing_recorded_moves_nothing():
    before = sorted(ContentType.objects.values_list("pk", "model"))
    assert align(Identities(), "default").summary() is None
    assert sorted(ContentType.objects.values_list("pk", "model")) == before


@pytest.mark.parametrize(
    "rows",
    [[[1, "auth"]], [["1", "auth", "user"]], [[1, "auth", "user", "extra"]]],
    ids=["short", "string-id", "long"],
)
def test_manifest_refuses_malformed_content_types(rows):
    payload = manifest_dict({}, {})
    payload["diskette"]["content_types"] = rows
    with pytest.raises(ManifestError, match="content_types"):
        Manifest.from_dict(payload)


def _manifest_bytes(archive) -> bytes:
    import tarfile

    with tarfile.open(archive) as tar:
        return tar.extractfile("manifest.json").read()


def test_identities_round_trip_through_the_manifest():
    payload = manifest_dict({}, {})
    payload["diskette"]["content_types"] = [[3, "auth", "user"]]
    payload["diskette"]["permissions"] = [[9, "auth", "user", "add_user"]]
    manifest = Manifest.from_dict(json.loads(json.dumps(payload)))
    assert Identities.from_manifest(manifest) == Identities(
        content_types={3: ("auth", "user")},
        permissions={9: ("auth", "user", "add_user")},
    )
    assert Manifest.from_dict(manifest.to_dict()) == manifest
