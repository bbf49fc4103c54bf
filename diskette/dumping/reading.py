"""What a dump reads: the models in ``dumpdata``'s order, their querysets, one transaction.

The models of a definition are grouped and ordered as ``dumpdata`` does, each
read through the queryset ``dumpdata`` would serialize (never downcasting, see
:mod:`diskette.dumping.managers`), all inside one read transaction so that every
fixture of an archive sees the same database.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.apps import apps as django_apps
from django.core import serializers
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction

from diskette.definitions import Definition
from diskette.dumping.managers import dump_queryset as manager_queryset
from diskette.exceptions import DumpError


def resolve_models(labels: Iterable[str]) -> list:
    """Model classes for labels, grouped per app as ``dumpdata`` groups them."""
    app_list: dict = {}
    for label in labels:
        try:
            app_label, model_name = label.split(".")
            app_config = django_apps.get_app_config(app_label)
            model = app_config.get_model(model_name)
        except (ValueError, LookupError) as error:
            raise DumpError(f"unknown model {label!r}: {error}") from None
        models = app_list.setdefault(app_config, [])
        if model not in models:
            models.append(model)
    return list(app_list.items())


def ordered_models(definition: Definition) -> list:
    """The models in the order ``dumpdata`` serializes them for this definition."""
    app_list = resolve_models(definition.models)
    if definition.natural_foreign:
        return serializers.sort_dependencies(app_list, allow_cycles=True)
    return [model for _app, models in app_list for model in models]


def dumped_models(definition: Definition, using: str = DEFAULT_DB_ALIAS) -> list:
    """The models whose rows the fixture holds (proxies and unrouted models are not)."""
    return [
        model
        for model in ordered_models(definition)
        if not model._meta.proxy and router.allow_migrate_model(using, model)
    ]


def dump_queryset(definition: Definition, model, using: str = DEFAULT_DB_ALIAS):
    """The queryset ``dumpdata`` serializes for ``model``, never downcasting.

    See :mod:`diskette.dumping.managers`.
    """
    return manager_queryset(model, using, use_base_manager=definition.use_base_manager)


def read_transaction(using: str = DEFAULT_DB_ALIAS):
    """A context manager: one consistent read of the whole database.

    On PostgreSQL the transaction is REPEATABLE READ, so that rows committed by
    others while the dump runs are not seen by later definitions. Inside an
    already open transaction the isolation level cannot change; the outer one is
    used as it is.
    """
    return _ReadTransaction(using)


class _ReadTransaction:
    def __init__(self, using: str):
        self.using = using
        self.atomic = transaction.atomic(using=using)

    def __enter__(self):
        connection = connections[self.using]
        outermost = not connection.in_atomic_block
        self.atomic.__enter__()
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return self

    def __exit__(self, *exc):
        return self.atomic.__exit__(*exc)
