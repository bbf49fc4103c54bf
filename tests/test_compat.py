"""Archives written by the original diskette 0.6.0 load exactly.

They sit in ``shared/compat/diskette-0.6.0`` beside the repository, with the
data they must give (``expected-data.json``) and the files' sha256 (README).
"""

from __future__ import annotations

import hashlib
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from diskette import api

COMPAT = Path(__file__).resolve().parents[2] / "shared" / "compat" / "diskette-0.6.0"
MEDIA_FILES = {
    "images/2024/photo.jpg": "629967a92a69cdcf4e9a35687dee494a543893e10ca89174d7fcc857f2c4f6f4",
    "docs/readme.txt": "081a84a93e45d1b90da31b13c72af6909255aa1293b6c6eebdaf9300f9443b31",
    "docs/unicodé ñame.txt": "f682a5ef26796a5f98678d3a028d07c8853e6c5fc01005b55bd95852d00fc917",
}

pytestmark = [
    pytest.mark.skipif(
        not (COMPAT / "expected-data.json").is_file(),
        reason=f"the original diskette's archives are not beside the repository "
        f"({COMPAT} is absent)",
    ),
    pytest.mark.django_db,
]


def normalised(objects: list[dict]) -> list[dict]:
    """Objects sorted by model and pk, many-to-many lists as sorted lists (sets)."""
    for item in objects:
        for name, value in item["fields"].items():
            if isinstance(value, list):
                item["fields"][name] = sorted(value, key=json.dumps)
    return sorted(objects, key=lambda o: (o["model"], json.dumps(o.get("pk"))))


def current_data() -> list[dict]:
    out = StringIO()
    call_command(
        "dumpdata", "auth.user", "auth.group", "sites", natural_foreign=True, stdout=out
    )
    return normalised(json.loads(out.getvalue()))


def expected_data() -> list[dict]:
    return normalised(json.loads((COMPAT / "expected-data.json").read_text("utf-8")))


def files_of(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file()
    }


@pytest.mark.parametrize(
    "name", ["diskette_data_storages.tar.gz", "diskette_data.tar.gz"]
)
def test_original_archive_loads_exactly(name, tmp_path):
    archive = tmp_path / name
    archive.write_bytes((COMPAT / name).read_bytes())
    base = tmp_path / "site"
    result = api.load(archive, storages_basepath=base)
    assert result.legacy
    assert current_data() == expected_data()
    assert result.objects == len(expected_data())
    if name == "diskette_data_storages.tar.gz":
        assert files_of(base / "media") == MEDIA_FILES
        assert [s.name for s in result.storages] == ["media"]
    else:
        assert not (base / "media").exists()
        assert [d.path for d in result.data][-1] == "data/everything-else.json"
    assert archive.is_file(), "the input archive is never deleted"
    assert sorted(p.name for p in base.iterdir()) == (
        ["media"] if "storages" in name else []
    )


def test_original_archive_replaces_an_existing_media_directory(tmp_path):
    base = tmp_path / "site"
    (base / "media" / "stale").mkdir(parents=True)
    (base / "media" / "stale" / "old.txt").write_bytes(b"old")
    api.load(COMPAT / "diskette_data_storages.tar.gz", storages_basepath=base)
    assert files_of(base / "media") == MEDIA_FILES


def test_original_archive_loads_twice_by_primary_key(tmp_path):
    """A second load merges by primary key, as loaddata does: same data."""
    for _ in range(2):
        api.load(COMPAT / "diskette_data.tar.gz", storages_basepath=tmp_path)
    assert current_data() == expected_data()
