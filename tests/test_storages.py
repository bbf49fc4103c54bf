"""Storage walking: exclude patterns, empty directories, links, refusals."""

from __future__ import annotations

import os

import pytest

from diskette.exceptions import ConfigurationError, DumpError
from diskette.paths import StoragePath
from diskette.reporter import Reporter
from diskette.storages import (
    ExcludePatterns,
    StorageStats,
    check_storages,
    survey_storage,
    walk_storage,
)


class Recorder(Reporter):
    def __init__(self):
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


def make_tree(root, files):
    for name, content in files.items():
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def walk(root, patterns=(), reporter=None):
    storage = StoragePath(path=root.resolve(), name="media")
    stats = StorageStats(name="media")
    items = list(walk_storage(storage, ExcludePatterns(patterns), stats, reporter))
    return items, stats


def files_of(items):
    return sorted(item.relative for item in items if not item.is_dir)


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "expected"),
    [
        ("cache/*", "cache/a", False, True),
        ("cache/*", "cache/a/b.png", False, True),  # cache/a is a matched directory
        ("cache", "cache/a/b.png", False, True),
        ("cache/", "cache", True, True),
        ("cache/", "cache", False, False),  # trailing slash: directories only
        ("*.tmp", "docs/x.tmp", False, True),  # no slash: any depth
        ("*.tmp", "x.tmp", False, True),
        ("docs/*.tmp", "docs/x.tmp", False, True),
        ("docs/*.tmp", "docs/sub/x.tmp", False, False),  # * does not cross /
        ("/*.tmp", "docs/x.tmp", False, False),  # leading slash anchors
        ("/*.tmp", "x.tmp", False, True),
        ("**/.DS_Store", "a/b/.DS_Store", False, True),
        ("**/.DS_Store", ".DS_Store", False, True),
        ("docs/**/draft?.txt", "docs/a/b/draft1.txt", False, True),
        ("docs/**/draft?.txt", "docs/draft1.txt", False, True),
        ("docs/**/draft?.txt", "docs/draft12.txt", False, False),
        ("[ab].txt", "c.txt", False, False),
        ("[ab].txt", "b.txt", False, True),
        ("Cache", "cache/x", False, False),  # case-sensitive
    ],
)
def test_exclude_pattern_semantics(pattern, path, is_dir, expected):
    assert ExcludePatterns([pattern]).excludes(path, is_dir) is expected


TREE_FILES = [
    "cache/a/b.png",
    "docs/x.tmp",
    "docs/sub/x.tmp",
    "docs/a/b/draft1.txt",
    "docs/draft12.txt",
    "docs/.DS_Store",
    "x.tmp",
    "b.txt",
    "deep/er/still/cache/c.txt",
]
TREE_PATTERNS = [
    "cache/*",
    "cache/",
    "*.tmp",
    "/*.tmp",
    "docs/*.tmp",
    "**/.DS_Store",
    "docs/**/draft?.txt",
    "**/cache/**",
    "[ab].txt",
    "deep/**/still/",
]


@pytest.mark.parametrize("pattern", TREE_PATTERNS)
def test_walk_excludes_what_the_pattern_excludes_from_the_whole_path(tmp_path, pattern):
    """The walk checks each entry alone (its parents were checked before it went in):
    it keeps exactly the files whose whole path ``excludes`` lets through."""
    make_tree(tmp_path, dict.fromkeys(TREE_FILES, b"x"))
    items, _ = walk(tmp_path, [pattern])
    patterns = ExcludePatterns([pattern])
    expected = sorted(name for name in TREE_FILES if not patterns.excludes(name, False))
    assert expected != sorted(TREE_FILES)  # each pattern excludes something here
    assert files_of(items) == expected


@pytest.mark.parametrize("bad", ["", "/", 3, None])
def test_empty_or_non_string_pattern_is_refused(bad):
    with pytest.raises(ConfigurationError, match="exclude pattern"):
        ExcludePatterns([bad])


def test_walk_applies_excludes_and_counts(tmp_path):
    root = make_tree(
        tmp_path / "media",
        {
            "a.txt": b"12345",
            "cache/thumb.bin": b"xx",
            "docs/x.tmp": b"t",
            "docs/readme.txt": b"hello",
            "docs/2024/.DS_Store": b"d",
        },
    )
    items, stats = walk(root, ["cache/*", "*.tmp", "**/.DS_Store"])
    assert files_of(items) == ["a.txt", "docs/readme.txt"]
    assert stats.files == 2
    assert stats.bytes == 10
    assert stats.excluded == 3
    # cache and docs/2024 are left with nothing: kept as empty directories.
    assert sorted(stats.empty_directories) == ["cache", "docs/2024"]
    assert {i.arcname for i in items if i.is_dir} == {"media/cache", "media/docs/2024"}


def test_empty_directories_kept_and_nested(tmp_path):
    root = make_tree(tmp_path / "media", {"f.txt": b"x", "empty/nested/": b""})
    items, stats = walk(root)
    assert stats.empty_directories == ["empty/nested"]
    assert [i.arcname for i in items if i.is_dir] == ["media/empty/nested"]


def test_empty_storage_travels_as_its_directory(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    items, stats = walk(root)
    assert [(i.arcname, i.is_dir) for i in items] == [("media", True)]
    assert stats.files == 0


def test_unicode_names(tmp_path):
    root = make_tree(
        tmp_path / "media", {"docs/unicodé ñame.txt": b"z", "日本.txt": b"j"}
    )
    items, _stats = walk(root)
    assert files_of(items) == ["docs/unicodé ñame.txt", "日本.txt"]


def test_links_are_skipped_with_a_warning_and_never_followed(tmp_path):
    outside = make_tree(tmp_path / "outside", {"secret.txt": b"secret"})
    root = make_tree(tmp_path / "media", {"real.txt": b"r"})
    (root / "to-file").symlink_to(outside / "secret.txt")
    (root / "to-dir").symlink_to(outside, target_is_directory=True)
    reporter = Recorder()
    items, stats = walk(root, reporter=reporter)
    assert files_of(items) == ["real.txt"]
    assert stats.skipped == ["media/to-dir", "media/to-file"]
    assert len(reporter.warnings) == 2
    assert "media/to-dir" in reporter.warnings[0]
    assert "symbolic link" in reporter.warnings[0]


def test_excluded_link_is_silent(tmp_path):
    root = make_tree(tmp_path / "media", {"real.txt": b"r"})
    (root / "link.tmp").symlink_to(root / "real.txt")
    reporter = Recorder()
    _items, stats = walk(root, ["*.tmp"], reporter)
    assert reporter.warnings == []
    assert stats.skipped == []


def test_fifo_is_skipped(tmp_path):
    root = make_tree(tmp_path / "media", {"real.txt": b"r"})
    os.mkfifo(root / "pipe")
    reporter = Recorder()
    items, stats = walk(root, reporter=reporter)
    assert files_of(items) == ["real.txt"]
    assert stats.skipped == ["media/pipe"]
    assert "special file" in reporter.warnings[0]


def test_modes_and_mtimes_are_read(tmp_path):
    root = make_tree(tmp_path / "media", {"script.sh": b"#!/bin/sh\n"})
    (root / "script.sh").chmod(0o750)
    os.utime(root / "script.sh", (1_600_000_000, 1_600_000_000.5))
    (item,), _stats = walk(root)
    assert item.mode == 0o750
    assert item.mtime == 1_600_000_000.5


def test_control_character_in_a_name_is_refused(tmp_path):
    root = make_tree(tmp_path / "media", {"bad\nname.txt": b"x"})
    with pytest.raises(DumpError, match="cannot be archived safely"):
        walk(root)


def test_vanished_directory_is_a_dump_error(tmp_path):
    root = make_tree(tmp_path / "media", {"a/f.txt": b"x", "b/g.txt": b"y"})
    storage = StoragePath(path=root.resolve(), name="media")
    stats = StorageStats(name="media")
    walker = walk_storage(storage, ExcludePatterns(), stats)
    first = next(walker)
    assert first.relative == "a/f.txt"
    (root / "b" / "g.txt").unlink()
    (root / "b").rmdir()
    with pytest.raises(DumpError, match="vanished"):
        list(walker)


def test_check_storages_refuses_missing_and_files(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ConfigurationError, match="does not exist"):
        check_storages(["missing"], tmp_path)
    with pytest.raises(ConfigurationError, match="is not a directory"):
        check_storages(["file.txt"], tmp_path)


@pytest.mark.parametrize(
    ("storages", "message"),
    [
        (["."], "base path"),
        (["../elsewhere"], "outside"),
        (["media", "media/inner"], "inside storage"),
    ],
)
def test_check_storages_refuses_bad_layouts(tmp_path, storages, message):
    (tmp_path / "media" / "inner").mkdir(parents=True)
    with pytest.raises(ConfigurationError, match=message):
        check_storages(storages, tmp_path)


def test_survey_counts_without_reading(tmp_path):
    root = make_tree(tmp_path / "media", {"a.bin": b"a" * 100, "b/c.bin": b"c" * 7})
    stats = survey_storage(
        StoragePath(path=root.resolve(), name="media"), ExcludePatterns()
    )
    assert (stats.files, stats.bytes) == (2, 107)
