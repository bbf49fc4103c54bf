"""The manifest a dump writes: what the archive holds, and of which site."""

from __future__ import annotations

import datetime
import platform
from typing import Any

import django
from django.db import connections

from diskette.api.dump_plan import DumpPlan
from diskette.api.dump_results import DataResult, StorageResult
from diskette.contenttypes import recorded_identities
from diskette.environment import installed_distributions
from diskette.exceptions import DumpError, ManifestError
from diskette.manifest import FORMAT_VERSION, DataFile, Manifest, StorageEntry


def dump_manifest(
    plan: DumpPlan,
    data_results: list[DataResult],
    storage_results: list[StorageResult],
    migrations: dict[str, list[str]],
    members: dict[str, str],
) -> dict[str, Any]:
    """The manifest, as the dict ``manifest.json`` holds, validated: what was
    written, the member checksums (``members``), the site's migrations, software
    and content types, and how it was anonymised."""
    from diskette import __version__

    identities = recorded_identities(plan.using)
    now = datetime.datetime.now().astimezone()
    manifest = Manifest(
        version=__version__,
        creation=now.replace(tzinfo=None).isoformat(timespec="seconds"),
        created=now.isoformat(timespec="seconds"),
        format=FORMAT_VERSION,
        data=tuple(
            DataFile(
                path=item.path,
                format=item.format,
                definition=item.name,
                models=dict(item.models),
                objects=item.objects,
                size=item.size,
                sha256=item.sha256,
            )
            for item in data_results
        ),
        storages=tuple(
            StorageEntry(
                name=item.name,
                files=item.files,
                bytes=item.bytes,
                empty_directories=tuple(item.empty_directories),
            )
            for item in storage_results
        ),
        software={
            "diskette": __version__,
            "django": django.get_version(),
            "python": platform.python_version(),
        },
        database={"vendor": connections[plan.using].vendor, "alias": plan.using},
        migrations=migrations,
        members=dict(members),
        environment=tuple(installed_distributions()),
        content_types=tuple(
            (pk, *key) for pk, key in sorted(identities.content_types.items())
        ),
        permissions=tuple(
            (pk, *key) for pk, key in sorted(identities.permissions.items())
        ),
        anonymised=plan.anonymiser.manifest_entry() if plan.anonymiser else None,
    )
    payload = manifest.to_dict()
    try:
        Manifest.from_dict(payload)
    except ManifestError as error:
        raise DumpError(f"the manifest would not be valid: {error}") from None
    return payload
