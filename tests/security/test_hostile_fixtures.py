"""Hostile fixtures and forged tar headers: bounded cost, one line, nothing changed.

Each test builds an archive in code, loads it for real through ``diskette_load``
into the test database and a real storages base path, and checks the exit status,
that the message is one line, and that the rows and every file under the test's
directory are as before.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tracemalloc
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.contrib.sites.models import Site
from django.core.management import CommandError, call_command

from diskette import api
from diskette.archive import MTIME_RANGE
from diskette.readers import MAX_DEPTH
from sandbox.library.models import Author, Book
from tests.archives import make_archive, sites, snapshot

pytestmark = pytest.mark.django_db

MEDIA = {"media": {"a.txt": b"archived"}}


def rows() -> tuple:
    return (
        tuple(Site.objects.values_list("pk", "domain").order_by("pk")),
        Group.objects.count(),
        tuple(Author.objects.values_list("pk", "bio").order_by("pk")),
    )


@pytest.fixture
def site(tmp_path):
    """A storages base path holding a media directory, and the archives' home."""
    (tmp_path / "site" / "media").mkdir(parents=True)
    (tmp_path / "site" / "media" / "kept.txt").write_bytes(b"before")
    (tmp_path / "archives").mkdir()
    return tmp_path


def refused(site: Path, archive: Path, code: int, match: str) -> str:
    """Run ``diskette_load``; assert its exit status, one line, nothing changed."""
    before_files = snapshot(site)
    before_rows = rows()
    with pytest.raises(CommandError, match=match) as caught:
        call_command(
            "diskette_load",
            str(archive),
            storages_basepath=str(site / "site"),
            stdout=StringIO(),
            stderr=StringIO(),
        )
    message = str(caught.value)
    assert caught.value.returncode == code, message
    assert "\n" not in message
    assert "Traceback" not in message
    assert snapshot(site) == before_files
    assert rows() == before_rows
    return message


def author(pk: int, bio: str) -> dict:
    return {
        "model": "library.author",
        "pk": pk,
        "fields": {
            "first_name": "A",
            "last_name": f"N{pk}",
            "bio": bio,
            "mentor": None,
        },
    }


def archive_of(site: Path, name: str, content: bytes, **kw) -> Path:
    return make_archive(
        site / "archives" / "hostile.tar.gz",
        data={name: content},
        storages=MEDIA,
        **kw,
    )


# ---- objects larger than DISKETTE_LOAD_MAX_OBJECT_SIZE --------------------------

LIMIT = 64 * 1024
BIG = 16 * 1024 * 1024


@pytest.mark.parametrize("name", ["authors.json", "authors.jsonl"])
@pytest.mark.slow
def test_an_object_above_the_limit_is_refused_without_holding_it(site, settings, name):
    """A 16 MiB object against a 64 KiB limit: refused while reading, memory flat."""
    settings.DISKETTE_LOAD_MAX_OBJECT_SIZE = LIMIT
    objects = [author(1, "short"), author(2, "x" * BIG)]
    if name.endswith(".jsonl"):
        content = b"".join(json.dumps(o).encode() + b"\n" for o in objects)
    else:
        content = json.dumps(objects).encode()
    archive = archive_of(site, name, content)
    tracemalloc.start()
    try:
        message = refused(site, archive, 20, "DISKETTE_LOAD_MAX_OBJECT_SIZE")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    where = "line 2" if name.endswith(".jsonl") else "object 2"
    assert f"{name!r}: {where} is larger than" in message
    assert "does not fit the models" not in message
    assert peak < BIG / 2, f"{peak} bytes at the peak for a {BIG} bytes object"


@pytest.mark.parametrize("name", ["authors.json", "authors.jsonl"])
def test_an_object_within_the_limit_loads(site, settings, name):
    settings.DISKETTE_LOAD_MAX_OBJECT_SIZE = LIMIT
    bio = "é" * ((LIMIT - 200) // 2)  # two bytes each: just under the limit
    objects = [author(1, bio)]
    if name.endswith(".jsonl"):
        content = json.dumps(objects[0], ensure_ascii=False).encode() + b"\n"
    else:
        content = json.dumps(objects, ensure_ascii=False).encode()
    api.load(archive_of(site, name, content), storages_basepath=site / "site")
    assert Author.objects.get(pk=1).bio == bio


def test_the_limit_counts_bytes_not_characters(site, settings):
    """Characters are fewer than UTF-8 bytes: the limit is in bytes, as documented."""
    settings.DISKETTE_LOAD_MAX_OBJECT_SIZE = LIMIT
    content = json.dumps([author(1, "é" * (LIMIT // 2))], ensure_ascii=False).encode()
    message = refused(site, archive_of(site, "a.json", content), 20, "larger than")
    assert "object 1 is " in message


def test_a_yaml_file_above_the_limit_is_refused(site, settings):
    """Django's yaml reader holds the whole file: the whole file is bounded."""
    settings.DISKETTE_LOAD_MAX_OBJECT_SIZE = LIMIT
    lines = [
        f"- model: sites.site\n  pk: {pk}\n  fields: {{domain: d{pk}.org, name: n}}\n"
        for pk in range(1, 5000)
    ]
    content = "".join(lines).encode()
    assert len(content) > 2 * LIMIT
    refused(site, archive_of(site, "sites.yaml", content), 20, "yaml data file")


def test_an_xml_object_above_the_limit_is_refused(site, settings):
    settings.DISKETTE_LOAD_MAX_OBJECT_SIZE = LIMIT
    content = (
        '<?xml version="1.0" encoding="utf-8"?><django-objects version="1.0">'
        '<object model="sites.site" pk="9"><field name="domain" type="CharField">'
        + "x"
        * (8 * LIMIT)
        + '</field><field name="name" type="CharField">n</field></object>'
        "</django-objects>"
    ).encode()
    refused(site, archive_of(site, "sites.xml", content), 20, "object 1 is larger")


# ---- nesting ----------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200_000])
def test_deep_nesting_in_a_json_object_is_refused(site, depth):
    text = json.dumps([author(1, "b")])[:-2] + ', "deep": ' + nested(depth) + "}]"
    # The nesting sits in a field the model does not have: refused before that.
    message = refused(
        site, archive_of(site, "a.json", text.encode()), 20, "levels deep"
    )
    assert "RecursionError" not in message


def test_deep_nesting_in_a_jsonl_line_is_refused(site):
    line = '{"model": "sites.site", "pk": 3, "fields": ' + nested(200_000) + "}\n"
    refused(site, archive_of(site, "s.jsonl", line.encode()), 20, "line 1 nests")


@pytest.mark.slow
def test_deep_nesting_in_an_xml_object_is_refused(site):
    depth = 100_000
    content = (
        '<?xml version="1.0" encoding="utf-8"?><django-objects version="1.0">'
        '<object model="sites.site" pk="9"><field name="domain" type="CharField">'
        + "<a>" * depth
        + "</a>" * depth
        + '</field><field name="name" type="CharField">n</field></object>'
        "</django-objects>"
    ).encode()
    refused(site, archive_of(site, "sites.xml", content), 20, "levels deep")


def test_nesting_up_to_the_limit_loads(site):
    """A JSONField nested to MAX_DEPTH in all (object, fields, then the value)."""
    metadata = json.loads(nested(MAX_DEPTH - 2))
    objects = [
        {"model": "library.publisher", "pk": 1, "fields": {"name": "P"}},
        {
            "model": "library.book",
            "pk": "4b0cbd6e-0d43-4c3c-9b43-4f2b4b1f6f11",
            "fields": {
                "title": "Deep",
                "publisher": 1,
                "authors": [],
                "tags": [],
                "price": "1.00",
                "published_at": "2020-01-01T00:00:00Z",
                "metadata": metadata,
                "signature": "",
                "cover": "",
                "sequel": None,
            },
        },
    ]
    content = json.dumps(objects).encode()
    api.load(archive_of(site, "books.json", content), storages_basepath=site / "site")
    assert Book.objects.get(title="Deep").metadata == metadata


# ---- forged tar headers ---------------------------------------------------------


def forged(site: Path, **pax: str) -> Path:
    """A valid archive but for pax header values on ``media/b.txt``."""
    path = site / "archives" / "forged.tar.gz"
    make_archive(
        path,
        data={"sites.json": sites((7, "seven.example.org"))},
        storages={"media": {"a.txt": b"archived", "b.txt": b"forged"}},
    )
    return _rewrite(path, lambda info: info.pax_headers.update(pax))


def _rewrite(path: Path, change) -> Path:
    """Copy the archive's members, letting ``change`` edit b.txt's header."""
    source = io.BytesIO(gzip.decompress(path.read_bytes()))
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=source, mode="r") as tar,
        tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as copy,
    ):
        for info in tar.getmembers():
            data = tar.extractfile(info).read() if info.isreg() else None
            if info.name == "media/b.txt":
                change(info)
            copy.addfile(info, io.BytesIO(data) if data is not None else None)
    path.write_bytes(gzip.compress(out.getvalue(), mtime=0))
    return path


def forge_field(path: Path, offset: int, value: bytes) -> Path:
    """Overwrite a ustar field of ``media/b.txt``'s header and fix its checksum."""
    raw = bytearray(gzip.decompress(path.read_bytes()))
    block = 0
    while True:
        header = raw[block : block + 512]
        name = header[:100].rstrip(b"\0")
        size = int(header[124:136].rstrip(b"\0 ") or b"0", 8)
        if name == b"media/b.txt":
            break
        block += 512 + (size + 511) // 512 * 512
    raw[block + offset : block + offset + len(value)] = value
    raw[block + 148 : block + 156] = b" " * 8
    checksum = sum(raw[block : block + 512])
    raw[block + 148 : block + 156] = b"%06o\0 " % checksum
    path.write_bytes(gzip.compress(bytes(raw), mtime=0))
    return path


@pytest.mark.parametrize(
    "mtime", ["1e30", "-1e30", "nan", "inf", "-inf", str(MTIME_RANGE[1])]
)
def test_an_out_of_range_mtime_is_refused_before_extraction(site, mtime):
    message = refused(site, forged(site, mtime=mtime), 11, "modification time")
    assert "'media/b.txt'" in message
    assert "changed while it was read" not in message


@pytest.mark.parametrize(
    ("pax", "field"),
    [
        ({"size": "-1"}, "size"),
        ({"uid": "99999999999"}, "uid"),
        ({"gid": "-5"}, "gid"),
        ({"uname": "u" * 300}, "uname"),
    ],
)
def test_out_of_range_pax_values_are_refused(site, pax, field):
    message = refused(site, forged(site, **pax), 11, f"a {field} ")
    assert "'media/b.txt'" in message


def test_a_mode_beyond_permission_bits_is_refused(site):
    path = forged(site)
    message = refused(site, forge_field(path, 100, b"7777777\0"), 11, "a mode of")
    assert "0o7777" in message


def test_a_negative_base256_mtime_is_refused(site):
    path = forged(site)
    huge_negative = b"\xff" + b"\x80" + b"\0" * 10  # base-256: about -2**94
    refused(site, forge_field(path, 136, huge_negative), 11, "modification time")


def test_an_mtime_before_1970_is_kept(site):
    """Pre-1970 files are genuine: within the range, restored as they were."""
    path = forged(site, mtime="-86400")
    api.load(path, storages_basepath=site / "site")
    restored = site / "site" / "media" / "b.txt"
    assert restored.read_bytes() == b"forged"
    assert restored.stat().st_mtime == -86400


def test_the_forged_archives_are_otherwise_valid(site):
    """The baseline: the same archive with honest headers loads."""
    api.load(forged(site), storages_basepath=site / "site")
    assert (site / "site" / "media" / "b.txt").read_bytes() == b"forged"
