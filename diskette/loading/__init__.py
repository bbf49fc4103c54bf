"""The load side of the pipeline: fixtures into the database, in one transaction.

``fixtures`` and ``formats`` deserialize the raw objects that
:mod:`diskette.readers` streams, with the ``natural_keys`` cache; ``loader`` runs
the transaction, ``savers`` and ``batch`` write the objects (``sql`` holds the raw
statements), ``deferral`` keeps back objects with forward references, ``errors`` words what
fails, and ``rehearsal`` is the plan's dry load. Content types are aligned by
:mod:`diskette.contenttypes`, which the dump shares.
"""
