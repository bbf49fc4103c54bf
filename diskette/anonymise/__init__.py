"""Anonymised copies: personal values replaced by fakes in the dump stream.

:mod:`~diskette.anonymise.fakes` makes deterministic fakes of a kind,
:mod:`~diskette.anonymise.rules` reads and checks the rules (settings, profile,
definitions), :mod:`~diskette.anonymise.anonymiser` turns them into functions
the dumper applies, :mod:`~diskette.anonymise.active` tells the natural-key
loaders which anonymiser runs, :mod:`~diskette.anonymise.planning` prepares a
dump's anonymiser and :mod:`~diskette.anonymise.survey` reports what the rules
cover for ``diskette_dump --check``. Nothing here is imported by a dump that is
not anonymised, but the leaf :mod:`~diskette.anonymise.active`.
"""
