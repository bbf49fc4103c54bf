"""Which objects a load saves the exact ``loaddata`` way: one value, decided once.

A caller says ``exact=True`` (every model), a collection of model labels (those
models), or nothing; :meth:`Exactness.of` turns any of them into an
:class:`Exactness` that the loader, the batched saver and the deferred updates
all ask the same question: :meth:`Exactness.covers`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from django.db.models import Model

from diskette.manifest import model_label


@dataclass(frozen=True)
class Exactness:
    """Every model (``everything``) or the models labelled ``models`` (as
    :func:`~diskette.manifest.model_label` gives them: ``app_label.ModelName``)
    take the exact path; the others may be batched."""

    everything: bool = False
    models: frozenset[str] = frozenset()

    @classmethod
    def of(cls, exact: bool | Collection[str] | Exactness | None) -> Exactness:
        """The value of a caller's ``exact`` argument."""
        if isinstance(exact, Exactness):
            return exact
        if exact is True:
            return EVERYTHING
        if not exact:
            return NOTHING
        return cls(models=frozenset(model_label(label) for label in exact))

    def covers(self, model: type[Model]) -> bool:
        """Whether ``model``'s objects must be saved exactly."""
        return self.everything or model._meta.label in self.models


#: No model asked for: objects are batched wherever that gives the same rows.
NOTHING = Exactness()
#: Every model the exact way (``exact=True``): Django's own deserializers, too.
EVERYTHING = Exactness(everything=True)
