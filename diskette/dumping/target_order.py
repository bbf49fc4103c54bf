"""The order of an M2M field's values, read once per dump instead of once per chunk.

A related manager lists an object's M2M values in the order of the related
model's default manager (by primary key when it has none), without the rows
that manager leaves out. Asking the database for that order per chunk
(``WHERE id IN (the chunk's targets) ORDER BY ...``) is planned by PostgreSQL
as a scan of the whole related table, once per chunk, so that the dump would
grow with the square of the data.

So once the values of more than one chunk are asked for, the related table's
keys are read once, in the manager's order and with its filters, and each
chunk's values are sorted by their position there: the same order, the same
rows left out. At most :data:`ORDER_CACHE_SIZE` keys are kept per related
model; a larger table keeps the query per chunk, and so does a manager whose
query lists a row more than once (a join), where positions would not tell.

Rows that the ordering does not tell apart (ties of a non-unique ordering) come
in whatever order the database's plan gives, from either query, as they do
from the related manager's own query.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

#: Keys of a related model whose order is kept (about 100 bytes each); a larger
#: table is ordered by a query per chunk.
ORDER_CACHE_SIZE = 500_000


class TargetOrder:
    """Put an M2M field's targets in the related manager's order, keeping its rows."""

    def __init__(self, ordered: QuerySet[Any], lookup: str):
        """``ordered``: the related keys as the manager orders them (a flat values list).

        ``lookup`` filters it by a subquery of keys (``"pk__in"``).
        """
        self.ordered = ordered
        self.lookup = lookup
        self.calls = 0
        self.positions: dict[Any, int] | None = None

    def sort(self, targets: Iterable[Any], subquery: QuerySet[Any]) -> list[Any]:
        """The ``targets`` the manager has, in its order; ``subquery`` selects them."""
        self.calls += 1
        if self.calls == 2:
            self.positions = self._positions()
        positions = self.positions
        if positions is None:
            return list(self.ordered.filter(**{self.lookup: subquery}))
        kept = [target for target in targets if target in positions]
        kept.sort(key=positions.__getitem__)
        return kept

    def _positions(self) -> dict[Any, int] | None:
        """``{key: position}`` over the whole table, or None when it cannot serve."""
        keys = list(self.ordered[: ORDER_CACHE_SIZE + 1])
        if len(keys) > ORDER_CACHE_SIZE:
            return None
        positions = {key: index for index, key in enumerate(keys)}
        if len(positions) != len(keys):
            return None  # a key listed twice: only the database can repeat it
        return positions
