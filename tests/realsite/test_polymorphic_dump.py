"""A dump of polymorphic models holds each table's rows once, as ``dumpdata`` does.

django-polymorphic's default manager turns every row into an object of its most
derived class; ``dumpdata`` (which polymorphic recognises) writes each level of
the hierarchy as its own table instead. The archive's counts (manifest and
fixture) and rows must be what ``dumpdata`` writes.
"""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import models

from diskette import api
from tests.realsite.catalog.models import Book, Gadget, Item, RareBook
from tests.realsite.seeding import seed_realsite
from tests.realsite.trips import ALIASES

pytestmark = pytest.mark.django_db(databases=ALIASES)

HIERARCHY = [Item, Book, RareBook, Gadget]
LABELS = [m._meta.label for m in HIERARCHY]


@pytest.mark.parametrize(
    "original",
    [{}, {"dump_command": "polymorphic_dumpdata"}],
    ids=["plain", "the original diskette's dump_command"],
)
def test_archive_counts_polymorphic_rows_as_dumpdata_does(vendor, tmp_path, original):
    """The original diskette told polymorphic definitions to name its own
    ``polymorphic_dumpdata``: such a definition keeps working, dumped as any other."""
    source, _target = vendor
    seed_realsite(source)
    out = StringIO()
    call_command("dumpdata", *LABELS, natural_foreign=True, database=source, stdout=out)
    expected = [(o["model"], o["pk"]) for o in json.loads(out.getvalue())]
    counts = Counter(model for model, _pk in expected)
    tables = {
        m._meta.label_lower: models.QuerySet(m, using=source).count() for m in HIERARCHY
    }
    assert counts == tables  # dumpdata writes each table's rows once
    # The trap is there: the default manager returns the most derived classes.
    assert {type(o) for o in Item.objects.using(source)} == set(HIERARCHY)

    result = api.dump(
        destination=tmp_path,
        definitions=[["shop", {"models": LABELS, "natural_foreign": True, **original}]],
        using=source,
        with_storages=False,
    )
    (data,) = result.data
    assert {label.lower(): n for label, n in data.models.items()} == tables
    with tarfile.open(result.path) as archive:
        objects = json.load(archive.extractfile(data.path))
    assert [(o["model"], o["pk"]) for o in objects] == expected
