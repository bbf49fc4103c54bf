"""Which queryset a model is dumped from, and what its default manager leaves out.

``dumpdata`` reads a model through its default manager (its base manager with
``--all``), and so does the dumper. But a fixture holds the rows of one table per
model: a manager that hands back instances of another class (a subclass, as
django-polymorphic's managers do for a query on a parent model) would write the
children's objects under their own labels and lose the parents' rows, and the
load would fail. django-polymorphic turns downcasting off only when it sees
``dumpdata``'s own module on the call stack, so the dumper turns it off itself,
without importing it: a queryset with ``non_polymorphic()`` is asked for the
model's own instances, and any other iterable built on Django's
``ModelIterable`` is replaced by it (rows as instances of the queryset's model).
A model whose instances run code when they are built is checked per chunk, and
a row read as another class stops the dump with an error.

A default manager may also filter rows out (soft deletion, publication dates):
``dumpdata`` drops them without a word, and so would an archive. When the
manager's SQL can select fewer rows than the table holds (decided from the query,
without running one), the rows are counted once, after the fixture is written,
and the dump warns about what was left out. A plain manager costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from django.db.models.query import ModelIterable

from diskette.exceptions import DumpError


def dump_queryset(model, using: str, *, use_base_manager: bool = False) -> QuerySet:
    """The rows ``dumpdata`` serializes for ``model``, as instances of ``model``."""
    manager = model._base_manager if use_base_manager else model._default_manager
    return own_instances(manager.using(using).order_by(model._meta.pk.name))


def own_instances(queryset: QuerySet) -> QuerySet:
    """``queryset`` building instances of its own model only (no downcasting)."""
    turn_off = getattr(queryset, "non_polymorphic", None)
    if callable(turn_off):
        queryset = turn_off()
    iterable = queryset._iterable_class
    if iterable is not ModelIterable and issubclass(iterable, ModelIterable):
        queryset = queryset._chain()
        queryset._iterable_class = ModelIterable
    return queryset


def check_classes(definition: str, model, objects: Iterable) -> None:
    """Raise DumpError when ``objects`` hold an instance of another class than ``model``.

    ``ModelIterable`` builds instances of its model, unless code that runs when an
    instance is built changes it (``from_db``, ``__init__``, ``post_init``
    receivers: see :func:`diskette.dumping.prefetch.plain_instances`); only such models
    need the check.
    """
    for obj in objects:
        if type(obj) is not model:
            label = model._meta.label
            raise DumpError(
                f"definition {definition!r}: model {label}: its rows are read as "
                f"{type(obj)._meta.label} instances (its from_db, __init__ or a "
                "post_init receiver changes their class), which the fixture would "
                f"hold instead of {label} rows; keep the class when rows are read, "
                "or set a dump_command on the definition"
            )


def may_hide_rows(queryset: QuerySet) -> bool:
    """Whether the queryset's SQL may select fewer rows than its table holds.

    Decided from the query, without running it: a filter (``where``, which also
    holds ``extra(where=...)``, ``none()`` and filters on annotations), a slice, a
    ``distinct`` or a combination (``union``, ...).
    """
    query = queryset.query
    return bool(
        query.where
        or query.is_sliced
        or query.distinct
        or query.combinator
        or getattr(query, "extra_tables", ())
    )


def hidden_rows(
    definition: str, models: Iterable, using: str, counts: dict[str, int]
) -> list[str]:
    """Warnings for the models whose default manager left rows out of the fixture.

    ``counts`` are the objects written per model label. One ``COUNT`` query per
    model whose default manager may filter (:func:`may_hide_rows`), none otherwise.
    """
    warnings = []
    for model in models:
        manager = model._default_manager
        if not may_hide_rows(manager.using(using).all()):
            continue
        total = QuerySet(model=model, using=using).count()
        written = counts.get(model._meta.label, 0)
        if written < total:
            warnings.append(
                f"definition {definition!r}: model {model._meta.label}: its default "
                f"manager ({manager.name!r}, {type(manager).__name__}) hides "
                f"{total - written} of its {total} rows, which are not in the "
                "fixture; set use_base_manager on the definition to dump every row"
            )
    return warnings
