"""The dump side of the pipeline: each definition's rows as a fixture.

``dumper`` writes one definition's fixture, reading rows the way ``dumpdata``
does (``managers`` turns downcasting off) with M2M values fetched per chunk
(``prefetch``) through fast serializers (``serializer``, ``encoder``);
``relations`` and ``filefields`` warn of what a dump would leave out. Nothing
here imports the load side.
"""
