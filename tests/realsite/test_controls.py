"""Controls: the comparisons pass where a round trip is exact, and fail where not.

Django's own ``dumpdata``/``loaddata`` in XML (which keeps microseconds) is exact
when the target numbers content types as the source does: every check of the
round-trip tests must then pass. When the source's content types are renumbered,
``loaddata`` still resolves foreign keys by natural key, but the ids inside JSON
documents and inside reversion's serialized objects keep pointing at the source's
numbers: the comparison must see exactly those, and reverting must go wrong. So
a failing round-trip test is diskette's doing, not the checks'.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from tests.realsite import checks
from tests.realsite.compare import changed_fields, differences, snapshot
from tests.realsite.seeding import scramble_content_types, seed_realsite
from tests.realsite.trips import ALIASES

pytestmark = pytest.mark.django_db(databases=ALIASES)

#: What ``DISKETTE_APPS`` dumps, for ``dumpdata``.
LABELS = ["auth.Group", "taggit", "guardian", "reversion", "catalog", "accounts"]


def django_round_trip(source: str, target: str, path: Path) -> None:
    call_command(
        "dumpdata",
        *LABELS,
        format="xml",
        natural_foreign=True,
        database=source,
        output=str(path),
        verbosity=0,
    )
    call_command("loaddata", str(path), database=target, verbosity=0)


def app_views(using: str) -> dict:
    return {
        "mptt": checks.mptt_columns(using),
        "treebeard": (
            checks.treebeard_problems(using),
            checks.treebeard_columns(using),
        ),
        "guardian": checks.guardian_grants(using),
        "taggit": checks.taggit_tags(using),
        "polymorphic": checks.polymorphic_view(using),
    }


def test_an_exact_round_trip_passes_every_check(vendor, tmp_path):
    source, target = vendor
    seed_realsite(source)
    expected = snapshot(source), app_views(source), checks.reverted(source)
    django_round_trip(source, target, tmp_path / "all.xml")
    assert differences(expected[0], snapshot(target)) == []
    assert app_views(target) == expected[1]
    assert checks.reverted(target) == expected[2]


def test_content_type_ids_that_moved_are_seen(vendor, tmp_path):
    source, target = vendor
    scramble_content_types(source)
    seed_realsite(source)
    expected = snapshot(source), app_views(source), checks.reverted(source)
    django_round_trip(source, target, tmp_path / "all.xml")
    assert changed_fields(expected[0], snapshot(target)) == {
        "catalog.Dashboard.layout",
        "reversion.Version.serialized_data",
    }
    assert app_views(target) == expected[1]
    assert checks.reverted(target) != expected[2]
