"""Which rows a model is dumped from: dumpdata's manager, never another class.

django-polymorphic's managers downcast (a query on a parent returns child
instances) except when dumpdata's own module runs them. The sandbox cannot hold
polymorphic models, so these tests give ``library.Book``, whose ``EBook``
children live in their own table, managers with the same contract: a queryset
that downcasts and offers ``non_polymorphic()`` (what the dumper looks for, by
duck typing), one that downcasts through its own ``ModelIterable`` without it,
and managers that filter rows out.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connections, models
from django.db.models.query import ModelIterable
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext

from diskette.definitions import Definition
from diskette.dumping.dumper import dump_queryset, write_fixture
from diskette.dumping.managers import may_hide_rows, own_instances
from diskette.dumping.serializer import row_plan
from diskette.exceptions import DumpError
from diskette.reporter import Reporter
from sandbox.library.models import Book, EBook, PublishedBook, Publisher
from sandbox.library.seeding import seed_database

LABELS = ["library.Publisher", "library.Book", "library.EBook"]


@pytest.fixture(autouse=True)
def fresh_content_types():
    """Content types cached in a rolled-back test would be stale in the next one."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


class Downcasting(ModelIterable):
    """Books that are ebooks come back as EBook instances, as polymorphic does."""

    def __iter__(self):
        objects = list(super().__iter__())
        children = EBook._base_manager.using(self.queryset.db).in_bulk(
            [obj.pk for obj in objects]
        )
        for obj in objects:
            yield children.get(obj.pk, obj)


class PolymorphicLike(models.QuerySet):
    """Downcasts unless ``non_polymorphic()`` turns it off."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._iterable_class = Downcasting

    def non_polymorphic(self):
        clone = self._chain()
        clone._iterable_class = ModelIterable
        return clone


class SubclassesLike(models.QuerySet):
    """Always downcasts, with no way to turn it off (a custom iterable)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._iterable_class = Downcasting


class Recent(models.Manager):
    """Hides the books published before 2024."""

    def get_queryset(self):
        return super().get_queryset().filter(published_at__year__gte=2024)


class Priced(models.Manager):
    """Filters, but every book has a price: nothing is hidden."""

    def get_queryset(self):
        return super().get_queryset().filter(price__gte=0)


def default_manager(monkeypatch, model, manager: models.Manager) -> models.Manager:
    """Make ``manager`` the model's default manager for one test."""
    manager.model = model
    manager.name = "objects"
    monkeypatch.setitem(model._meta.__dict__, "default_manager", manager)
    assert model._default_manager is manager
    return manager


def definition(fmt="json", **options) -> Definition:
    return Definition(
        name="books",
        models=tuple(LABELS),
        filename=f"books.{fmt}",
        format=fmt,
        **options,
    )


def dumpdata(tmp_path, using, fmt, *flags) -> bytes:
    output = tmp_path / "dumpdata-output"
    call_command(
        "dumpdata",
        *LABELS,
        *flags,
        f"--format={fmt}",
        f"--database={using}",
        f"--output={output}",
        verbosity=0,
    )
    return output.read_bytes()


class Warnings(Reporter):
    def __init__(self):
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("queryset_class", [PolymorphicLike, SubclassesLike])
@pytest.mark.slow
def test_downcasting_manager_dumps_every_row_of_its_own_table(
    tmp_path, monkeypatch, db_alias, fmt, queryset_class
):
    """Every Book row as a Book object, every EBook row as an EBook object."""
    seed_database(30, using=db_alias)
    expected = dumpdata(tmp_path, db_alias, fmt, "--natural-foreign")
    books = Book.objects.using(db_alias).count()
    ebooks = EBook.objects.using(db_alias).count()
    assert books > ebooks > 0
    default_manager(monkeypatch, Book, queryset_class.as_manager())
    classes = {type(obj) for obj in Book._default_manager.using(db_alias).all()}
    assert classes == {Book, EBook}, "the manager really downcasts"

    reporter = Warnings()
    path = tmp_path / f"books.{fmt}"
    result = write_fixture(
        definition(fmt, natural_foreign=True), path, using=db_alias, reporter=reporter
    )
    assert path.read_bytes() == expected
    assert result.models["library.Book"] == books
    assert result.models["library.EBook"] == ebooks
    assert reporter.warnings == result.warnings == []
    if fmt == "json":
        labels = [item["model"] for item in json.loads(path.read_text("utf-8"))]
        assert labels.count("library.book") == books
        plan = row_plan(
            Book,
            dump_queryset(definition(), Book, db_alias),
            natural_foreign=True,
            natural_primary=False,
        )
        assert plan is not None, "written from rows, the fast path"


def test_non_polymorphic_is_asked_for():
    queryset = own_instances(PolymorphicLike(model=Book).order_by("pk"))
    assert queryset._iterable_class is ModelIterable
    assert queryset.query.order_by == ("pk",)


def test_plain_querysets_are_kept_as_they_are():
    queryset = Book.objects.order_by("pk")
    assert own_instances(queryset) is queryset


@pytest.mark.django_db(databases=["default", "postgres"])
def test_filtering_manager_is_named_in_a_warning(tmp_path, monkeypatch, db_alias):
    seed_database(30, using=db_alias)
    every = Book.objects.using(db_alias).count()
    shown = Book.objects.using(db_alias).filter(published_at__year__gte=2024).count()
    assert every > shown
    default_manager(monkeypatch, Book, Recent())

    reporter = Warnings()
    result = write_fixture(
        definition(), tmp_path / "books.json", using=db_alias, reporter=reporter
    )
    assert result.models["library.Book"] == shown
    assert reporter.warnings == result.warnings
    assert reporter.warnings == [
        f"definition 'books': model library.Book: its default manager ('objects', "
        f"Recent) hides {every - shown} of its {every} rows, which are not in the "
        "fixture; set use_base_manager on the definition to dump every row"
    ]

    # With the base manager, every row and nothing to say.
    reporter = Warnings()
    result = write_fixture(
        definition(use_base_manager=True),
        tmp_path / "all.json",
        using=db_alias,
        reporter=reporter,
    )
    assert result.models["library.Book"] == every
    assert reporter.warnings == result.warnings == []


@pytest.mark.django_db
def test_dump_command_fixture_is_checked_too(tmp_path, monkeypatch):
    seed_database(30)
    default_manager(monkeypatch, Book, Recent())
    reporter = Warnings()
    write_fixture(
        definition(dump_command="dumpdata"),
        tmp_path / "books.json",
        reporter=reporter,
    )
    assert len(reporter.warnings) == 1
    assert "library.Book" in reporter.warnings[0]


@pytest.mark.django_db
def test_filter_that_hides_nothing_says_nothing(tmp_path, monkeypatch):
    seed_database(30)
    default_manager(monkeypatch, Book, Priced())
    reporter = Warnings()
    with CaptureQueriesContext(connections["default"]) as queries:
        write_fixture(definition(), tmp_path / "books.json", reporter=reporter)
    assert reporter.warnings == []
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1, "one count, for the manager that filters"


@pytest.mark.django_db
def test_plain_managers_cost_no_query(tmp_path):
    """Publisher's manager has a method of its own, but no filter: no count."""
    seed_database(30)
    assert type(Publisher._default_manager).__name__ == "PublisherManager"
    with CaptureQueriesContext(connections["default"]) as queries:
        write_fixture(definition(), tmp_path / "books.json")
    assert not [q for q in queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.parametrize(
    ("build", "hides"),
    [
        (lambda qs: qs.all(), False),
        (lambda qs: qs.order_by("-title").select_related("publisher"), False),
        (lambda qs: qs.only("title").defer("price"), False),
        (lambda qs: qs.annotate(n=models.Count("authors")), False),
        (lambda qs: qs.filter(title="x"), True),
        (lambda qs: qs.exclude(title="x"), True),
        (lambda qs: qs.none(), True),
        (lambda qs: qs.extra(where=["1 = 1"]), True),
        (lambda qs: qs[:10], True),
        (lambda qs: qs.distinct(), True),
        (lambda qs: qs.union(Book.objects.all()), True),
        (lambda qs: qs.annotate(n=models.Count("authors")).filter(n__gt=0), True),
    ],
)
def test_may_hide_rows_reads_the_query(build, hides):
    assert may_hide_rows(build(models.QuerySet(Book))) is hides


def test_proxy_manager_filters():
    """The sandbox's one filtering manager (on a proxy, which dumpdata skips)."""
    assert may_hide_rows(PublishedBook._default_manager.all())


@pytest.mark.django_db
def test_rows_read_as_another_class_stop_the_dump(tmp_path, seeded):
    """A receiver that changes an instance's class: an error, not a wrong fixture."""

    def receiver(sender, instance, **kwargs):
        instance.__class__ = PublishedBook

    post_init.connect(receiver, sender=Book)
    try:
        with pytest.raises(DumpError) as raised:
            write_fixture(definition(), tmp_path / "books.json")
    finally:
        post_init.disconnect(receiver, sender=Book)
    assert str(raised.value) == (
        "definition 'books': model library.Book: its rows are read as "
        "library.PublishedBook instances (its from_db, __init__ or a post_init "
        "receiver changes their class), which the fixture would hold instead of "
        "library.Book rows; keep the class when rows are read, or set a "
        "dump_command on the definition"
    )
