"""Remembered natural keys pushed out of the cache's memory, on disk.

:class:`~diskette.loading.natural_keys.NaturalKeyCache` keeps its most recent keys
in memory and the rest here, in a private SQLite file, so that a load of any
size keeps its memory flat and still knows every key it wrote.
"""

from __future__ import annotations

import pickle
import sqlite3
from typing import Any


class _Spill:
    """Remembered natural keys pushed out of memory: a private SQLite file that
    keeps a few pages in memory, so that memory stays flat at any size.

    Models are numbered; keys of strings are joined, other keys pickled; integer
    and string primary keys are stored as they are (anything else pickled), in a
    table clustered on its key.
    """

    def __init__(self):
        self.rows = 0
        self._db: sqlite3.Connection | None = None
        self._models: dict[str, int] = {}

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect("")  # a temporary file, gone on close
            self._db.execute(
                "CREATE TABLE k (model INTEGER, key BLOB, pk, PRIMARY KEY (model, key))"
                " WITHOUT ROWID"
            )
            self._db.execute("CREATE UNIQUE INDEX k_pk ON k (model, pk)")
        return self._db

    def _model(self, model: str) -> int:
        try:
            return self._models[model]
        except KeyError:
            number = self._models[model] = len(self._models)
            return number

    def put(self, model: str, key: tuple, pk: Any) -> None:
        # REPLACE also drops the row of the same pk under another key.
        self._connection().execute(
            "INSERT OR REPLACE INTO k VALUES (?, ?, ?)",
            (self._model(model), _key_value(key), _pk_value(pk)),
        )
        self.rows += 1

    def pk(self, model: str, key: tuple) -> Any:
        if not self.rows:
            return None
        row = (
            self._connection()
            .execute(
                "SELECT pk FROM k WHERE model = ? AND key = ?",
                (self._model(model), _key_value(key)),
            )
            .fetchone()
        )
        if row is None:
            return None
        value = row[0]
        return pickle.loads(value) if type(value) is bytes else value  # noqa: S301 - ours

    def key(self, model: str, pk: Any) -> tuple | None:
        if not self.rows:
            return None
        row = (
            self._connection()
            .execute(
                "SELECT key FROM k WHERE model = ? AND pk = ?",
                (self._model(model), _pk_value(pk)),
            )
            .fetchone()
        )
        if row is None:
            return None
        value = row[0]
        if type(value) is str:
            return tuple(value.split(_SEPARATOR))
        return pickle.loads(value)  # noqa: S301 - ours

    def forget(self, model: str) -> None:
        if self.rows:
            self._connection().execute(
                "DELETE FROM k WHERE model = ?", (self._model(model),)
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self.rows = 0
        self._models.clear()


_SEPARATOR = "\x00"


def _key_value(key: tuple) -> Any:
    """A natural key as the spill stores it: strings joined by NUL when none
    holds one (a str, the most common case, cheap), anything else pickled (a
    blob, never equal to a str)."""
    if key and all(type(part) is str and _SEPARATOR not in part for part in key):
        return _SEPARATOR.join(key)
    return _dumps(key)


def _pk_value(pk: Any) -> Any:
    """A primary key as the spill stores it: an int or a str as it is (SQLite
    gives back the same value), anything else pickled."""
    if type(pk) is str or (type(pk) is int and -(2**63) <= pk < 2**63):
        return pk
    return _dumps(pk)


def _dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=4)
