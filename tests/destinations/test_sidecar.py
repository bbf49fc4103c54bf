"""The sidecar: built from a finished archive, parsed strictly, read with a bound."""

from __future__ import annotations

import datetime
import io
import json

import pytest

from diskette.destinations.sidecar import (
    MAX_SIDECAR_SIZE,
    SIDECAR_SUFFIX,
    archive_of_sidecar,
    bounded_read,
    build_sidecar,
    parse_sidecar,
    read_sidecar,
    sidecar_bytes,
    sidecar_name,
    write_sidecar,
)
from diskette.manifest import Manifest
from tests.destinations.dict_backend import (
    CHECKSUM,
    AdvancedDictBackend,
    DictBackend,
    manifest_dict,
    utc,
)

NAME = "diskette_20261201T141503.123456Z.tar.gz"
CREATED = utc(2026, 12, 1, 14, 15, 3, 123456)


def valid_sidecar() -> dict:
    return build_sidecar(NAME, 1234, CHECKSUM, manifest_dict(), created=CREATED)


def encoded(sidecar: dict) -> bytes:
    return json.dumps(sidecar).encode("utf-8")


def test_names_pair_an_archive_with_its_sidecar():
    assert sidecar_name("site/a.tar.gz") == "site/a.tar.gz.manifest.json"
    assert archive_of_sidecar("site/a.tar.gz.manifest.json") == "site/a.tar.gz"
    assert archive_of_sidecar("a.tar.gz") is None
    assert archive_of_sidecar(SIDECAR_SUFFIX) is None


def test_built_sidecar_has_the_documented_keys_and_parses_back():
    sidecar = valid_sidecar()
    assert sidecar["diskette_sidecar"] == 1
    assert sidecar["archive"] == NAME
    assert sidecar["size"] == 1234
    assert sidecar["checksum"] == f"blake2b:{CHECKSUM}"
    assert sidecar["created"] == "2026-12-01T14:15:03.123456+00:00"
    assert sidecar["format"] == "tar.gz"

    parsed = parse_sidecar(sidecar_bytes(sidecar), NAME)
    assert parsed is not None
    assert (parsed.archive, parsed.size, parsed.checksum) == (
        NAME,
        1234,
        f"blake2b:{CHECKSUM}",
    )
    assert parsed.created == CREATED
    assert parsed.created.tzinfo == datetime.timezone.utc
    assert isinstance(parsed.manifest, Manifest)
    assert [(d.path, d.objects) for d in parsed.manifest.data] == [
        ("data/auth.json", 2),
        ("data/library.jsonl", 40),
    ]


def test_the_sidecar_manifest_leaves_out_what_grows_with_the_site():
    """Member checksums (one per media file), content types and permissions serve
    a load, which reads the archive's own manifest: a sidecar stays small."""
    manifest = manifest_dict()
    members = {f"media/{n}.jpg": "cd" * 32 for n in range(20_000)}
    manifest["diskette"]["members"] = members

    sidecar = build_sidecar(NAME, 1, CHECKSUM, manifest, created=CREATED)

    described = sidecar["manifest"]["diskette"]
    assert described["members"] == {}
    assert "content_types" not in described
    assert "permissions" not in described
    assert described["data"] == manifest["diskette"]["data"]
    assert manifest["diskette"]["members"] is members  # the caller's dict untouched
    assert len(sidecar_bytes(sidecar)) < 10_000


def test_created_is_stored_in_utc_and_a_prefixed_checksum_is_accepted():
    paris = datetime.timezone(datetime.timedelta(hours=1))
    sidecar = build_sidecar(
        NAME,
        5,
        f"blake2b:{CHECKSUM}",
        manifest_dict(),
        created=datetime.datetime(2026, 12, 1, 15, 15, tzinfo=paris),
    )
    assert sidecar["created"] == "2026-12-01T14:15:00.000000+00:00"
    assert sidecar["checksum"] == f"blake2b:{CHECKSUM}"


def test_created_defaults_to_now():
    before = datetime.datetime.now(datetime.timezone.utc)
    sidecar = build_sidecar(NAME, 5, CHECKSUM, manifest_dict())
    parsed = parse_sidecar(sidecar_bytes(sidecar), NAME)
    assert parsed is not None
    assert before <= parsed.created <= datetime.datetime.now(datetime.timezone.utc)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"checksum": "ab" * 32}, "not a BLAKE2b-512"),
        ({"checksum": CHECKSUM.upper()}, "not a BLAKE2b-512"),
        ({"created": datetime.datetime(2026, 1, 1)}, "no time zone"),
        ({"size": -1}, "would not be valid"),
        ({"manifest": {"version": 1}}, "would not be valid"),
    ],
)
def test_a_sidecar_that_would_not_parse_is_never_built(changes, message):
    arguments = {
        "archive": NAME,
        "size": 5,
        "checksum": CHECKSUM,
        "manifest": manifest_dict(),
        "created": CREATED,
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        build_sidecar(**arguments)


def test_a_sidecar_over_the_size_cap_is_never_built():
    migrations = {
        f"app{n}": [f"{m:04d}_migration" for m in range(50)] for n in range(1000)
    }
    with pytest.raises(ValueError, match="would not be valid"):
        build_sidecar(NAME, 5, CHECKSUM, manifest_dict(migrations=migrations))


def _set(key, value):
    def change(sidecar):
        sidecar[key] = value

    return change


def _drop(key):
    def change(sidecar):
        del sidecar[key]

    return change


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_set("diskette_sidecar", 2), id="newer-version"),
        pytest.param(_set("diskette_sidecar", "1"), id="version-string"),
        pytest.param(_set("diskette_sidecar", True), id="version-bool"),
        pytest.param(_set("archive", "other.tar.gz"), id="names-another-archive"),
        pytest.param(_set("archive", None), id="archive-null"),
        pytest.param(_set("size", -1), id="size-negative"),
        pytest.param(_set("size", "1234"), id="size-string"),
        pytest.param(_set("size", 12.5), id="size-float"),
        pytest.param(_set("size", True), id="size-bool"),
        pytest.param(_set("checksum", CHECKSUM), id="checksum-unprefixed"),
        pytest.param(_set("checksum", "blake2b:" + "ab" * 32), id="checksum-short"),
        pytest.param(_set("checksum", "sha256:" + "ab" * 64), id="checksum-algorithm"),
        pytest.param(_set("checksum", "blake2b:" + "AB" * 64), id="checksum-case"),
        pytest.param(_set("checksum", 1), id="checksum-int"),
        pytest.param(_set("created", "2026-12-01T14:15:03"), id="created-naive"),
        pytest.param(_set("created", "yesterday"), id="created-garbage"),
        pytest.param(_set("created", 1_700_000_000), id="created-number"),
        pytest.param(_set("format", ""), id="format-empty"),
        pytest.param(_set("format", 3), id="format-int"),
        pytest.param(_set("format", "x" * 33), id="format-long"),
        pytest.param(_set("manifest", []), id="manifest-list"),
        pytest.param(_set("manifest", {"version": "1"}), id="manifest-invalid"),
        pytest.param(_set("extra", 1), id="unknown-key"),
        pytest.param(_drop("checksum"), id="missing-key"),
    ],
)
def test_parse_refuses_anything_unexpected(change):
    sidecar = valid_sidecar()
    change(sidecar)
    assert parse_sidecar(encoded(sidecar), NAME) is None


def test_parse_refuses_a_manifest_whose_lists_disagree():
    sidecar = valid_sidecar()
    sidecar["manifest"]["datas"] = ["data/other.json"]
    assert parse_sidecar(encoded(sidecar), NAME) is None


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"\xff\xfe{}", b"[]", b"null", b"[" * 100_000],
    ids=["empty", "not-json", "not-utf8", "list", "null", "deep"],
)
def test_parse_refuses_what_is_no_json_object(raw):
    assert parse_sidecar(raw, NAME) is None


def test_parse_refuses_a_valid_sidecar_over_the_cap():
    raw = sidecar_bytes(valid_sidecar())
    padded = raw + b" " * (MAX_SIDECAR_SIZE + 1 - len(raw))
    assert json.loads(padded)  # still valid JSON, only too big
    assert parse_sidecar(padded, NAME) is None
    assert parse_sidecar(padded[:MAX_SIDECAR_SIZE], NAME) is not None


def test_parse_accepts_a_z_suffix_and_converts_offsets_to_utc():
    sidecar = valid_sidecar()
    sidecar["created"] = "2026-12-01T15:15:03+01:00"
    parsed = parse_sidecar(encoded(sidecar), NAME)
    assert parsed is not None
    assert parsed.created == utc(2026, 12, 1, 14, 15, 3)
    sidecar["created"] = "2026-12-01T14:15:03Z"
    parsed = parse_sidecar(encoded(sidecar), NAME)
    assert parsed is not None
    assert parsed.created == utc(2026, 12, 1, 14, 15, 3)


def test_the_original_diskettes_manifest_is_described_without_counts():
    legacy = {
        "version": "0.3.0",
        "creation": "2024-01-01T10:00:00",
        "datas": ["data/auth.json"],
        "storages": ["media"],
    }
    sidecar = build_sidecar(NAME, 5, CHECKSUM, legacy, created=CREATED)
    assert sidecar["manifest"] == legacy
    parsed = parse_sidecar(sidecar_bytes(sidecar), NAME)
    assert parsed is not None
    assert [(d.path, d.objects) for d in parsed.manifest.data] == [
        ("data/auth.json", None)
    ]


def test_write_then_read_through_a_backend():
    backend = DictBackend()
    assert write_sidecar(backend, valid_sidecar()) == NAME + SIDECAR_SUFFIX
    parsed = read_sidecar(backend, NAME)
    assert parsed is not None
    assert parsed.size == 1234
    assert read_sidecar(backend, "absent.tar.gz") is None


def test_read_stops_after_the_cap_plus_one_byte():
    """A huge object under a sidecar's name is never read whole."""
    backend = DictBackend(chunk=64 * 1024)  # short reads, as a network stream gives
    name = sidecar_name(NAME)
    backend.files[name] = b" " * (10 * MAX_SIDECAR_SIZE)
    assert read_sidecar(backend, NAME) is None
    assert backend.bytes_read[name] == MAX_SIDECAR_SIZE + 1


def test_a_backend_that_tells_sizes_does_not_open_a_huge_sidecar():
    backend = AdvancedDictBackend()
    name = sidecar_name(NAME)
    backend.files[name] = b" " * (MAX_SIDECAR_SIZE + 1)
    backend.forbidden.add(name)
    assert read_sidecar(backend, NAME) is None
    assert backend.bytes_read[name] == 0


def test_bounded_read_gathers_short_reads():
    class Trickle(io.RawIOBase):
        def __init__(self):
            self.data = io.BytesIO(b"abcdefghij")

        def read(self, size=-1):
            return self.data.read(min(size, 3))

    assert bounded_read(Trickle(), 8) == b"abcdefgh"
    assert bounded_read(Trickle(), 100) == b"abcdefghij"


def test_a_backend_error_other_than_a_missing_file_is_raised():
    class Broken(DictBackend):
        def read(self, path):
            raise ConnectionError("the store is unreachable")

    with pytest.raises(ConnectionError):
        read_sidecar(Broken(), NAME)
