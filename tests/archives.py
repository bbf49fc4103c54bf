"""Build archives in code: well-formed ones, the original diskette's, and hostile ones.

``make_archive()`` writes a valid archive (ours, or legacy with ``legacy=True``)
from fixtures and storage files; ``extra`` members and a ``tamper`` callback on the
manifest dict let a test break exactly one rule. ``write_tar()`` is the low level:
any list of :class:`Entry`, any manifest bytes, any compression.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diskette.manifest import FORMAT_VERSION, MANIFEST_NAME

MTIME = 1_700_000_000


@dataclass
class Entry:
    """One tar member; ``type`` is a tarfile type constant."""

    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""
    mode: int = 0o644
    mtime: int = MTIME
    size: int | None = None  # declared size, when it should lie
    pax: dict[str, str] | None = None  # pax header records (they win over the name)

    def tarinfo(self) -> tarfile.TarInfo:
        info = tarfile.TarInfo(self.name)
        info.type = self.type
        info.linkname = self.linkname
        info.mode = self.mode
        info.mtime = self.mtime
        if self.pax:
            info.pax_headers = dict(self.pax)
        if self.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
            info.size = len(self.data) if self.size is None else self.size
        return info


def directory(name: str) -> Entry:
    return Entry(name, type=tarfile.DIRTYPE, mode=0o755)


def fixture_bytes(objects: list[dict[str, Any]] | bytes) -> bytes:
    if isinstance(objects, bytes):
        return objects
    return json.dumps(objects, ensure_ascii=False).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_tar(
    path: Path,
    entries: Iterable[Entry],
    *,
    compress: bool = True,
    format: int = tarfile.PAX_FORMAT,  # noqa: A002
) -> Path:
    """Write ``entries`` as a (gzip) tar at ``path``, bypassing every check."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=format) as tar:
        for entry in entries:
            info = entry.tarinfo()
            content = io.BytesIO(entry.data) if info.isreg() else None
            if content is not None and entry.size is not None:
                # A lying size: pad or cut the content so tarfile writes it.
                content = io.BytesIO(entry.data.ljust(entry.size, b"\0")[: entry.size])
            tar.addfile(info, content)
    raw = buffer.getvalue()
    path.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
    return path


def counts(content: bytes, name: str) -> dict[str, int]:
    """Objects per model label of a JSON (lines) fixture, as a dump records them;
    empty for anything else (hostile bytes, XML)."""
    try:
        text = content.decode("utf-8")
        if name.endswith(".jsonl"):
            objects = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            objects = json.loads(text)
    except (ValueError, RecursionError):  # hostile: too deep for json
        return {}
    found: dict[str, int] = {}
    for item in objects if isinstance(objects, list) else []:
        label = item.get("model") if isinstance(item, dict) else None
        if isinstance(label, str):
            found[label] = found.get(label, 0) + 1
    return found


def manifest_dict(
    data: dict[str, bytes],
    storages: dict[str, dict[str, bytes]],
    *,
    legacy: bool = False,
    empty_directories: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The manifest an honest dump of ``data`` and ``storages`` would write."""
    datas = [f"data/{name}" for name in data]
    payload: dict[str, Any] = {
        "version": "0.6.0" if legacy else "0.7.0",
        "creation": "2026-11-21T18:05:25",
        "datas": datas or None,
        "storages": list(storages) or None,
    }
    if legacy:
        return payload
    members = {f"data/{name}": sha256(content) for name, content in data.items()}
    for storage, files in storages.items():
        for relative, content in files.items():
            members[f"{storage}/{relative}"] = sha256(content)
    payload["diskette"] = {
        "format": FORMAT_VERSION,
        "created": "2026-11-21T18:05:25+01:00",
        "software": {"diskette": "0.7.0", "django": "5.2", "python": "3.11"},
        "database": {"vendor": "sqlite", "alias": "default"},
        "migrations": {},
        "environment": [],
        "data": [
            {
                "path": f"data/{name}",
                "definition": name.rsplit(".", 1)[0],
                "format": name.rsplit(".", 1)[-1] if "." in name else "json",
                "models": counts(content, name),
                "objects": sum(counts(content, name).values()),
                "size": len(content),
                "sha256": sha256(content),
            }
            for name, content in data.items()
        ],
        "storages": [
            {
                "name": storage,
                "files": len(files),
                "bytes": sum(len(c) for c in files.values()),
                "empty_directories": list((empty_directories or {}).get(storage, [])),
            }
            for storage, files in storages.items()
        ],
        "members": members,
    }
    return payload


def make_archive(
    path: Path,
    *,
    data: dict[str, list[dict[str, Any]] | bytes] | None = None,
    storages: dict[str, dict[str, bytes]] | None = None,
    legacy: bool = False,
    extra: Iterable[Entry] = (),
    tamper: Callable[[dict[str, Any]], Any] | None = None,
    manifest: bytes | None = None,
    manifest_first: bool | None = None,
    empty_directories: dict[str, list[str]] | None = None,
    compress: bool = True,
) -> Path:
    """Write an archive of ``data`` (fixture name → objects) and ``storages``.

    ``tamper`` may edit the manifest dict in place (or return a new value);
    ``manifest`` replaces its bytes outright. The legacy layout puts the manifest
    last and has no storage directory entries, as the original diskette wrote.
    """
    fixtures = {name: fixture_bytes(objects) for name, objects in (data or {}).items()}
    storages = storages or {}
    payload = manifest_dict(
        fixtures, storages, legacy=legacy, empty_directories=empty_directories
    )
    if tamper is not None:
        changed = tamper(payload)
        payload = payload if changed is None else changed
    raw = manifest if manifest is not None else json.dumps(payload).encode("utf-8")
    entries: list[Entry] = []
    if fixtures:
        entries.append(directory("data"))
    entries += [Entry(f"data/{name}", content) for name, content in fixtures.items()]
    for storage, files in storages.items():
        if not legacy:
            entries.append(directory(storage))
        made: set[str] = set()
        for relative, content in files.items():
            if not legacy:
                parts = relative.split("/")[:-1]
                for index in range(1, len(parts) + 1):
                    sub = "/".join(parts[:index])
                    if sub not in made:
                        made.add(sub)
                        entries.append(directory(f"{storage}/{sub}"))
            entries.append(Entry(f"{storage}/{relative}", content))
        for empty in (empty_directories or {}).get(storage, []):
            entries.append(directory(f"{storage}/{empty}"))
    entries += list(extra)
    first = (not legacy) if manifest_first is None else manifest_first
    manifest_entry = Entry(MANIFEST_NAME, raw)
    entries = [manifest_entry, *entries] if first else [*entries, manifest_entry]
    return write_tar(path, entries, compress=compress)


# Small, valid fixtures on models every Django site has.


def sites(*pairs: tuple[int, str]) -> list[dict[str, Any]]:
    return [
        {"model": "sites.site", "pk": pk, "fields": {"domain": domain, "name": domain}}
        for pk, domain in pairs
    ]


def groups(*pairs: tuple[int, str]) -> list[dict[str, Any]]:
    return [
        {"model": "auth.group", "pk": pk, "fields": {"name": name, "permissions": []}}
        for pk, name in pairs
    ]


def snapshot(root: Path) -> dict[str, Any]:
    """Every path under ``root`` with its type, size, content hash and mtime."""
    state: dict[str, Any] = {}
    if not root.exists():
        return state
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            state[relative] = ("link", str(path.readlink()))
        elif path.is_dir():
            state[relative] = ("dir",)
        else:
            stat = path.stat()
            state[relative] = ("file", sha256(path.read_bytes()), stat.st_mtime_ns)
    return state


#: Limits large enough for the archives the tests write.
STAGE_LIMITS = {"max_size": 64 * 1024 * 1024, "max_members": 1000, "minimal_size": 10}


def stage(archive: Path, root: Path) -> tuple[Path, str]:
    """Stage ``archive`` in a new ``root/staging`` with diskette's reader:
    ``(staging directory, the compression the reader found)``."""
    from diskette.archive import ArchiveReader

    staging = root / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **STAGE_LIMITS) as reader:
        reader.stage(staging)
        return staging, reader.compression
