"""The loader: fixtures into the database in one transaction, like loaddata."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.contrib.sites.models import Site
from django.core import serializers
from django.core.management import call_command
from django.db.models.signals import post_save, pre_save

from diskette.exceptions import IntegrityLoadError, LoadError
from diskette.loader import Fixture, load_fixtures
from sandbox.library.models import Author, Book, Publisher

LIBRARY_DUMP = ["library", "auth.user", "auth.group", "sites"]


def write(path: Path, objects) -> Fixture:
    path.write_text(json.dumps(objects), encoding="utf-8")
    return Fixture(name=path.name, path=path)


def dumpdata(*labels: str, using: str = "default") -> list[dict]:
    """What ``dumpdata --natural-foreign`` gives, M2M lists sorted."""
    out = StringIO()
    call_command("dumpdata", *labels, natural_foreign=True, database=using, stdout=out)
    objects = json.loads(out.getvalue())
    for item in objects:
        for name, value in item["fields"].items():
            if isinstance(value, list) and value and isinstance(value[0], (list, int)):
                item["fields"][name] = sorted(value, key=json.dumps)
    return sorted(objects, key=lambda o: (o["model"], json.dumps(o["pk"])))


@pytest.mark.django_db(databases=["default", "postgres"])
def test_round_trip_of_every_library_shape_with_flush(db_alias, tmp_path):
    """dumpdata of the seeded site, loaded back after a flush, gives the same data."""
    from sandbox.library.seeding import seed_database

    seed_database(40, using=db_alias)
    before = dumpdata(*LIBRARY_DUMP, using=db_alias)
    assert {item["model"] for item in before} >= {
        "library.book",
        "library.author",
        "library.note",
        "library.ebook",
    }
    out = tmp_path / "all.json"
    call_command(
        "dumpdata",
        *LIBRARY_DUMP,
        natural_foreign=True,
        database=db_alias,
        output=str(out),
    )
    results = load_fixtures(
        [Fixture(name="all.json", path=out)], using=db_alias, flush=True
    )
    assert results[0].objects == len(before)
    assert dumpdata(*LIBRARY_DUMP, using=db_alias) == before
    # Sequences were reset: the next insert does not collide with loaded rows.
    Publisher.objects.using(db_alias).create(name="after the load")
    Group.objects.using(db_alias).create(name="after the load")


@pytest.mark.django_db
def test_forward_references_across_data_files(tmp_path):
    """A mentor named by natural key in a later data file, and FKs by pk before
    their target's file, load whatever the order."""
    authors = write(
        tmp_path / "authors.json",
        [
            {
                "model": "library.author",
                "pk": 1,
                "fields": {
                    "first_name": "Ada",
                    "last_name": "Pupil",
                    "mentor": ["Grace", "Mentor"],
                    "bio": "",
                },
            }
        ],
    )
    mentors = write(
        tmp_path / "mentors.json",
        [
            {
                "model": "library.author",
                "pk": 2,
                "fields": {
                    "first_name": "Grace",
                    "last_name": "Mentor",
                    "mentor": None,
                    "bio": "",
                },
            }
        ],
    )
    results = load_fixtures([authors, mentors])
    assert [r.objects for r in results] == [1, 1]
    assert Author.objects.get(pk=1).mentor == Author.objects.get(pk=2)


@pytest.mark.django_db
def test_signals_are_sent_raw(tmp_path):
    seen = []

    def record(sender, instance, raw, **kwargs):
        seen.append((sender, instance.pk, raw))

    pre_save.connect(record, sender=Site)
    try:
        load_fixtures([write(tmp_path / "s.json", [_site(11, "a.org")])])
    finally:
        pre_save.disconnect(record, sender=Site)
    assert seen == [(Site, 11, True)]


@pytest.mark.django_db
def test_existing_rows_are_merged_by_primary_key(tmp_path):
    Site.objects.create(pk=12, domain="old.org", name="old")
    load_fixtures([write(tmp_path / "s.json", [_site(12, "new.org")])])
    assert Site.objects.get(pk=12).domain == "new.org"


@pytest.mark.django_db
def test_flush_empties_tables_first(tmp_path):
    """As after ``manage.py flush``: tables emptied, post_migrate rows (the default
    site, content types, permissions) created again, then the data loaded."""
    Group.objects.create(name="doomed")
    Site.objects.create(pk=99, domain="doomed.org", name="doomed")
    load_fixtures([write(tmp_path / "s.json", [_site(13, "kept.org")])], flush=True)
    assert not Group.objects.exists()
    assert list(Site.objects.order_by("pk").values_list("pk", "domain")) == [
        (1, "example.com"),
        (13, "kept.org"),
    ]


@pytest.mark.django_db
def test_unknown_field_fails_unless_ignorenonexistent(tmp_path):
    objects = [
        {
            "model": "sites.site",
            "pk": 14,
            "fields": {"domain": "a.org", "name": "a", "gone": 1},
        }
    ]
    fixture = write(tmp_path / "s.json", objects)
    with pytest.raises(LoadError, match="s.json.*gone"):
        load_fixtures([fixture])
    assert not Site.objects.filter(pk=14).exists()
    load_fixtures([fixture], ignorenonexistent=True)
    assert Site.objects.get(pk=14).domain == "a.org"


@pytest.mark.django_db
def test_unknown_model_is_a_load_error(tmp_path):
    fixture = write(
        tmp_path / "x.json", [{"model": "library.nope", "pk": 1, "fields": {}}]
    )
    with pytest.raises(LoadError, match=r"x\.json.*library\.nope"):
        load_fixtures([fixture])


@pytest.mark.django_db
def test_unique_violation_names_the_object(tmp_path):
    objects = [
        {
            "model": "auth.group",
            "pk": 21,
            "fields": {"name": "twin", "permissions": []},
        },
        {
            "model": "auth.group",
            "pk": 22,
            "fields": {"name": "twin", "permissions": []},
        },
    ]
    with pytest.raises(IntegrityLoadError, match=r"g\.json.*auth\.Group\(pk=22\)"):
        load_fixtures([write(tmp_path / "g.json", objects)])
    assert not Group.objects.filter(name="twin").exists()


@pytest.mark.django_db
def test_foreign_key_violation_names_the_data_file(tmp_path):
    ok = write(tmp_path / "sites.json", [_site(15, "fine.org")])
    bad = write(
        tmp_path / "books.json",
        [
            {
                "model": "library.publisher",
                "pk": 1,
                "fields": {"name": "P"},
            },
            {
                "model": "library.author",
                "pk": 5,
                "fields": {
                    "first_name": "A",
                    "last_name": "B",
                    "mentor": 999,
                    "bio": "",
                },
            },
        ],
    )
    with pytest.raises(IntegrityLoadError, match="books.json") as caught:
        load_fixtures([ok, bad])
    assert "library_author" in str(caught.value)
    assert not Site.objects.filter(pk=15).exists()
    assert not Publisher.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_failure_mid_way_rolls_everything_back(tmp_path):
    """A receiver failing after some objects were saved: nothing stays, for real
    (no test transaction around the load)."""
    sites_before = list(Site.objects.values_list("pk", "domain"))
    first = write(
        tmp_path / "first.json", [_site(pk, f"s{pk}.org") for pk in (31, 32, 33)]
    )
    second = write(
        tmp_path / "second.json", [_site(pk, f"s{pk}.org") for pk in (34, 35)]
    )
    saved = []

    def explode(sender, instance, **kwargs):
        saved.append(instance.pk)
        if len(saved) == 4:
            raise RuntimeError("boom after three saved objects")

    post_save.connect(explode, sender=Site)
    try:
        with pytest.raises(
            LoadError, match=r"second\.json.*sites\.Site\(pk=34\).*boom"
        ) as caught:
            load_fixtures([first, second])
        assert isinstance(caught.value.__cause__, RuntimeError)
    finally:
        post_save.disconnect(explode, sender=Site)
    assert saved == [31, 32, 33, 34]
    assert list(Site.objects.values_list("pk", "domain")) == sites_before


@pytest.mark.django_db
def test_unsupported_format_is_refused(tmp_path):
    fixture = Fixture(name="a.csv", path=tmp_path / "a.csv", format="csv")
    with pytest.raises(LoadError, match="csv"):
        load_fixtures([fixture])


@pytest.mark.django_db
def test_jsonl_and_uuid_book_with_binary(tmp_path):
    """jsonl reads line by line; a UUID pk, binary, decimal and JSON fields survive."""
    from sandbox.library.seeding import seed_database

    seed_database(20)
    books = Book.objects.filter(pk__in=Book.objects.order_by("pk").values("pk")[:3])
    text = serializers.serialize("jsonl", books)
    (tmp_path / "b.jsonl").write_text(text, encoding="utf-8")
    books.update(title="changed", signature=b"\x00changed", metadata={"x": 1})
    results = load_fixtures(
        [Fixture(name="b.jsonl", path=tmp_path / "b.jsonl", format="jsonl")]
    )
    assert results[0].objects == 3
    assert serializers.serialize("jsonl", books) == text


def _site(pk: int, domain: str) -> dict:
    return {
        "model": "sites.site",
        "pk": pk,
        "fields": {"domain": domain, "name": domain},
    }
