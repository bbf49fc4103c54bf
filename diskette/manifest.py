"""The archive manifest: what an archive holds, and how to check it.

``manifest.json`` keeps the keys the original diskette reads (``version``,
``creation``, ``datas``, ``storages``) so that archives travel both ways, and
adds everything else under a ``diskette`` key, validated against
``schemas/manifest-1.json``. A manifest without that key is the original's
(``format`` is ``None``); its fixtures are always JSON, whatever their extension.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

from diskette.exceptions import ManifestError, UnsupportedVersionError
from diskette.paths import storage_name

#: Name of the manifest member at the root of every archive.
MANIFEST_NAME = "manifest.json"
#: Name of the member that holds the manifest's signature, when the archive is
#: signed (:mod:`diskette.crypto.signing`); it follows the manifest.
SIGNATURE_NAME = "manifest.json.sig"
#: The members that describe the archive: neither a data file nor a storage's.
METADATA_NAMES = frozenset({MANIFEST_NAME, SIGNATURE_NAME})
#: Largest signature member accepted, in bytes.
MAX_SIGNATURE_SIZE = 16 * 1024
#: Prefix of fixture members.
DATA_PREFIX = "data/"
#: Archive format this diskette writes and the newest it reads.
FORMAT_VERSION = 1
#: Largest manifest accepted, in bytes: it is read into memory.
MAX_MANIFEST_SIZE = 256 * 1024 * 1024


@lru_cache(maxsize=1)
def schema() -> dict:
    """The manifest JSON schema shipped in the package."""
    text = (
        resources.files("diskette")
        .joinpath("schemas", f"manifest-{FORMAT_VERSION}.json")
        .read_text("utf-8")
    )
    return json.loads(text)


@dataclass(frozen=True)
class DataFile:
    """One fixture in the archive."""

    path: str
    format: str = "json"
    definition: str | None = None
    models: dict[str, int] = field(default_factory=dict)
    objects: int | None = None
    size: int | None = None
    sha256: str | None = None

    @property
    def filename(self) -> str:
        """The file name without the ``data/`` prefix."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class StorageEntry:
    """One storage directory in the archive."""

    name: str
    files: int | None = None
    bytes: int | None = None
    empty_directories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest; ``format`` is ``None`` for the original diskette's."""

    version: str
    creation: str
    data: tuple[DataFile, ...] = ()
    storages: tuple[StorageEntry, ...] = ()
    format: int | None = None
    created: str | None = None
    software: dict[str, str] = field(default_factory=dict)
    database: dict[str, str] = field(default_factory=dict)
    migrations: dict[str, list[str]] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)
    environment: tuple[str, ...] = ()
    #: The source's content types as ``(id, app_label, model)``.
    content_types: tuple[tuple[int, str, str], ...] = ()
    #: The source's permissions as ``(id, app_label, model, codename)``.
    permissions: tuple[tuple[int, str, str, str], ...] = ()
    #: ``{"profile": ..., "rules": sha256 of the rule set}`` when the archive is an
    #: anonymised copy (:mod:`diskette.anonymise`); never the salt.
    anonymised: dict[str, Any] | None = None

    @property
    def is_legacy(self) -> bool:
        """True for archives written by the original diskette (no checksums)."""
        return self.format is None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form, legacy keys first."""
        payload: dict[str, Any] = {
            "version": self.version,
            "creation": self.creation,
            "datas": [item.path for item in self.data] or None,
            "storages": [item.name for item in self.storages] or None,
        }
        if self.is_legacy:
            return payload
        payload["diskette"] = {
            "format": self.format,
            "created": self.created,
            "software": dict(self.software),
            "database": dict(self.database),
            "migrations": {k: list(v) for k, v in self.migrations.items()},
            "environment": list(self.environment),
            "data": [
                {
                    "path": item.path,
                    "definition": item.definition,
                    "format": item.format,
                    "models": dict(item.models),
                    "objects": item.objects,
                    "size": item.size,
                    "sha256": item.sha256,
                }
                for item in self.data
            ],
            "storages": [
                {
                    "name": item.name,
                    "files": item.files,
                    "bytes": item.bytes,
                    "empty_directories": list(item.empty_directories),
                }
                for item in self.storages
            ],
            "members": dict(self.members),
            "content_types": [list(row) for row in self.content_types],
            "permissions": [list(row) for row in self.permissions],
        }
        if self.anonymised is not None:
            payload["diskette"]["anonymised"] = dict(self.anonymised)
        return payload

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_dict(cls, payload: Any) -> Manifest:
        """Validate a decoded manifest and build it; raise ManifestError if it is wrong."""
        extra = cls._validated(payload)
        if extra is None:
            return cls(
                version=payload["version"],
                creation=payload["creation"],
                data=tuple(DataFile(path=path) for path in payload["datas"] or ()),
                storages=tuple(
                    StorageEntry(name=storage_name(n))
                    for n in payload["storages"] or ()
                ),
            )
        data = tuple(
            DataFile(
                path=item["path"],
                format=item["format"],
                definition=item["definition"],
                models=dict(item["models"]),
                objects=item["objects"],
                size=item["size"],
                sha256=item["sha256"],
            )
            for item in extra["data"]
        )
        storages = tuple(
            StorageEntry(
                name=storage_name(item["name"]),
                files=item["files"],
                bytes=item["bytes"],
                empty_directories=tuple(item["empty_directories"]),
            )
            for item in extra["storages"]
        )
        if [d.path for d in data] != list(payload["datas"] or []) or [
            s.name for s in storages
        ] != [storage_name(n) for n in payload["storages"] or []]:
            raise ManifestError(
                "manifest.json lists different files under 'datas'/'storages' and "
                "'diskette': the archive is damaged or was edited"
            )
        return cls(
            version=payload["version"],
            creation=payload["creation"],
            data=data,
            storages=storages,
            format=extra["format"],
            created=extra["created"],
            software=dict(extra["software"]),
            database=dict(extra["database"]),
            migrations={k: list(v) for k, v in extra["migrations"].items()},
            members=dict(extra["members"]),
            environment=tuple(extra.get("environment", ())),
            content_types=tuple(tuple(row) for row in extra.get("content_types", ())),
            permissions=tuple(tuple(row) for row in extra.get("permissions", ())),
            anonymised=dict(extra["anonymised"]) if "anonymised" in extra else None,
        )

    @staticmethod
    def _validated(payload: Any) -> dict[str, Any] | None:
        """Check ``payload`` against the schema; its ``diskette`` key, if it has one.

        A newer format is refused before the schema is applied: its manifest may
        not match this diskette's schema, and "upgrade" is the useful answer.
        """
        if not isinstance(payload, dict):
            raise ManifestError(
                "manifest.json is not a JSON object: the archive was not written by "
                "diskette or is damaged"
            )
        extra = payload.get("diskette")
        if isinstance(extra, dict):
            found = extra.get("format")
            if isinstance(found, int) and found > FORMAT_VERSION:
                raise UnsupportedVersionError(
                    f"the archive has format version {found}, this diskette reads "
                    f"format {FORMAT_VERSION} and older: upgrade diskette to load it"
                )
        error = _schema_error(payload)
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "(root)"
            raise ManifestError(
                f"manifest.json does not match the manifest schema at {where}: "
                f"{error.message}"
            )
        return extra

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        """Parse manifest.json content; raise ManifestError on anything wrong."""
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ManifestError(
                f"manifest.json is not valid JSON ({error}): the archive is damaged"
            ) from None
        return cls.from_dict(payload)


#: What every value of ``diskette.members`` is (the schema's ``sha256``).
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _schema_error(payload: dict[str, Any]) -> Any:
    """The schema's best error for ``payload``, or None.

    ``diskette.members`` holds one digest per archive member, 20,000 for a
    media-heavy site: checked one by one by jsonschema they cost seconds of a
    load. They are checked here with one regular expression each, the rest of
    the manifest by the schema; only a manifest with a bad digest goes through
    the schema whole, for the schema's own message.
    """
    validator = jsonschema.Draft202012Validator(schema())
    extra = payload.get("diskette")
    members = extra.get("members") if isinstance(extra, dict) else None
    if isinstance(members, dict) and all(
        type(value) is str and _SHA256.fullmatch(value) for value in members.values()
    ):
        payload = {**payload, "diskette": {**extra, "members": {}}}
    return jsonschema.exceptions.best_match(validator.iter_errors(payload))


# ---- object counts ---------------------------------------------------------------

#: The key objects without a model label are counted under.
NO_MODEL = "(no model label)"


def model_label(label: Any) -> str:
    """The one form a model label is counted, compared and shown in: the
    ``app_label.ModelName`` of ``Model._meta.label``, as dumpdata's arguments,
    Django's messages and the manifest say it.

    Fixtures write ``auth.permission`` (Django's serializers, kept byte-exact),
    the manifest records ``auth.Permission``: both are ``auth.Permission``. An
    installed model is looked up as ``django.apps.apps.get_model`` does it (the
    model name in any case); a label naming no installed model is kept as
    written, and an object without a label (or with one that is not a string)
    is counted under :data:`NO_MODEL`. The registry is imported here, not with
    the module: reading a manifest needs no Django models.
    """
    if not isinstance(label, str):
        return NO_MODEL
    from django.apps import apps

    try:
        shown: str = apps.get_model(label)._meta.label
    except (LookupError, ValueError):
        return label
    return shown


def count_per_label(counts: Mapping[Any, int]) -> dict[str, int]:
    """Counts summed per :func:`model_label`: what a result shows."""
    merged: dict[str, int] = {}
    for label, count in counts.items():
        shown = model_label(label)
        merged[shown] = merged.get(shown, 0) + count
    return merged


def count_objects(objects: Iterable[Any], counts: dict[Any, int]) -> Iterator[Any]:
    """Yield a fixture's raw objects, counting each in ``counts`` under its model
    label as written (:func:`check_counts` and :func:`count_per_label` turn them
    into :func:`model_label`): the plan, the load and inspect count what a file
    holds with it."""
    get = counts.get
    for raw in objects:
        try:
            label = raw["model"]
            counts[label] = get(label, 0) + 1
        except (TypeError, KeyError, IndexError):  # no label, or not hashable
            counts[NO_MODEL] = get(NO_MODEL, 0) + 1
        yield raw


def check_counts(
    data_file: DataFile,
    counts: Mapping[Any, int],
    *,
    comparable: Callable[[str], bool] | None = None,
) -> None:
    """Raise ManifestError when the objects counted in a data file are not the
    ones its manifest entry records, per model and in total.

    Nothing is compared when the entry records no counts (the original
    diskette's). ``comparable`` is for counts of deserialized objects, which miss
    the models the deserializer skipped: only the models whose :func:`model_label`
    it accepts are compared, and not the total.
    """
    if data_file.objects is None and not data_file.models:
        return
    shown: dict[str, str] = {}
    recorded = _by_key(data_file.models, shown)  # first: its spelling is shown
    found_per_key = _by_key(counts, shown)
    for key in sorted(set(recorded) | set(found_per_key)):
        label = shown[key]
        if comparable is not None and not comparable(label):
            continue
        found, said = found_per_key.get(key, 0), recorded.get(key, 0)
        if found != said:
            raise ManifestError(
                f"data file {data_file.path!r} holds {_objects(found)} of {label}, "
                f"the manifest says {said}: {_DISAGREE}"
            )
    total = sum(counts.values())
    if comparable is None and data_file.objects not in (None, total):
        raise ManifestError(
            f"data file {data_file.path!r} holds {_objects(total)}, the manifest "
            f"says {data_file.objects}: {_DISAGREE}"
        )


_DISAGREE = (
    "the manifest does not describe its fixture (the archive was altered or "
    "damaged): load a trusted copy or dump it again"
)


def _by_key(counts: Mapping[Any, int], shown: dict[str, str]) -> dict[str, int]:
    """Counts summed per :func:`model_label` in lower case, each key's label put
    in ``shown`` (the first one met).

    The lower case is for models this project no longer has: their labels stay
    as written, ``gone.Relic`` in the manifest and ``gone.relic`` in the fixture,
    and they still are one model (Django's model names are case-insensitive).
    """
    merged: dict[str, int] = {}
    for label, count in counts.items():
        name = model_label(label)
        key = name.lower()
        shown.setdefault(key, name)
        merged[key] = merged.get(key, 0) + count
    return merged


def _objects(count: int) -> str:
    return f"{count} object" if count == 1 else f"{count} objects"
