"""After a round trip, each third-party app agrees with itself and with the source.

Every test loads the archive of the seeded source (definitions in INSTALLED_APPS
order) into the target, on SQLite and PostgreSQL, freshly migrated and flushed,
then runs the app's own code on both databases.
"""

from __future__ import annotations

import pytest
from reversion.models import Version

from tests.realsite import checks
from tests.realsite.catalog.models import Item
from tests.realsite.routers import pinned
from tests.realsite.trips import ALIASES

pytestmark = pytest.mark.django_db(databases=ALIASES)


def test_mptt_rebuild_changes_nothing(round_trip):
    source, target = round_trip.source, round_trip.target
    round_trip.load()
    before, after = checks.mptt_rebuild(target)
    assert after == before
    assert before == checks.mptt_columns(source)
    # The check can tell: the source's trees are what a rebuild makes too.
    assert len({row[2] for row in before}) == 3
    assert checks.mptt_rebuild(source)[1] == before


def test_treebeard_finds_no_problem_and_fix_tree_changes_nothing(round_trip):
    source, target = round_trip.source, round_trip.target
    round_trip.load()
    assert checks.treebeard_problems(target) == ([], [], [], [], [])
    before, after = checks.treebeard_fix(target)
    assert after == before
    assert before == checks.treebeard_columns(source)
    assert checks.treebeard_fix(source)[1] == before


def versions_by_object(using: str, recorded_under: str) -> dict[str, list[int]]:
    """What ``Version.objects.get_for_object`` finds for each item.

    It looks versions up by the item's content type in the database at hand;
    ``model_db`` is the alias they were recorded under, the source's (a site
    loading its own archive has the same alias).
    """
    with pinned(using):
        return {
            item.sku: list(
                Version.objects.using(using)
                .get_for_object(item, model_db=recorded_under)
                .values_list("pk", flat=True)
            )
            for item in Item.objects.order_by("pk")
        }


def test_reversion_reverts_each_version_to_the_same_object(round_trip):
    source, target = round_trip.source, round_trip.target
    expected = checks.reverted(source)
    fields = checks.version_fields(source)
    history = versions_by_object(source, source)
    assert len(expected) > 50
    assert {label for _pk, label, _id, _row in expected} >= {
        "catalog.Item",
        "catalog.RareBook",
        "catalog.Dashboard",
        "catalog.Comment",
        "catalog.Warehouse",
    }
    assert sum(len(pks) for pks in history.values()) > len(history) > 10
    round_trip.load()
    assert checks.reverted(target) == expected
    assert checks.version_fields(target) == fields
    assert versions_by_object(target, source) == history


def test_guardian_grants_the_same_object_permissions(round_trip):
    source, target = round_trip.source, round_trip.target
    expected = checks.guardian_grants(source)
    holders = {key[0] for key in expected}
    assert holders == {"user", "group"}
    assert all(granted is True for _obj, _perms, granted in expected.values())
    round_trip.load()
    assert checks.guardian_grants(target) == expected


def test_taggit_finds_the_same_tags(round_trip):
    source, target = round_trip.source, round_trip.target
    expected = checks.taggit_tags(source)
    assert len(expected["found"]) >= 5
    round_trip.load()
    assert checks.taggit_tags(target) == expected


def test_polymorphic_querysets_return_the_same_objects(round_trip):
    source, target = round_trip.source, round_trip.target
    expected = checks.polymorphic_view(source)
    classes = {label for _pk, label in expected["classes"]}
    assert classes == {
        "catalog.Item",
        "catalog.Book",
        "catalog.RareBook",
        "catalog.Gadget",
    }
    round_trip.load()
    assert checks.polymorphic_view(target) == expected
