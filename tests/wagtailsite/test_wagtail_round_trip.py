"""A real Wagtail site dumped and loaded with diskette, as a user runs it.

The source is migrated, flushed (its content types are then numbered in another
order than a freshly migrated target's) and seeded. Its definitions are what
``diskette_apps --drain`` generates, passed to ``diskette_dump --appconf``. The
archive is loaded into a freshly migrated target, first as it is (rows merged
by primary key over what migrate created), then again with ``--flush``: each
time the target must mean what the source meant (every row, content types by
natural key, revisions, page classes, trees, workflows, files, settings) and
hold the same media files. The definitions ``diskette_apps`` generates come in
dependency order; the same definitions in ``INSTALLED_APPS`` order (``home``
first, as a hand-written ``DISKETTE_APPS`` has them) put references forward,
across data files, and must load as well. Derived rows (renditions, the search
index) are left out of the archive and made again by the target.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.wagtailsite.sites import Site, media_digests, sqlite_site

#: Models whose rows the target derives again: the definitions must leave them out.
DERIVED = {
    "wagtailimages.Rendition",
    "wagtailsearch.IndexEntry",
    "wagtailsearch.SQLiteFTSIndexEntry",
    "wagtailcore.ReferenceIndex",
    "wagtailadmin.EditingSession",
    "wagtailembeds.Embed",
    "contenttypes.ContentType",
    "auth.Permission",
    "sessions.Session",
    "admin.LogEntry",
}


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where two meanings differ, one line each (what ``==`` would not say)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(set(expected) | set(actual), key=str):
            where = f"{path}/{key}"
            if key not in actual:
                found.append(f"{where}: missing from the target")
            elif key not in expected:
                found.append(f"{where}: only in the target: {actual[key]!r:.200}")
            else:
                found.extend(differences(expected[key], actual[key], where))
        return found
    if expected != actual:
        return [f"{path}: source {expected!r:.200} != target {actual!r:.200}"]
    return []


def assert_same(expected: Any, actual: Any, what: str) -> None:
    found = differences(expected, actual)
    shown = "\n".join(found[:40])
    more = f"\n... and {len(found) - 40} more" if len(found) > 40 else ""
    assert not found, f"{what}: {len(found)} differences\n{shown}{more}"


def dump(source: Site, definitions: list, destination: Path) -> tuple[str, dict]:
    """Dump with these definitions (``--appconf``); the archive and its model counts."""
    destination.mkdir()
    appconf = destination / "apps.json"
    appconf.write_text(json.dumps(definitions, indent=4), encoding="utf-8")
    result = source.json(
        "diskette_dump",
        "--appconf",
        str(appconf),
        "--destination",
        str(destination),
        "--json",
    )
    dumped = {
        label: count
        for data in result["data"]
        for label, count in data["models"].items()
    }
    return result["path"], dumped


def load(target: Site, archive: str, *flags: str) -> dict[str, Any]:
    target.run("diskette_load", archive, "--noinput", *flags)
    return target.parts("meaning")["meaning"]


def in_installed_apps_order(definitions: list) -> list:
    """The definitions as a hand-written DISKETTE_APPS lists them: app order, drain last.

    ``home`` then comes first, and its rows name rows of later data files:
    pages their ``wagtailcore.Page`` parents, tags ``taggit.Tag`` by natural key,
    the site settings their ``wagtailcore.Site``.
    """
    order = {name: index for index, name in enumerate(settings.INSTALLED_APPS)}
    ordered = sorted(definitions, key=lambda item: order.get(item[0], len(order)))
    names = [name for name, _options in ordered]
    assert names.index("tests.wagtailsite.home") < names.index("wagtail")
    return ordered


def round_trip(source: Site, target: Site, dumps: Path) -> None:
    source.run("seed", "-v", "0")
    before = source.parts("meaning", "content_type_ids", "derived")
    meaning = before["meaning"]
    assert meaning["rows"]["home.BlogPage"], "the seed made no blog page"
    for label, problems in meaning["tree_problems"].items():
        assert problems == [[], [], [], [], []], f"{label} tree of the source"

    # Otherwise the test could not tell aligned content types from lucky ids.
    target_ids = target.parts("content_type_ids")["content_type_ids"]
    source_ids = before["content_type_ids"]
    moved = sorted(key for key in source_ids if source_ids[key] != target_ids.get(key))
    assert "home.blogpage" in moved, "source and target number content types alike"

    # What the README tells users: generate the definitions, dump with them.
    generated = json.loads(
        source.run("diskette_apps", "--drain", "--format", "json").stdout
    )
    listed = {
        label for _name, options in generated for label in options.get("models", [])
    }
    assert not listed & DERIVED, (
        f"generated definitions name {sorted(listed & DERIVED)}"
    )
    archive, dumped = dump(source, generated, dumps / "generated")
    assert not set(dumped) & DERIVED, (
        f"the archive holds {sorted(set(dumped) & DERIVED)}"
    )
    expected = {label: len(rows) for label, rows in meaning["rows"].items() if rows}
    assert {label: n for label, n in dumped.items() if n} == expected
    source_media = media_digests(source.media)
    assert any(name.startswith("original_images/") for name in source_media)

    # Into the freshly migrated target, merged over the rows migrate made there.
    loaded = load(target, archive)
    assert_same(meaning, loaded, "after diskette_load into a migrated target")
    assert media_digests(target.media) == source_media

    # Again, emptying the target first.
    assert_same(
        meaning, load(target, archive, "--flush"), "after diskette_load --flush"
    )
    assert media_digests(target.media) == source_media

    # What the archive left out, the target makes again.
    target.run("update_index", "-v", "0")
    remade = target.parts("derived")["derived"]
    assert_same(before["derived"], remade, "derived data made again by the target")
    assert remade["search"], "the search finds nothing"

    # The same definitions in INSTALLED_APPS order: references point forward.
    forward, _counts = dump(
        source, in_installed_apps_order(generated), dumps / "forward"
    )
    reloaded = load(target, forward, "--flush")
    assert_same(meaning, reloaded, "definitions in INSTALLED_APPS order, --flush")


@pytest.mark.slow
def test_round_trip_sqlite(sqlite_template, tmp_path) -> None:
    source = sqlite_site(sqlite_template, tmp_path / "source")
    target = sqlite_site(sqlite_template, tmp_path / "target")
    round_trip(source, target, tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
def test_round_trip_postgresql(postgres_server, postgres_template, tmp_path) -> None:
    source = postgres_server.site(
        postgres_server.create("source", template=postgres_template),
        tmp_path / "source",
    )
    target = postgres_server.site(
        postgres_server.create("target", template=postgres_template),
        tmp_path / "target",
    )
    round_trip(source, target, tmp_path)
