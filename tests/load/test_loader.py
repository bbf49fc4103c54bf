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
from django.core.serializers.base import DeserializationError
from django.db import connection
from django.db.models.signals import post_save, pre_save

from diskette.exceptions import IntegrityLoadError, LoadError
from diskette.loading.loader import Fixture, load_fixtures
from diskette.reporter import Reporter
from sandbox.library.models import Author, Book, Publisher

LIBRARY_DUMP = ["library", "auth.user", "auth.group", "sites"]


@pytest.fixture(autouse=True)
def forget_content_types():
    """A flush inside a test creates content types that the test's rollback
    removes: later tests must not find them in Django's cache."""
    yield
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


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
    assert (
        "library.Author(pk=5) refers by its field 'mentor' to library.Author(pk=999)"
        in str(caught.value)
    )
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


# ---- the batched saver gives what loaddata gives ---------------------------------

#: Apps whose every table (auto-created many-to-many ones included) is compared.
COMPARED_APPS = ("library", "auth", "sites", "contenttypes")


def database_state(using: str) -> dict:
    """Every row of every compared table (ids of link tables included), and the
    sequences: what a load must leave exactly as loaddata leaves it."""
    from django.apps import apps
    from django.db import connections

    connection = connections[using]
    state: dict = {}
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            meta = model._meta
            if meta.app_label not in COMPARED_APPS or meta.proxy or not meta.managed:
                continue
            table = connection.ops.quote_name(meta.db_table)
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
            rows = [
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in cursor.fetchall()
            ]
            state[meta.db_table] = sorted(rows, key=repr)
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT sequencename, last_value FROM pg_sequences "
                "WHERE schemaname = current_schema() ORDER BY sequencename"
            )
        else:
            cursor.execute("SELECT name, seq FROM sqlite_sequence ORDER BY name")
        state["sequences"] = cursor.fetchall()
    return state


def dump_fixtures(tmp_path: Path, using: str) -> list[Fixture]:
    """The seeded site as dumpdata writes it: permissions with natural primary
    keys, users and groups, sites and the library with natural foreign keys."""
    fixtures = []
    for name, labels, natural_primary in (
        ("permissions.json", ["auth.permission"], True),
        ("auth.json", ["auth.group", "auth.user"], False),
        ("sites.json", ["sites"], False),
        ("library.json", ["library"], False),
    ):
        path = tmp_path / name
        call_command(
            "dumpdata",
            *labels,
            natural_foreign=True,
            natural_primary=natural_primary,
            database=using,
            output=str(path),
        )
        fixtures.append(Fixture(name=name, path=path))
    return fixtures


def loaddata_state(fixtures: list[Fixture], using: str) -> dict:
    """The database after ``flush`` and plain ``loaddata`` of ``fixtures``."""
    from diskette.loading.loader import flush_database

    flush_database(using)
    call_command(
        "loaddata", *[str(f.path) for f in fixtures], database=using, verbosity=0
    )
    return database_state(using)


class Detail(Reporter):
    def __init__(self):
        self.details: list[str] = []

    def detail(self, message: str) -> None:
        self.details.append(message)


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.slow
def test_batched_load_gives_what_loaddata_gives(db_alias, tmp_path):
    """Every sandbox model shape, auth users, groups and permissions with natural
    keys: same rows, same link rows (ids too), same sequences as loaddata."""
    from sandbox.library.seeding import seed_database

    seed_database(60, using=db_alias)
    fixtures = dump_fixtures(tmp_path, db_alias)
    expected = loaddata_state(fixtures, db_alias)
    assert expected["library_book_authors"] and expected["library_ebook"]

    reporter = Detail()
    load_fixtures(fixtures, using=db_alias, flush=True, reporter=reporter)
    assert database_state(db_alias) == expected
    # The fast path was taken where it can be, the exact one elsewhere, said so.
    assert "library.Book: batched inserts" in reporter.details
    assert "auth.User: batched inserts" in reporter.details
    assert "library.EBook: batched inserts" in reporter.details
    assert (
        "auth.Permission: exact loaddata path (its table already holds rows)"
        in reporter.details
    )
    # The next insert does not collide with loaded rows (sequences reset).
    Publisher.objects.using(db_alias).create(name="after the load")
    Author.objects.using(db_alias).create(first_name="After", last_name="Load")
    Group.objects.using(db_alias).create(name="after the load")


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize(
    "options",
    [{"exact": True}, {"signals": False}, {"exact": True, "signals": False}],
)
@pytest.mark.slow
def test_exact_and_silent_loads_give_what_loaddata_gives(db_alias, tmp_path, options):
    from sandbox.library.seeding import seed_database

    seed_database(30, using=db_alias)
    fixtures = dump_fixtures(tmp_path, db_alias)
    expected = loaddata_state(fixtures, db_alias)
    load_fixtures(fixtures, using=db_alias, flush=True, **options)
    assert database_state(db_alias) == expected


class SignalLog:
    """Records pre_save, post_save and m2m_changed of the library and auth."""

    def __init__(self):
        self.events: list[tuple] = []

    def saved(self, signal_name):
        def receiver(sender, instance, raw, created=None, **kwargs):
            self.events.append(
                (signal_name, sender._meta.label, str(instance.pk), raw, created)
            )

        return receiver

    def m2m(self, sender, instance, action, reverse, model, pk_set, **kwargs):
        self.events.append(
            (
                action,
                sender._meta.label,
                str(instance.pk),
                reverse,
                model._meta.label,
                tuple(sorted(map(str, pk_set or ()))),
            )
        )

    def __enter__(self):
        from django.db.models.signals import m2m_changed

        self.pre = self.saved("pre_save")
        self.post = self.saved("post_save")
        for model in (Author, Book, Group):
            pre_save.connect(self.pre, sender=model)
            post_save.connect(self.post, sender=model)
        m2m_changed.connect(self.m2m, sender=Book.authors.through)
        m2m_changed.connect(self.m2m, sender=Group.permissions.through)
        return self

    def __exit__(self, *exc):
        from django.db.models.signals import m2m_changed

        for model in (Author, Book, Group):
            pre_save.disconnect(self.pre, sender=model)
            post_save.disconnect(self.post, sender=model)
        m2m_changed.disconnect(self.m2m, sender=Book.authors.through)
        m2m_changed.disconnect(self.m2m, sender=Group.permissions.through)


@pytest.mark.django_db
@pytest.mark.slow
def test_signals_are_sent_as_loaddata_sends_them(tmp_path):
    """pre_save/post_save (raw, created) and m2m_changed (pre_add/post_add with
    the linked ids) for each object, batched or not; none with signals=False."""
    from diskette.loading.loader import flush_database
    from sandbox.library.seeding import seed_database

    seed_database(30)
    fixtures = dump_fixtures(tmp_path, "default")
    flush_database("default")
    with SignalLog() as loaddata_log:
        call_command("loaddata", *[str(f.path) for f in fixtures], verbosity=0)
    expected = database_state("default")
    assert {e[0] for e in loaddata_log.events} == {
        "pre_save",
        "post_save",
        "pre_add",
        "post_add",
    }
    assert all(e[3] is True for e in loaddata_log.events if e[0].endswith("save"))

    with SignalLog() as ours:
        load_fixtures(fixtures, flush=True)
    assert sorted(ours.events) == sorted(loaddata_log.events)
    assert database_state("default") == expected

    with SignalLog() as silent:
        load_fixtures(fixtures, flush=True, signals=False)
    assert silent.events == []
    assert database_state("default") == expected


@pytest.mark.django_db
def test_receivers_see_what_loaddata_shows_them(tmp_path):
    """A post_save receiver reading other rows finds them, batched or not."""
    from sandbox.library.seeding import seed_database

    seed_database(30)
    fixtures = dump_fixtures(tmp_path, "default")
    counts = []

    def count_publishers(sender, instance, **kwargs):
        counts.append(Publisher.objects.filter(pk=instance.publisher_id).count())

    post_save.connect(count_publishers, sender=Book)
    try:
        load_fixtures(fixtures, flush=True)
    finally:
        post_save.disconnect(count_publishers, sender=Book)
    assert counts and set(counts) == {1}


def _authors(*rows) -> list[dict]:
    return [
        {
            "model": "library.author",
            "pk": pk,
            "fields": {"first_name": first, "last_name": last, "mentor": mentor},
        }
        for pk, first, last, mentor in rows
    ]


@pytest.mark.django_db(databases=["default", "postgres"])
def test_same_primary_key_twice_across_fixtures(db_alias, tmp_path):
    """The second data file's batch collides: rolled back alone and saved
    object by object, the later object wins, as with loaddata."""
    first = write(
        tmp_path / "first.json",
        _authors((1, "Ada", "One", None), (2, "Bea", "Two", ["Ada", "One"])),
    )
    second = write(
        tmp_path / "second.json",
        _authors((3, "Cy", "Three", None), (2, "Bea", "Again", ["Cy", "Three"])),
    )
    fixtures = [first, second]
    expected = loaddata_state(fixtures, db_alias)
    load_fixtures(fixtures, using=db_alias, flush=True)
    assert database_state(db_alias) == expected
    assert Author.objects.using(db_alias).get(pk=2).last_name == "Again"


@pytest.mark.django_db(databases=["default", "postgres"])
def test_table_with_rows_takes_the_exact_path(db_alias, tmp_path):
    """Rows already there are merged by primary key, exactly as loaddata does."""
    from diskette.loading.loader import flush_database

    fixture = write(
        tmp_path / "authors.json",
        _authors((1, "Ada", "New", None), (5, "Eve", "Five", ["Ada", "New"])),
    )

    def existing():
        flush_database(db_alias)
        Author.objects.using(db_alias).create(pk=1, first_name="Ada", last_name="Old")
        Author.objects.using(db_alias).create(pk=9, first_name="Kept", last_name="K")

    existing()
    call_command("loaddata", str(fixture.path), database=db_alias, verbosity=0)
    expected = database_state(db_alias)
    existing()
    reporter = Detail()
    load_fixtures([fixture], using=db_alias, reporter=reporter)
    assert database_state(db_alias) == expected
    assert (
        "library.Author: exact loaddata path (its table already holds rows)"
        in reporter.details
    )


@pytest.mark.django_db(databases=["default", "postgres"])
def test_multi_table_inheritance_child_is_batched_as_loaddata_saves_it(
    db_alias, tmp_path
):
    """A raw save of a child inserts its own table only (the parent row is its
    own fixture object): batched, the same rows."""
    from sandbox.library.seeding import seed_database

    seed_database(30, using=db_alias)
    path = tmp_path / "books.json"
    call_command(
        "dumpdata",
        "library.publisher",
        "library.book",
        "library.ebook",
        "library.author",
        "library.tag",
        natural_foreign=True,
        database=db_alias,
        output=str(path),
    )
    fixtures = [Fixture(name="books.json", path=path)]
    expected = loaddata_state(fixtures, db_alias)
    assert expected["library_ebook"]
    reporter = Detail()
    load_fixtures(fixtures, using=db_alias, flush=True, reporter=reporter)
    assert database_state(db_alias) == expected
    assert "library.EBook: batched inserts" in reporter.details


@pytest.mark.django_db
def test_multi_table_inheritance_child_signals_as_loaddata_sends_them(tmp_path):
    """Receivers of a batched child get pre_save/post_save raw, once per child
    (none for its parent, saved as its own object), as with loaddata."""
    from sandbox.library.models import EBook
    from sandbox.library.seeding import seed_database

    seed_database(30)
    fixtures = dump_fixtures(tmp_path, "default")
    events = []

    def receiver(signal_name):
        def record(sender, instance, raw, created=None, **kwargs):
            ebook = EBook.objects.filter(pk=instance.pk).values_list("file_format")
            events.append(
                (signal_name, sender._meta.label, instance.pk, raw, created)
                + ((list(ebook),) if signal_name == "post_save" else ())
            )

        return record

    pre, post = receiver("pre_save"), receiver("post_save")
    pre_save.connect(pre, sender=EBook)
    post_save.connect(post, sender=EBook)
    try:
        expected = loaddata_state(fixtures, "default")
        loaddata_events, events[:] = sorted(events), []
        reporter = Detail()
        load_fixtures(fixtures, flush=True, reporter=reporter)
    finally:
        pre_save.disconnect(pre, sender=EBook)
        post_save.disconnect(post, sender=EBook)
    assert loaddata_events and {e[1] for e in loaddata_events} == {"library.EBook"}
    assert sorted(events) == loaddata_events
    assert database_state("default") == expected
    assert "library.EBook: batched inserts" in reporter.details


def _forward_authors(count: int) -> list[dict]:
    """Authors each mentored by the next one (a forward reference)."""
    return _authors(
        *(
            (n, "F", f"n{n}", ["F", f"n{n + 1}"] if n < count else None)
            for n in range(1, count + 1)
        )
    )


@pytest.mark.django_db(databases=["default", "postgres"])
def test_forward_references_finished_in_batches_as_loaddata(
    db_alias, tmp_path, monkeypatch
):
    """Forward references finished by batched UPDATEs give loaddata's rows, in
    several batches, with a row met twice (the last save wins)."""
    import diskette.loading.sql

    monkeypatch.setattr(diskette.loading.sql, "BATCH_SIZE", 3)
    first = write(tmp_path / "first.json", _forward_authors(10))
    # Author 4 again, with another forward reference: its second deferred save
    # must come after its first.
    second = write(
        tmp_path / "second.json",
        _authors((4, "F", "n4", ["G", "later"]), (20, "G", "later", None)),
    )
    fixtures = [first, second]
    expected = loaddata_state(fixtures, db_alias)
    load_fixtures(fixtures, using=db_alias, flush=True)
    assert database_state(db_alias) == expected
    authors = Author.objects.using(db_alias)
    assert authors.get(pk=4).mentor_id == 20
    assert authors.get(pk=9).mentor_id == 10


@pytest.mark.django_db
def test_forward_reference_to_nothing_names_the_object(tmp_path):
    fixture = write(tmp_path / "a.json", _forward_authors(3)[:2])
    with pytest.raises(
        LoadError, match=r"a\.json.*library\.Author\(pk=2\) refers to an object"
    ):
        load_fixtures([fixture])
    assert not Author.objects.exists()


@pytest.mark.django_db
def test_exact_models_take_the_exact_path(tmp_path):
    fixture = write(tmp_path / "a.json", _authors((1, "Ada", "One", None)))
    reporter = Detail()
    load_fixtures([fixture], reporter=reporter, exact=["library.author"])
    assert "library.Author: exact loaddata path (asked for)" in reporter.details
    assert Author.objects.get(pk=1).last_name == "One"


@pytest.mark.django_db
def test_duplicate_unique_value_in_a_batch_names_the_object(tmp_path):
    """A batch that breaks a unique constraint is saved again object by object:
    the error names the object loaddata would stop at."""
    fixture = write(
        tmp_path / "a.json",
        _authors((1, "Ada", "Twin", None), (2, "Ada", "Twin", None)),
    )
    with pytest.raises(IntegrityLoadError, match=r"a\.json.*library\.Author\(pk=2\)"):
        load_fixtures([fixture])
    assert not Author.objects.exists()


@pytest.mark.django_db(databases=["default", "postgres"])
def test_a_renamed_object_is_not_found_under_its_old_natural_key(db_alias, tmp_path):
    """The same primary key again under another natural key: a reference to the
    old key fails, as with loaddata (the row no longer has it)."""
    known = [(10 + n, "M", name, None) for n, name in enumerate("ABCD")]
    pupils = [(20 + n, "P", name, ["M", name]) for n, name in enumerate("ABCD")]
    first = write(
        tmp_path / "first.json",
        _authors(*known, (2, "Bea", "Two", None), *pupils),
    )
    second = write(
        tmp_path / "second.json",
        _authors((2, "Bea", "Again", None), (3, "Cy", "Three", ["Bea", "Two"])),
    )
    with pytest.raises(DeserializationError):
        call_command(
            "loaddata",
            str(first.path),
            str(second.path),
            database=db_alias,
            verbosity=0,
        )
    with pytest.raises(LoadError, match=r"second\.json.*library\.Author\(pk=3\)"):
        load_fixtures([first, second], using=db_alias)
    assert not Author.objects.using(db_alias).exists()


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.slow
def test_memory_bounds_give_the_same_result(db_alias, tmp_path, monkeypatch):
    """Forward references pickled to disk, natural keys pushed out of memory:
    still what loaddata gives."""
    from diskette.loading import natural_keys
    from diskette.loading.loader import DeferredObjects
    from sandbox.library.seeding import seed_database

    monkeypatch.setattr(DeferredObjects, "IN_MEMORY", 1)
    monkeypatch.setattr(natural_keys, "NATURAL_KEY_CACHE_SIZE", 4)
    seed_database(60, using=db_alias)
    dumped = dump_fixtures(tmp_path, db_alias)
    # Mentors after their pupils: forward references to defer.
    library = json.loads(dumped[-1].path.read_text(encoding="utf-8"))
    authors = iter(reversed([o for o in library if o["model"] == "library.author"]))
    library = [next(authors) if o["model"] == "library.author" else o for o in library]
    dumped[-1].path.write_text(json.dumps(library), encoding="utf-8")
    expected = loaddata_state(dumped, db_alias)
    load_fixtures(dumped, using=db_alias, flush=True)
    assert database_state(db_alias) == expected


@pytest.mark.django_db(transaction=True)
def test_a_table_missing_from_the_database_is_a_load_error(tmp_path):
    """A schema behind the data (here a dropped table) gives one line, not a
    traceback, and the database is as before."""
    fixture = write(tmp_path / "sites.json", [_site(41, "s41.org")])
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE django_site RENAME TO django_site_elsewhere")
    try:
        with pytest.raises(LoadError, match="does not fit the data.*migrate"):
            load_fixtures([fixture])
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE django_site_elsewhere RENAME TO django_site")
    assert not Site.objects.filter(pk=41).exists()


# ---- errors of class 21 name the object, what it collides with or misses, the fix


def _rotated_permissions(using: str) -> list[dict]:
    """The target's permissions as a source with other ids dumped them: each
    one's row under the next one's primary key."""
    from django.contrib.auth.models import Permission

    rows = list(
        Permission.objects.using(using)
        .order_by("pk")
        .values_list("pk", "codename", "name", "content_type")
    )
    pks = [row[0] for row in rows]
    return [
        {
            "model": "auth.permission",
            "pk": pks[(n + 1) % len(pks)],
            "fields": {"codename": codename, "name": name, "content_type": ct},
        }
        for n, (_pk, codename, name, ct) in enumerate(rows)
    ]


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("flush", [False, True])
def test_a_collision_with_rows_the_target_made_says_what_to_do(
    db_alias, tmp_path, flush
):
    """A fresh site's permissions, made by migrate (and by flush), against an
    archive's under other ids."""
    from django.contrib.auth.models import Permission

    objects = _rotated_permissions(db_alias)
    first = objects[0]
    fixture = write(tmp_path / "auth.json", objects)
    before = list(Permission.objects.using(db_alias).values_list("pk", "codename"))
    with pytest.raises(IntegrityLoadError) as caught:
        load_fixtures([fixture], using=db_alias, flush=flush)
    assert caught.value.exit_code == 21
    fix = (
        "leave auth.Permission out of DISKETTE_APPS (the target creates it), dump "
        "it with natural_primary (its rows are then found by natural key)"
    )
    reason = (
        f"the target made auth.Permission rows again after the flush: {fix}"
        if flush
        else f"the target database already holds auth.Permission rows: {fix} or "
        "load with flush"
    )
    assert str(caught.value) == (
        f"data file 'auth.json': could not load auth.Permission(pk={first['pk']}): "
        f"another auth.Permission with content_type={first['fields']['content_type']}, "
        f"codename={first['fields']['codename']!r} already exists; {reason}; the "
        "database is unchanged"
    )
    assert (
        list(Permission.objects.using(db_alias).values_list("pk", "codename")) == before
    )


@pytest.mark.django_db(databases=["default", "postgres"])
def test_a_value_the_data_holds_twice_says_so(db_alias, tmp_path):
    first = write(tmp_path / "first.json", _authors((1, "Ada", "Twin", None)))
    second = write(tmp_path / "second.json", _authors((2, "Ada", "Twin", None)))
    with pytest.raises(IntegrityLoadError) as caught:
        load_fixtures([first, second], using=db_alias)
    assert str(caught.value) == (
        "data file 'second.json': could not load library.Author(pk=2): another "
        "library.Author with first_name='Ada', last_name='Twin' already exists; the "
        "data files hold both (its table was empty before the load): remove one of "
        "them from the data, or dump library.Author again; the database is unchanged"
    )


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("exact", [False, True])
def test_a_missing_natural_key_target_is_named(db_alias, tmp_path, exact):
    """By a foreign key and in a many-to-many list; the class of a broken
    reference, 21."""
    mentor = write(tmp_path / "a.json", _authors((1, "Ada", "One", ["No", "Body"])))
    with pytest.raises(IntegrityLoadError) as caught:
        load_fixtures([mentor], using=db_alias, exact=exact)
    assert str(caught.value) == (
        "data file 'a.json': library.Author(pk=1) refers to an object that no data "
        "file holds and the database lacks: library.Author with natural key ['No', "
        "'Body'] (its field 'mentor'); the database is unchanged (dump "
        "library.Author too: add its definition to DISKETTE_APPS, or remove the "
        "reference)"
    )
    group = write(
        tmp_path / "g.json",
        [
            {
                "model": "auth.group",
                "pk": 3,
                "fields": {
                    "name": "g",
                    "permissions": [
                        ["add_book", "library", "book"],
                        ["fly", "library", "book"],
                    ],
                },
            }
        ],
    )
    with pytest.raises(IntegrityLoadError, match="g.json") as caught:
        load_fixtures([group], using=db_alias, exact=exact)
    assert (
        "auth.Group(pk=3) refers to an object that no data file holds and the "
        "database lacks: auth.Permission with natural key ['fly', 'library', "
        "'book'] (its field 'permissions')" in str(caught.value)
    )
    assert not Author.objects.using(db_alias).exists()
    assert not Group.objects.using(db_alias).exists()


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("exact", [False, True])
def test_a_missing_foreign_key_target_is_named(db_alias, tmp_path, exact):
    """A primary key that no row has, found by the checks at the end: the
    object (PostgreSQL does not name its row: it is looked up), its field, the
    missing object."""
    from sandbox.library.models import Review

    book = "00000000-0000-4000-8000-000000000009"
    review = {
        "model": "library.review",
        "pk": 4,
        "fields": {
            "book": book,
            "reviewer": None,
            "rating": 3,
            "body": "",
            "created": "2024-01-01T00:00:00Z",
        },
    }
    fixture = write(tmp_path / "reviews.json", [review])
    with pytest.raises(IntegrityLoadError) as caught:
        load_fixtures([fixture], using=db_alias, exact=exact)
    assert caught.value.exit_code == 21
    assert str(caught.value) == (
        "data file 'reviews.json': library.Review(pk=4) refers by its field 'book' "
        f"to library.Book(pk=UUID('{book}')), which no data file holds and the "
        "database lacks (library_review.book_id); the database is unchanged (dump "
        "library.Book too: add its "
        "definition to DISKETTE_APPS, or remove the reference)"
    )
    assert not Review.objects.using(db_alias).exists()


@pytest.mark.django_db(databases=["default", "postgres"])
def test_a_missing_many_to_many_target_is_named(db_alias, tmp_path):
    """A link row to a primary key that no row has: named by its object."""
    from diskette.loading.loader import flush_database

    flush_database(db_alias)
    Publisher.objects.using(db_alias).create(pk=1, name="P")
    book = "00000000-0000-4000-8000-000000000008"
    objects = [
        {
            "model": "library.book",
            "pk": book,
            "fields": {
                "title": "T",
                "publisher": 1,
                "authors": [],
                "tags": [999],
                "price": "1.00",
                "published_at": "2024-01-01T00:00:00Z",
                "metadata": {},
                "signature": "",
                "cover": "",
                "sequel": None,
            },
        }
    ]
    with pytest.raises(IntegrityLoadError) as caught:
        load_fixtures([write(tmp_path / "books.json", objects)], using=db_alias)
    assert str(caught.value) == (
        f"data file 'books.json': library.Book(pk=UUID('{book}')) refers by its "
        "field 'tags' to library.Tag(pk=999), which no data file holds and the "
        "database lacks (library_book_tags.tag_id); the database is unchanged (dump "
        "library.Tag too: add its "
        "definition to DISKETTE_APPS, or remove the reference)"
    )
