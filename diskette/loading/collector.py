"""Garbage collection paced to a load, while Python's automatic one is paused.

A load keeps many objects alive (the natural key cache, Django's own): full
collections would walk them all again and again. The loader pauses them and
calls :meth:`Collector.tick` every :data:`FORGET_QUERIES_EVERY` objects.
"""

from __future__ import annotations

import gc

#: How often (in objects) the DEBUG query log is emptied and a collection is due.
FORGET_QUERIES_EVERY = 1000


class Collector:
    """Young-generation garbage collections while automatic ones are paused.

    Objects written in batches free themselves (their cycles are broken): a
    collection that finds almost nothing doubles the wait before the next one,
    one that finds garbage brings it back to every ``FORGET_QUERIES_EVERY``
    objects, so that cyclic garbage never piles up.
    """

    #: At most this many ticks between two collections.
    LONGEST = 64
    #: A collection that frees fewer objects found "almost nothing".
    LITTLE = 100

    def __init__(self):
        self.wait = 1
        self.ticks = 0

    def tick(self) -> None:
        """Called every ``FORGET_QUERIES_EVERY`` objects."""
        self.ticks += 1
        if self.ticks < self.wait:
            return
        self.ticks = 0
        if gc.collect(1) < self.LITTLE:
            self.wait = min(self.wait * 2, self.LONGEST)
        else:
            self.wait = 1
