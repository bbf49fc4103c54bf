"""A backend written from the documented protocol alone, in each configuration style.

``MemoryDestination`` (tests/destinations/memory_backend.py, the example the
documentation includes) is a plain class: nothing inherited from diskette.
"""

from __future__ import annotations

import io

import pytest
from django.core.checks import run_checks

from diskette.destinations import (
    ADVANCED_METHODS,
    AdvancedArchiveStorage,
    ArchiveStorage,
    get_destination,
    missing_methods,
    requires_advanced_storage,
)
from diskette.exceptions import ConfigurationError
from tests.destinations.memory_backend import MemoryDestination
from tests.destinations.test_protocols import MinimumOnly

BACKEND = "tests.destinations.memory_backend.MemoryDestination"


@pytest.fixture(autouse=True)
def empty_buckets():
    MemoryDestination.buckets.clear()
    yield
    MemoryDestination.buckets.clear()


def configure(settings, style: str) -> None:
    if style == "instance":
        settings.DISKETTE_ARCHIVE_STORAGE = MemoryDestination("nightly")
    elif style == "dict":
        settings.DISKETTE_ARCHIVE_STORAGE = {
            "BACKEND": BACKEND,
            "OPTIONS": {"bucket": "nightly"},
        }
    else:
        settings.STORAGES = {
            **settings.STORAGES,
            "nightly": {"BACKEND": BACKEND, "OPTIONS": {"bucket": "nightly"}},
        }
        settings.DISKETTE_ARCHIVE_STORAGE = "nightly"


STYLES = ["instance", "dict", "alias"]


def test_the_backend_inherits_nothing():
    assert MemoryDestination.__bases__ == (object,)


@pytest.mark.parametrize("style", STYLES)
def test_each_style_gives_the_backend_itself_with_both_tiers(settings, style):
    configure(settings, style)
    assert [m for m in run_checks(tags=["diskette"]) if m.id == "diskette.E018"] == []
    destination = get_destination()
    assert type(destination) is MemoryDestination  # not wrapped
    assert isinstance(destination, ArchiveStorage)
    assert isinstance(destination, AdvancedArchiveStorage)
    assert missing_methods(destination, ADVANCED_METHODS) == []
    assert requires_advanced_storage(destination, "a prune by size") is destination


@pytest.mark.parametrize("style", STYLES)
def test_each_style_reads_back_what_another_instance_wrote(settings, style):
    configure(settings, style)
    writer = get_destination()
    writer.write("2026/site.tar.gz", io.BytesIO(b"archive" * 1000))
    writer.write("2026/site.tar.gz.manifest.json", io.BytesIO(b"{}"))
    writer.write("top.tar.gz", io.BytesIO(b"t"))
    reader = get_destination()
    with reader.read("2026/site.tar.gz") as stream:
        assert stream.read() == b"archive" * 1000
    assert reader.list() == ["top.tar.gz"]
    assert reader.list("2026/") == [
        "2026/site.tar.gz",
        "2026/site.tar.gz.manifest.json",
    ]
    assert reader.list("2026/site.tar.gz.") == ["2026/site.tar.gz.manifest.json"]
    advanced = requires_advanced_storage(reader, "sizes")
    assert advanced.size("2026/site.tar.gz") == 7000
    assert advanced.modified("2026/site.tar.gz").utcoffset().total_seconds() == 0
    reader.delete("top.tar.gz")
    reader.delete("top.tar.gz")
    assert not get_destination().exists("top.tar.gz")


@pytest.mark.parametrize("style", STYLES)
def test_each_style_publishes_a_stream_only_on_a_clean_exit(settings, style):
    configure(settings, style)
    destination = requires_advanced_storage(get_destination(), "open_write")
    with destination.open_write("site.tar.gz") as stream:
        stream.write(b"complete")
        assert not destination.exists("site.tar.gz")
    with pytest.raises(KeyboardInterrupt), destination.open_write("cut.tar.gz") as cut:
        cut.write(b"half")
        raise KeyboardInterrupt
    assert destination.list() == ["site.tar.gz"]
    with pytest.raises(FileNotFoundError):
        destination.read("cut.tar.gz")


def test_a_minimum_backend_is_enough_until_an_operation_needs_more(settings):
    settings.DISKETTE_ARCHIVE_STORAGE = MinimumOnly()
    destination = get_destination()
    assert isinstance(destination, MinimumOnly)
    with pytest.raises(
        ConfigurationError, match="needs a destination with open_write, size"
    ):
        requires_advanced_storage(destination, "diskette_list --sizes")
