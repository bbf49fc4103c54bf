"""The edges of the values that the row path reads as text, on every database."""

from __future__ import annotations

import datetime

UTC = datetime.timezone.utc
MOMENTS = [
    datetime.datetime(2024, 3, 1, 12, 30, 58, 604096, UTC),
    datetime.datetime(2024, 3, 1, 12, 30, 58, 1, UTC),
    datetime.datetime(2024, 3, 1, 12, 30, 58, 120000, UTC),
    datetime.datetime(2024, 3, 1, 12, 30, 58, 123000, UTC),
    datetime.datetime(2024, 3, 1, 12, 30, 58, 100, UTC),
    datetime.datetime(2024, 3, 1, 12, 30, 58, tzinfo=UTC),
    datetime.datetime(1, 1, 1, tzinfo=UTC),
    datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, UTC),
]
DAYS = [datetime.date(2024, 2, 29), datetime.date(1, 1, 1), datetime.date(9999, 12, 31)]
