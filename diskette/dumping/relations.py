"""Relations a dump leaves dangling: references to rows that the archive does not hold.

A fixture that references rows of a model no definition dumps loads only into a
database that already holds those rows. A freshly migrated database holds
content types and permissions (``migrate`` creates them), but under other
primary keys than the source: references to them are safe only as natural keys
(``natural_foreign``). Everything else a fresh database lacks, including sites
other than the default one that ``migrate`` creates: a reference to a site is
dangling unless the sites are dumped too. Generic foreign keys are followed
only as far as their content type: the object they point to cannot be known
without reading the data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS

from diskette.definitions import Definition
from diskette.dumping.dumper import dumped_models

#: Models whose rows ``migrate`` creates in every database, with the same
#: natural keys but not the same primary keys.
CREATED_BY_MIGRATE = ("contenttypes.ContentType", "auth.Permission")


@dataclass(frozen=True)
class DanglingRelation:
    """A field of a dumped model that points to rows the archive does not hold."""

    definition: str
    model: str
    field: str
    target: str
    kind: str  # "foreign key", "one-to-one" or "many-to-many"
    by_primary_key: bool  # the target is created by migrate: natural keys fix it

    @property
    def label(self) -> str:
        """``app_label.Model.field``."""
        return f"{self.model}.{self.field}"

    def __str__(self) -> str:
        if self.by_primary_key:
            return (
                f"definition {self.definition!r}: {self.label} ({self.kind}) points to "
                f"{self.target} by primary key, which differs between databases: set "
                "'natural_foreign': True on the definition"
            )
        return (
            f"definition {self.definition!r}: {self.label} ({self.kind}) points to "
            f"{self.target}, which no definition dumps and a freshly migrated "
            f"database does not hold: dump {self.target} too"
        )


def _relations(model) -> Iterable[tuple[str, str, type]]:
    """``(field name, kind, target model)`` for each relation a model's fixture writes.

    As Django's serializers: the model's own fields (inherited ones travel with
    the parent), the primary key too when it is a relation (a multi-table child
    needs its parent's row), and many-to-many fields with an automatic table.
    """
    meta = model._meta
    for field in meta.local_fields:
        if field.remote_field is None or not (field.serialize or field.primary_key):
            continue
        kind = "one-to-one" if field.one_to_one else "foreign key"
        yield field.name, kind, field.remote_field.model
    for field in meta.local_many_to_many:
        # Rows of an explicit through model travel in that model's own fixture.
        if field.serialize and field.remote_field.through._meta.auto_created:
            yield field.name, "many-to-many", field.remote_field.model


def dangling_relations(
    definitions: Iterable[Definition], using: str = DEFAULT_DB_ALIAS
) -> list[DanglingRelation]:
    """Every relation of the dumped models to rows the archive would not hold.

    Only the given definitions count as dumped (those of this dump, after
    ``apps`` and ``exclude_apps``).
    """
    definitions = list(definitions)
    models = {
        definition.name: dumped_models(definition, using) for definition in definitions
    }
    dumped = {
        model._meta.concrete_model for chosen in models.values() for model in chosen
    }
    found = []
    for definition in definitions:
        for model in models[definition.name]:
            for name, kind, target in _relations(model):
                concrete = target._meta.concrete_model
                if concrete in dumped:
                    continue
                label = concrete._meta.label
                if label in CREATED_BY_MIGRATE and definition.natural_foreign:
                    continue
                found.append(
                    DanglingRelation(
                        definition=definition.name,
                        model=model._meta.label,
                        field=name,
                        target=label,
                        kind=kind,
                        by_primary_key=label in CREATED_BY_MIGRATE,
                    )
                )
    return found
