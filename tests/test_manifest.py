"""The manifest: the original's keys kept, ours validated, newer formats refused."""

import json

import pytest

from diskette.exceptions import ManifestError, UnsupportedVersionError
from diskette.manifest import (
    FORMAT_VERSION,
    DataFile,
    Manifest,
    StorageEntry,
)

SHA = "ab" * 32


def make_manifest(**overrides) -> Manifest:
    values = {
        "version": "0.7.0",
        "creation": "2026-11-22T10:15:00",
        "format": FORMAT_VERSION,
        "created": "2026-11-22T10:15:00+00:00",
        "software": {"diskette": "0.7.0", "django": "5.2", "python": "3.11.7"},
        "database": {"vendor": "sqlite", "alias": "default"},
        "migrations": {"auth": ["0001_initial"]},
        "data": (
            DataFile(
                path="data/auth.json",
                format="json",
                definition="auth",
                models={"auth.user": 2},
                objects=2,
                size=10,
                sha256=SHA,
            ),
        ),
        "storages": (
            StorageEntry(name="media", files=1, bytes=3, empty_directories=("e",)),
        ),
        "members": {"data/auth.json": SHA, "media/a.txt": SHA},
    }
    values.update(overrides)
    return Manifest(**values)


def test_round_trip_through_json():
    manifest = make_manifest()
    assert Manifest.from_bytes(manifest.to_json()) == manifest


def test_original_keys_are_written_for_the_original_loader():
    payload = json.loads(make_manifest().to_json())
    assert payload["datas"] == ["data/auth.json"]
    assert payload["storages"] == ["media"]
    assert payload["version"] == "0.7.0"


def test_original_manifest_with_nulls_is_read_as_legacy():
    raw = json.dumps(
        {
            "version": "0.6.0",
            "creation": "2026-11-22T00:05:24",
            "datas": None,
            "storages": None,
        }
    ).encode()
    manifest = Manifest.from_bytes(raw)
    assert manifest.is_legacy
    assert manifest.data == ()
    assert manifest.storages == ()


def test_original_fixtures_are_read_as_json_whatever_their_extension():
    raw = json.dumps(
        {
            "version": "0.6.0",
            "creation": "x",
            "datas": ["data/a.jsonl"],
            "storages": ["media"],
        }
    ).encode()
    manifest = Manifest.from_bytes(raw)
    assert manifest.data[0].format == "json"
    assert manifest.storages[0].name == "media"


def test_newer_format_is_refused_naming_both_versions():
    payload = json.loads(make_manifest().to_json())
    payload["diskette"]["format"] = FORMAT_VERSION + 1
    with pytest.raises(UnsupportedVersionError) as caught:
        Manifest.from_dict(payload)
    assert f"format version {FORMAT_VERSION + 1}" in str(caught.value)
    assert f"reads format {FORMAT_VERSION}" in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"version": "1"}', "does not match the manifest schema"),
        (
            b'{"version": "1", "creation": "x", "datas": "data/a.json", "storages": null}',
            "at datas",
        ),
    ],
)
def test_broken_manifests_are_refused(raw, message):
    with pytest.raises(ManifestError, match=message):
        Manifest.from_bytes(raw)


def test_bad_checksum_in_our_section_is_refused():
    payload = json.loads(make_manifest().to_json())
    payload["diskette"]["members"]["media/a.txt"] = "not-a-sha"
    with pytest.raises(ManifestError, match="members/media/a.txt"):
        Manifest.from_dict(payload)


@pytest.mark.parametrize("digest", ["A" * 64, "a" * 63, 12, None])
def test_every_member_digest_is_checked_among_many(digest):
    payload = json.loads(make_manifest().to_json())
    members = payload["diskette"]["members"]
    for number in range(5_000):
        members[f"media/many/{number}.bin"] = "0" * 64
    Manifest.from_dict(json.loads(json.dumps(payload)))  # all good: accepted
    members["media/many/12345.bin"] = digest
    with pytest.raises(ManifestError, match="members/media/many/12345.bin"):
        Manifest.from_dict(payload)


def test_lists_that_disagree_are_refused():
    payload = json.loads(make_manifest().to_json())
    payload["datas"] = ["data/other.json"]
    with pytest.raises(ManifestError, match="different files"):
        Manifest.from_dict(payload)
