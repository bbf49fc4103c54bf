"""Archives of every compression in a destination: named after it, listed with
their format, loaded by name, pruned with their sidecars."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.sites.models import Site

from diskette import api
from diskette.destinations.retention import Retention
from diskette.destinations.sidecar import sidecar_name
from diskette.exceptions import ConfigurationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(tmp_path, settings):
    """One definition (sites), one media storage, dumps in ``dumps/``."""
    media = tmp_path / "site" / "media"
    media.mkdir(parents=True)
    (media / "photo.jpg").write_bytes(os.urandom(50_000))
    settings.DISKETTE_APPS = [["django.contrib.sites", {"models": "sites"}]]
    settings.DISKETTE_STORAGES = ["media"]
    settings.DISKETTE_STORAGES_BASEPATH = str(media.parent)
    settings.DISKETTE_DUMP_PATH = str(tmp_path / "dumps")
    settings.DISKETTE_LOAD_STORAGES_PATH = str(tmp_path / "target")
    return tmp_path


@pytest.mark.slow
def test_each_compression_lists_loads_and_prunes(site):
    names = {}
    for compression in ("gzip", "none", "zstd"):  # zstd last: the newest
        Site.objects.update(name=f"written with {compression}")
        names[compression] = api.dump(compression=compression).name
    assert names["gzip"].endswith(".tar.gz")
    assert names["zstd"].endswith(".tar.zst")
    assert names["none"].endswith(".tar")

    entries = api.list_archives()
    assert [(e.name, e.format) for e in entries] == [
        (names["zstd"], "tar.zst"),
        (names["none"], "tar"),
        (names["gzip"], "tar.gz"),
    ]
    assert all(e.written_by_diskette for e in entries)

    Site.objects.update(name="changed since")
    result = api.load("latest")
    assert result.archive.startswith(names["zstd"])
    assert Site.objects.get().name == "written with zstd"
    assert (site / "target" / "media" / "photo.jpg").read_bytes() == (
        site / "site" / "media" / "photo.jpg"
    ).read_bytes()

    pruned = api.prune(Retention(keep_last=1))
    assert sorted(pruned.deleted) == sorted(
        [
            names["gzip"],
            sidecar_name(names["gzip"]),
            names["none"],
            sidecar_name(names["none"]),
        ]
    )
    assert sorted(p.name for p in Path(site / "dumps").iterdir()) == [
        names["zstd"],
        sidecar_name(names["zstd"]),
    ]


@pytest.mark.slow
def test_an_explicit_name_takes_the_suffix_of_the_compression(site):
    result = api.dump(compression="zstd", filename="nightly{features}.tar.gz")
    assert result.name == "nightly_data_storages.tar.zst"
    assert (site / "dumps" / sidecar_name(result.name)).is_file()
    taken = api.dump(compression="none", filename="plain.tar")
    assert taken.name == "plain.tar"
    with pytest.raises(ConfigurationError, match="already holds an archive"):
        api.dump(compression="zstd", filename="nightly_data_storages.tgz")
