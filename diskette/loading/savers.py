"""What a load has done so far, and the exact save of ``loaddata``.

:class:`LoadState` is shared by every stage of one load: the models and tables
written (for the constraint checks and the sequences), the objects to finish at
the end, the natural key cache. :class:`Saver` saves object by object exactly as
``loaddata`` does; :class:`diskette.loading.batch.BatchSaver` is the fast one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.serializers.base import DeserializedObject
from django.db import router
from django.db.models import Model

from diskette.loading.deferral import DeferredObjects, blocks_insert
from diskette.loading.errors import naming
from diskette.loading.exactness import EVERYTHING, Exactness
from diskette.loading.sql import save_object
from diskette.reporter import Reporter

if TYPE_CHECKING:
    from diskette.loading.loader import Fixture
    from diskette.loading.natural_keys import NaturalKeyCache


class LoadState:
    """What the load has done so far: models written and objects to finish."""

    def __init__(
        self,
        using: str,
        *,
        signals: bool = True,
        reporter: Reporter | None = None,
        cache: NaturalKeyCache | None = None,
    ):
        self.using = using
        self.signals = signals
        self.reporter = reporter or Reporter()
        self.cache = cache
        #: Whether the load began with a flush (error messages say what to do).
        self.flushed = False
        self.models: set[type[Model]] = set()
        self.tables: dict[str, set[str]] = {}
        #: Saved objects whose forward references are set at the end.
        self.deferred = DeferredObjects()
        #: Objects that cannot be inserted before what they name: saved at the end.
        self.postponed = DeferredObjects(saved=False)
        #: Whether each model's table held rows before the load first wrote it.
        self.held: dict[type[Model], bool] = {}
        self._allowed: dict[type[Model], bool] = {}

    def allowed(self, model: type[Model]) -> bool:
        """Whether routers let ``model`` be written to this database."""
        try:
            return self._allowed[model]
        except KeyError:
            allowed = self._allowed[model] = router.allow_migrate_model(
                self.using, model
            )
            return allowed

    def held_rows(self, model: type[Model]) -> bool:
        """Whether ``model``'s table holds rows (asked once, before the load
        writes any: a collision then names the rows the target made)."""
        try:
            return self.held[model]
        except KeyError:
            held = self.held[model] = model._base_manager.using(self.using).exists()
            return held

    def wrote(self, model: type[Model], fixture: str) -> None:
        if model in self.models:
            self.tables[model._meta.db_table].add(fixture)
            return
        self.held_rows(model)
        self.models.add(model)
        self.tables.setdefault(model._meta.db_table, set()).add(fixture)
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            if through is not None and through._meta.auto_created:
                self.tables.setdefault(through._meta.db_table, set()).add(fixture)

    def postpone(self, item: DeserializedObject, fixture: str) -> bool:
        """Keep ``item`` for the end of the load when a forward reference
        leaves a non-nullable foreign key empty; whether it was kept."""
        if not blocks_insert(item):
            return False
        self.wrote(type(item.object), fixture)
        self.postponed.append((item, fixture))
        return True


class Saver:
    """Save deserialized objects one by one, exactly as ``loaddata`` does.

    A batched saver overrides :meth:`add`, :meth:`finish` (called once at the
    end of every fixture) and :meth:`close` (once after the last fixture), and
    falls back to :meth:`save_exact` where it cannot be used. ``exact`` says
    which models it saves exactly: every one, here.
    """

    exact: Exactness = EVERYTHING

    def __init__(self, state: LoadState):
        self.state = state

    def add(self, item: DeserializedObject, fixture: Fixture) -> bool:
        """Save ``item``; return whether it was saved (routers may skip it)."""
        model = type(item.object)
        state = self.state
        if not state.allowed(model):
            return False
        if item.deferred_fields and state.postpone(item, fixture.name):
            return True
        state.wrote(model, fixture.name)
        self.save_exact(item, fixture.name)
        if item.deferred_fields:
            state.deferred.append((item, fixture.name))
        return True

    def save_exact(self, item: DeserializedObject, fixture: str) -> None:
        """``loaddata``'s save of one object; errors name the object."""
        with naming(item, fixture, self.state):
            save_object(item, self.state.using, signals=self.state.signals)

    def finish(self, fixture: Fixture) -> None:
        """Write whatever is pending for ``fixture``; nothing for this saver."""

    def close(self) -> None:
        """Write whatever is still pending; nothing for this saver."""
