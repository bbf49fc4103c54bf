"""An anonymised dump of the seeded sandbox, end to end, on SQLite and PostgreSQL.

No original e-mail, name or password hash is left anywhere in the archive's
bytes (decompressed); the archive loads into a flushed database, which then
passes ``manage.py check``, keeps its unique constraints and resolves every
relation; and the fast path wrote the anonymised models.
"""

from __future__ import annotations

import json
import tarfile
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from diskette import api
from diskette.anonymise.planning import plan_anonymiser
from diskette.conf import get_settings
from diskette.definitions import load_definitions
from diskette.dumping.dumper import write_fixture
from diskette.manifest import Manifest
from sandbox.library.models import Author, Book, Review
from sandbox.library.seeding import seed_database

#: The sandbox's own rules on top of the ``share`` profile: authors are people.
RULES = {
    "profile": "share",
    "rules": {
        "library.Author.first_name": "first_name",
        "library.Author.last_name": "last_name",
        "library.Author.bio": "text",
    },
}
SALT = "a salt for the tests"
#: What the session and admin log rows hold, which the profile drops.
PRIVATE = {"secret session data", "changed a secret thing"}


@pytest.fixture
def anonymising(settings, tmp_path):
    settings.DISKETTE_ANONYMISE = RULES
    settings.DISKETTE_DUMP_PATH = str(tmp_path / "dumps")
    settings.DISKETTE_STORAGES = []
    return tmp_path


def personal_values(using: str) -> set[str]:
    """Every e-mail, name and password hash of the seeded people."""
    found: set[str] = set()
    for user in User.objects.using(using).all():
        found.update({user.email, user.first_name, user.last_name, user.password})
    for author in Author.objects.using(using).all():
        found.update({author.first_name, author.last_name})
    return {value for value in found if value}


def add_private_rows(using: str) -> None:
    Session.objects.using(using).create(
        session_key="k" * 32,
        session_data="secret session data",
        expire_date=timezone.now() + timedelta(days=1),
    )
    LogEntry.objects.using(using).create(
        user=User.objects.using(using).first(),
        content_type=ContentType.objects.db_manager(using).get_for_model(Book),
        object_repr="changed a secret thing",
        action_flag=2,
    )


def archive_bytes(path) -> bytes:
    """Every member's bytes, decompressed, one after the other."""
    with tarfile.open(path, "r:*") as tar:
        return b"".join(
            tar.extractfile(member).read()
            for member in tar.getmembers()
            if member.isfile()
        )


def relations_resolve(using: str) -> list[str]:
    """Foreign keys (M2M links included) whose row is missing: none expected."""
    broken = []
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            if not field.many_to_one and not field.one_to_one:
                continue
            target = field.remote_field.model
            values = target._base_manager.using(using).values(
                field.target_field.attname
            )
            dangling = (
                model._base_manager.using(using)
                .exclude(**{f"{field.attname}__isnull": True})
                .exclude(**{f"{field.attname}__in": values})
            )
            if dangling.exists():
                broken.append(f"{model._meta.label}.{field.name}")
    return broken


@pytest.mark.slow
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_anonymised_dump_leaves_no_personal_value(anonymising, db_alias):
    seed_database(60, using=db_alias)
    add_private_rows(db_alias)
    originals = personal_values(db_alias) | PRIVATE
    users = User.objects.using(db_alias).count()
    reviews = list(
        Review.objects.using(db_alias)
        .order_by("pk")
        .values_list("reviewer_id", flat=True)
    )
    authors_per_book = {
        book.pk: book.authors.count() for book in Book.objects.using(db_alias).all()
    }

    result = api.dump(
        using=db_alias, with_storages=False, anonymise=True, anonymise_salt=SALT
    )

    raw = archive_bytes(result.path)
    leaked = [
        value
        for value in originals
        if value.encode() in raw or json.dumps(value)[1:-1].encode() in raw
    ]
    assert leaked == []
    assert SALT.encode() not in raw
    with tarfile.open(result.path, "r:*") as tar:
        manifest = Manifest.from_bytes(tar.extractfile("manifest.json").read())
        fixtures = {
            m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()
        }
    assert manifest.anonymised["profile"] == "share"
    assert api.inspect(result.path).anonymised == manifest.anonymised
    assert len(manifest.anonymised["rules"]) == 64
    labels = {label for item in manifest.data for label in item.models}
    assert not labels & {"sessions.Session", "admin.LogEntry"}
    # The same e-mail became the same fake everywhere: one per user here.
    (path,) = [d.path for d in manifest.data if d.definition == "django.contrib.auth"]
    auth = json.loads(fixtures[path])
    faked = [o["fields"] for o in auth if o["model"] == "auth.user"]
    assert len({f["email"] for f in faked}) == users
    assert all(f["email"].endswith("@example.invalid") for f in faked)
    assert not any(is_password_usable(f["password"]) for f in faked)

    api.load(result.path, using=db_alias, flush=True, storages_basepath=anonymising)

    call_command("check", databases=[db_alias])
    assert User.objects.using(db_alias).count() == users
    assert personal_values(db_alias) & originals == set()
    assert relations_resolve(db_alias) == []
    # Natural keys to faked usernames and author names still link the rows.
    assert (
        list(
            Review.objects.using(db_alias)
            .order_by("pk")
            .values_list("reviewer_id", flat=True)
        )
        == reviews
    )
    assert {
        book.pk: book.authors.count() for book in Book.objects.using(db_alias).all()
    } == authors_per_book
    names = list(Author.objects.using(db_alias).values_list("first_name", "last_name"))
    assert len(set(names)) == len(names) == Author.objects.using(db_alias).count()


@pytest.mark.django_db(databases=["default", "postgres"])
def test_anonymised_models_take_the_fast_path(anonymising, db_alias):
    seed_database(30, using=db_alias)
    definitions = load_definitions()
    anonymiser, kept = plan_anonymiser(True, SALT, definitions, get_settings())
    by_name = {d.name: d for d in kept}
    results = [
        write_fixture(
            by_name[name],
            anonymising / f"{name}.json",
            using=db_alias,
            anonymiser=anonymiser,
        )
        for name in ("django.contrib.auth", "library")
    ]
    assert "auth.User" in results[0].from_rows
    assert "library.Author" in results[1].from_rows
    text = results[0].path.read_text()
    assert "@example.org" not in text and "@example.invalid" in text


@pytest.mark.django_db(databases=["default", "postgres"])
def test_fakes_hold_for_one_salt_and_differ_between_salts(anonymising, db_alias):
    seed_database(30, using=db_alias)

    def auth_fixture(salt: str) -> bytes:
        anonymiser, kept = plan_anonymiser(
            True, salt, load_definitions(), get_settings()
        )
        (auth,) = [d for d in kept if d.name == "django.contrib.auth"]
        path = anonymising / f"auth-{len(list(anonymising.iterdir()))}.json"
        write_fixture(auth, path, using=db_alias, anonymiser=anonymiser)
        return path.read_bytes()

    first = auth_fixture("one")
    assert auth_fixture("one") == first
    assert auth_fixture("two") != first


@pytest.mark.django_db
def test_instance_path_gets_the_same_fakes(anonymising):
    """``xml`` is written from instances: the same fakes as ``json``'s rows."""
    seed_database(30)
    definitions = load_definitions()
    anonymiser, kept = plan_anonymiser(True, SALT, definitions, get_settings())
    (auth,) = [d for d in kept if d.name == "django.contrib.auth"]
    import dataclasses

    as_xml = dataclasses.replace(auth, format="xml", filename="auth.xml")
    rows = write_fixture(auth, anonymising / "auth.json", anonymiser=anonymiser)
    instances = write_fixture(as_xml, anonymising / "auth.xml", anonymiser=anonymiser)
    assert "auth.User" in rows.from_rows and instances.from_rows == []
    emails = {
        o["fields"]["email"]
        for o in json.loads((anonymising / "auth.json").read_text())
        if o["model"] == "auth.user"
    }
    xml = (anonymising / "auth.xml").read_text()
    assert emails and all(email in xml for email in emails)
    assert "@example.org" not in xml
