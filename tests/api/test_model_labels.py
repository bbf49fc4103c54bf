"""One label per model everywhere a user reads it: ``auth.Permission``.

Fixtures keep Django's ``"model": "auth.permission"``; the manifest, inspect,
the plan and the load's result all say ``Model._meta.label``
(:func:`diskette.manifest.model_label`), as dumpdata's arguments do.
"""

from __future__ import annotations

import tarfile

import pytest
from django.conf import settings as django_settings

from diskette import api
from diskette.manifest import Manifest
from sandbox.library.seeding import seed_database

pytestmark = pytest.mark.django_db
PERMISSIONS = [
    "permissions",
    {"models": ["auth.Permission"], "natural_foreign": True, "natural_primary": True},
]


def nonzero(counts: dict[str, int]) -> set[str]:
    return {label for label, count in counts.items() if count}


def test_the_dump_inspect_the_plan_and_the_load_name_a_model_alike(tmp_path, settings):
    settings.DISKETTE_APPS = [PERMISSIONS, *django_settings.DISKETTE_APPS]
    seed_database(20)
    dumped = api.dump(destination=tmp_path / "dumps", with_storages=False)
    with tarfile.open(dumped.path) as tar:
        manifest = Manifest.from_bytes(tar.extractfile("manifest.json").read())
        fixture = tar.extractfile(manifest.data[0].path).read()
    assert b'"model": "auth.permission"' in fixture  # Django's serializer, as is
    recorded = {label for item in manifest.data for label in nonzero(item.models)}
    assert {"auth.Permission", "auth.User", "library.Book"} <= recorded

    inspected = api.inspect(dumped.path).to_dict()
    planned = api.plan_load(dumped.path, with_storages=False).to_dict()
    loaded = api.load(dumped.path, with_storages=False).to_dict()

    assert planned["would_succeed"], planned["problems"]
    shown = {
        "inspect": {m for d in inspected["data"] for m in nonzero(d["models"])},
        "plan": {item["model"] for item in planned["models"] if item["objects"]},
        "load": {m for d in loaded["data"] for m in nonzero(d["models"])},
    }
    assert shown == {"inspect": recorded, "plan": recorded, "load": recorded}
    saved = [{m: n for m, n in d["models"].items() if n} for d in loaded["data"]]
    assert [{m: n for m, n in d.models.items() if n} for d in manifest.data] == saved
