"""The anonymiser of the running dump, for the loaders that build related objects.

The dumper sets it around each fixture (:func:`activated`); the natural-key
loaders of :mod:`diskette.dumping.prefetch` and :mod:`diskette.dumping.row_links`
ask :func:`hide_related` once when they are built, so a dump that is not
anonymised pays one lookup per loader and nothing per row. A leaf module: the
dumping stage imports it, and it imports nothing of that stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.models import Model

    from diskette.anonymise.anonymiser import Anonymiser

#: Replaces an instance's ruled values in place.
Hide = Callable[[Any], None]

_ACTIVE: ContextVar[Anonymiser | None] = ContextVar("diskette_anonymiser", default=None)


@contextmanager
def activated(anonymiser: Anonymiser | None) -> Iterator[None]:
    """Make ``anonymiser`` the running dump's while the block runs."""
    token = _ACTIVE.set(anonymiser)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active() -> Anonymiser | None:
    """The running dump's anonymiser, or None when the dump is not anonymised."""
    return _ACTIVE.get()


def hide_related(model: type[Model]) -> Hide | None:
    """How the running dump hides related objects of ``model`` (None: it does not)."""
    anonymiser = _ACTIVE.get()
    return anonymiser.hider(model) if anonymiser is not None else None
