"""The archive's migrations against a database's: shared by dump, plan and load.

A dump records :func:`applied_migrations`; a load compares the archive's with
the target's (:func:`compare_migrations`) and refuses a mismatch in the apps it
loads (:func:`check_migrations`); the plan shows the comparison. Nothing here
writes to a database, and nothing imports the loader: a dump stays light.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.apps import apps as django_apps
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from diskette.exceptions import MigrationMismatchError
from diskette.manifest import DataFile, Manifest
from diskette.reporter import Reporter

#: Note given when an archive has no migration state.
LEGACY_NOTE = (
    "the archive records no migrations (original diskette): the migration check "
    "is skipped"
)


@dataclass
class AppMigrations:
    """One app whose migrations differ between the archive and the target.

    ``missing``: made in the archive's database, known here, not applied in the
    target; ``unknown``: not in this project's code at all; ``extra``: applied
    in the target, not in the archive's database (the target is ahead).
    ``relevant`` apps hold data in the archive (or their migrations depend on
    such an app's): only they block a load.
    """

    app: str
    relevant: bool
    installed: bool = True
    missing: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return self.relevant and bool(self.missing or self.unknown)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "blocking": self.blocking}


@dataclass
class MigrationState:
    """The archive's applied migrations against the target database's."""

    database: str
    checked: bool
    note: str | None = None
    relevant: list[str] = field(default_factory=list)
    apps: list[AppMigrations] = field(default_factory=list)

    @property
    def blocking(self) -> list[AppMigrations]:
        return [item for item in self.apps if item.blocking]

    def differences(self) -> str:
        """Each blocking app and its migrations, as one line."""
        parts = []
        for item in self.blocking:
            if not item.installed:
                parts.append(
                    f"{item.app} (not installed here; the archive has "
                    f"{', '.join(item.unknown)})"
                )
                continue
            names = [f"{name} (not applied)" for name in item.missing]
            names += [f"{name} (unknown to this project)" for name in item.unknown]
            parts.append(f"{item.app} {', '.join(names)}")
        return "; ".join(parts)

    def error(self) -> MigrationMismatchError | None:
        """The error a real load raises, naming each app and migration, or None."""
        blocking = self.blocking
        if not blocking:
            return None
        fix = (
            "deploy the code the archive was made with, then migrate"
            if any(item.unknown for item in blocking)
            else "run 'manage.py migrate' first"
        )
        return MigrationMismatchError(
            f"the archive was made at migrations that database {self.database!r} "
            f"does not have: {self.differences()}: {fix}, or load anyway with "
            "ignore_migrations=True (adding ignorenonexistent=True where fields were "
            "removed); nothing was changed"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "note": self.note,
            "relevant": list(self.relevant),
            "apps": [item.to_dict() for item in self.apps],
        }


def data_apps(manifest: Manifest, data_files: Iterable[DataFile]) -> set[str]:
    """App labels whose models the data files hold.

    A data file that says nothing of its models (but may hold objects) counts as
    every app the archive records migrations for.
    """
    labels: set[str] = set()
    for item in data_files:
        if not item.models:
            if item.objects != 0:
                labels.update(manifest.migrations)
            continue
        for label, count in item.models.items():
            if count:
                labels.add(label.split(".", 1)[0])
    return labels


def applied_migrations(using: str) -> dict[str, list[str]]:
    """The target database's applied migrations per app, in the order applied."""
    recorder = MigrationRecorder(connections[using])
    if not recorder.has_table():
        return {}
    applied: dict[str, list[str]] = {}
    for app, name in recorder.migration_qs.order_by("applied", "id").values_list(
        "app", "name"
    ):
        applied.setdefault(app, []).append(name)
    return applied


def _dependencies(loader: MigrationLoader, app: str) -> set[str]:
    """Apps that ``app``'s migrations depend on (in this project's graph)."""
    found: set[str] = set()
    for key in loader.graph.nodes:
        if key[0] != app:
            continue
        for parent in loader.graph.node_map[key].parents:
            if parent.key[0] != app:
                found.add(parent.key[0])
    return found


def compare_migrations(
    manifest: Manifest, data_files: Sequence[DataFile], using: str
) -> MigrationState:
    """Compare the archive's migrations with the target's; write nothing.

    Relevant apps are those whose models the loaded data files hold, plus the
    apps their migrations depend on; a difference in any other app is listed
    but does not block.
    """
    if manifest.is_legacy:
        return MigrationState(database=using, checked=False, note=LEGACY_NOTE)
    connection = connections[using]
    loader = MigrationLoader(connection, ignore_no_migrations=True, load=False)
    try:
        loader.build_graph()
    except Exception:  # noqa: BLE001 - an inconsistent project: compare names only
        loader = None
    applied = applied_migrations(using)
    relevant = data_apps(manifest, data_files)
    if loader is not None:
        for app in sorted(relevant):
            relevant |= _dependencies(loader, app)
    known = set(loader.disk_migrations) if loader is not None else set()
    state = MigrationState(database=using, checked=True, relevant=sorted(relevant))
    for app in sorted(set(manifest.migrations) | set(applied) | relevant):
        archived = manifest.migrations.get(app, [])
        here = applied.get(app, [])
        done = set(here)
        installed = _installed(app)
        item = AppMigrations(app=app, relevant=app in relevant, installed=installed)
        for name in archived:
            if name in done:
                continue
            if installed and (app, name) in known:
                item.missing.append(name)
            else:
                item.unknown.append(name)
        if app in manifest.migrations:
            archived_set = set(archived)
            item.extra = [name for name in here if name not in archived_set]
        if item.missing or item.unknown or item.extra:
            state.apps.append(item)
    return state


def _installed(app: str) -> bool:
    try:
        django_apps.get_app_config(app)
    except LookupError:
        return False
    return True


def check_migrations(
    manifest: Manifest,
    data_files: Sequence[DataFile],
    using: str,
    *,
    ignore: bool = False,
    reporter: Reporter | None = None,
) -> MigrationState:
    """A real load's check: raise :class:`MigrationMismatchError` on a mismatch
    (a warning with ``ignore``); a note for archives without migration state."""
    reporter = reporter or Reporter()
    state = compare_migrations(manifest, data_files, using)
    if state.note:
        reporter.info(f"note: {state.note}")
    error = state.error()
    if error is not None:
        if not ignore:
            raise error
        reporter.warning(
            f"ignore_migrations=True: loading although database {using!r} does not "
            f"have migrations the archive was made at: {state.differences()}"
        )
    return state
