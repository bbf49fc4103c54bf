"""A chunk of dumped objects as the related queries see it: a primary key range.

Objects are read ordered by primary key, in chunks; what their serialization
reads (natural keys, M2M values) is fetched once per chunk, for the range of
primary keys the chunk covers.

A through table's rows are selected with a range on the through table's own
column (``book_id >= first AND book_id <= last``), which the column's index
serves. Selecting them with ``book_id IN (SELECT id FROM book WHERE id BETWEEN
...)`` instead is planned by PostgreSQL as a hash join over the whole through
table, once per chunk: the dump then grows with the square of the data.

The range holds exactly the chunk's objects when the dumped queryset reads its
whole table (the objects come ordered by primary key, so every row between the
chunk's first and last one is in the chunk). When the queryset's manager may
leave rows out (:func:`diskette.dumping.managers.may_hide_rows`), the subquery
is kept beside the range, so that no through row of a row left out of the
fixture is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db.models import QuerySet

from diskette.dumping.managers import may_hide_rows


@dataclass(frozen=True)
class ChunkRange:
    """The objects of ``queryset`` (ordered by primary key) from ``first`` to ``last``."""

    queryset: QuerySet[Any]
    first: Any
    last: Any

    @cached_property
    def source(self) -> QuerySet[Any]:
        """The chunk's rows, as a queryset (for subqueries)."""
        return self.queryset.filter(pk__gte=self.first, pk__lte=self.last)

    @cached_property
    def whole_table(self) -> bool:
        """Whether every row of the range is in the chunk (nothing is filtered out)."""
        return not may_hide_rows(self.queryset)

    def pointing_here(
        self, rows: QuerySet[Any], attname: str, key: str
    ) -> QuerySet[Any]:
        """``rows`` whose column ``attname`` holds the ``key`` of an object of the chunk.

        ``rows`` are those of a through table, ``attname`` its column that points
        to the dumped model's field ``key``.
        """
        in_source = {f"{attname}__in": self.source.values(key)}
        if key != self.queryset.model._meta.pk.attname:
            return rows.filter(**in_source)
        rows = rows.filter(
            **{f"{attname}__gte": self.first, f"{attname}__lte": self.last}
        )
        if self.whole_table:
            return rows
        return rows.filter(**in_source)
