"""Know before you load: what a load would change, and what would make it fail.

:func:`compare_migrations` compares the migrations an archive was made at with
the target database's (a real load refuses on a mismatch); :func:`count_rows`
counts the target's rows and the primary keys an archive's objects share with
them; :func:`rehearse` runs the load in a transaction that is rolled back. The
pipeline that puts them together is ``diskette.api.plan_load``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.apps import apps as django_apps
from django.core import serializers
from django.db import DatabaseError, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from diskette.exceptions import LoadError, MigrationMismatchError
from diskette.load.fixtures import read_objects
from diskette.load.loader import Fixture, FixtureResult, load_fixtures
from diskette.manifest import DataFile, Manifest
from diskette.reporter import Reporter
from diskette.restore.diff import StorageDiff

#: Primary keys looked up per query when counting collisions.
PK_CHUNK = 500
#: Note given when an archive has no migration state.
LEGACY_NOTE = (
    "the archive records no migrations (original diskette): the migration check "
    "is skipped"
)

# ---- migrations ----------------------------------------------------------------


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
            "--ignore-migrations (adding --ignorenonexistent where fields were "
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
            f"--ignore-migrations: loading although database {using!r} does not "
            f"have migrations the archive was made at: {state.differences()}"
        )
    return state


# ---- rows and collisions -------------------------------------------------------


@dataclass
class ModelRows:
    """One model of the archive: objects in it, rows in the target, shared keys.

    ``collisions`` is the number of the archive's primary keys already in the
    target (their rows would be replaced); objects without a primary key
    (natural primary keys) are counted in ``unknown``.
    """

    model: str
    objects: int = 0
    rows: int | None = None
    collisions: int | None = 0
    unknown: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _model(label: Any):
    if not isinstance(label, str):
        return None
    try:
        return django_apps.get_model(label)
    except (LookupError, ValueError):
        return None


def _raw_objects(fixture: Fixture, using: str) -> Iterable[tuple[str, Any, bool]]:
    """(model label, primary key, has a primary key) of each object of a fixture."""
    with open(fixture.path, "rb") as stream:
        objects = read_objects(stream, fixture.format)
        if objects is not None:
            for raw in objects:
                if isinstance(raw, dict):
                    yield raw.get("model"), raw.get("pk"), "pk" in raw
            return
        for item in serializers.deserialize(
            fixture.format,
            stream,
            using=using,
            ignorenonexistent=True,
            handle_forward_references=True,
        ):
            yield item.object._meta.label, item.object.pk, item.object.pk is not None


class _Counter:
    """Looks up the archive's primary keys in the target, ``PK_CHUNK`` at a time."""

    def __init__(self, using: str):
        self.using = using
        self.models: dict[str, ModelRows] = {}
        self.pending: dict[Any, list] = {}

    def add(self, label: Any, pk: Any, has_pk: bool) -> None:
        model = _model(label)
        if model is None:
            return  # the rehearsal names a model that does not exist
        rows = self.row(model)
        rows.objects += 1
        if not has_pk or pk is None:
            rows.unknown += 1
            return
        try:
            value = model._meta.pk.to_python(pk)
        except Exception:  # noqa: BLE001 - the rehearsal reports a bad value
            return
        chunk = self.pending.setdefault(model, [])
        chunk.append(value)
        if len(chunk) >= PK_CHUNK:
            self.flush(model)

    def _count(self, queryset) -> int | None:
        """A count, or None when the table cannot be read (not migrated)."""
        try:
            with transaction.atomic(using=self.using):
                return queryset.count()
        except DatabaseError:
            return None

    def row(self, model) -> ModelRows:
        label = model._meta.label
        if label not in self.models:
            rows = self._count(model._base_manager.using(self.using))
            self.models[label] = ModelRows(
                model=label, rows=rows, collisions=0 if rows is not None else None
            )
        return self.models[label]

    def flush(self, model) -> None:
        chunk = self.pending.pop(model, [])
        rows = self.row(model)
        if chunk and rows.collisions is not None:
            manager = model._base_manager.using(self.using)
            found = self._count(manager.filter(pk__in=set(chunk)))
            rows.collisions = None if found is None else rows.collisions + found


def count_rows(fixtures: Sequence[Fixture], using: str) -> list[ModelRows]:
    """Per model: objects in the fixtures (never the manifest's figures), rows in
    the target and colliding primary keys; streams the fixtures, memory stays flat."""
    counter = _Counter(using)
    for fixture in fixtures:
        try:
            with transaction.atomic(using=using):
                for label, pk, has_pk in _raw_objects(fixture, using):
                    counter.add(label, pk, has_pk)
        except Exception:  # noqa: BLE001, S112 - unreadable: the rehearsal says why
            continue
    for model in list(counter.pending):
        counter.flush(model)
    return sorted(counter.models.values(), key=lambda item: item.model)


# ---- the rolled-back load ------------------------------------------------------


def _sequences(using: str) -> dict[tuple[str, str], int]:
    """PostgreSQL sequence values: ``setval()`` is not undone by a rollback."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname, sequencename, last_value FROM pg_sequences "
            "WHERE last_value IS NOT NULL"
        )
        return {(schema, name): value for schema, name, value in cursor.fetchall()}


def _restore_sequences(using: str, before: dict[tuple[str, str], int]) -> None:
    """Put back any sequence the rehearsal lowered; never lower one."""
    if not before:
        return
    connection = connections[using]
    after = _sequences(using)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for key, value in before.items():
            if after.get(key, value) < value:
                name = f"{quote(key[0])}.{quote(key[1])}"
                cursor.execute(
                    "SELECT setval(%s::regclass, GREATEST(%s, last_value)) FROM "  # noqa: S608
                    + name,
                    [name, value],
                )


def _clear_caches() -> None:
    """Forget cached rows the rolled-back transaction may have created."""
    if django_apps.is_installed("django.contrib.contenttypes"):
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()
    if django_apps.is_installed("django.contrib.sites"):
        from django.contrib.sites.models import Site

        Site.objects.clear_cache()


def rehearse(
    fixtures: Sequence[Fixture], *, using: str, **options: Any
) -> tuple[list[FixtureResult], LoadError | None]:
    """Load ``fixtures`` as a real load does, then roll everything back.

    Returns what would be loaded, or the :class:`LoadError` the load would
    raise (it names the data file and the object). ``options`` are those of
    :func:`diskette.load.loader.load_fixtures`; with ``expected``, a fixture whose
    objects are not what the manifest counts raises :class:`ManifestError`, at
    the moment the load would.
    """
    sequences = _sequences(using)
    results: list[FixtureResult] = []
    error: LoadError | None = None
    try:
        with transaction.atomic(using=using):
            try:
                results = load_fixtures(fixtures, using=using, **options)
            except LoadError as failure:
                error = failure
            except DatabaseError as failure:
                error = LoadError(
                    f"the load would fail: {' '.join(str(failure).split())} (is the "
                    "database migrated?)"
                )
            transaction.set_rollback(True, using=using)
    finally:
        _clear_caches()
        _restore_sequences(using, sequences)
    return results, error


# ---- the plan ------------------------------------------------------------------


@dataclass
class Problem:
    """Something that would make the load fail, with the exit status it gives."""

    kind: str
    exit_code: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoadPlan:
    """What ``diskette_load`` would do; ``to_dict()`` is the ``--json`` form.

    ``exit_code`` is 0 when the load would succeed, else the status of the first
    problem (the exit status of the error the load would raise).
    """

    archive: str
    format: int | None
    legacy: bool
    database: str
    vendors: dict[str, str | None]
    flush: bool
    storages_mode: str
    migrations: MigrationState
    models: list[ModelRows]
    data: list[dict[str, Any]]
    storages: list[StorageDiff]
    excluded: list[str]
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return self.problems[0].exit_code if self.problems else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "format": self.format,
            "legacy": self.legacy,
            "database": self.database,
            "vendors": dict(self.vendors),
            "flush": self.flush,
            "storages_mode": self.storages_mode,
            "would_succeed": not self.problems,
            "exit_code": self.exit_code,
            "migrations": self.migrations.to_dict(),
            "models": [item.to_dict() for item in self.models],
            "data": list(self.data),
            "storages": [item.to_dict() for item in self.storages],
            "excluded": list(self.excluded),
            "problems": [item.to_dict() for item in self.problems],
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        """The plan as text, one fact per line."""
        out = [f"Plan for loading {self.archive} into database {self.database!r}"]
        out.append(
            f"database vendor: archive {self.vendors['archive'] or 'unknown'}, "
            f"target {self.vendors['target']}"
        )
        state = self.migrations
        if not state.checked:
            out.append(f"migrations: {state.note}")
        elif not state.apps:
            out.append("migrations: the archive's and the target's are the same")
        else:
            out.append("migrations (archive vs target):")
            for item in state.apps:
                parts = []
                if not item.installed:
                    parts.append("app not installed")
                if item.missing:
                    parts.append("not applied: " + ", ".join(item.missing))
                if item.unknown:
                    parts.append("unknown: " + ", ".join(item.unknown))
                if item.extra:
                    parts.append("only in the target: " + ", ".join(item.extra))
                flag = "blocks the load" if item.blocking else "does not block"
                out.append(f"  {item.app}: {'; '.join(parts)} ({flag})")
        if self.models:
            out.append(
                "models (objects in the archive, rows in the target, colliding):"
            )
            width = max(len(item.model) for item in self.models)
            for item in self.models:
                unknown = f", {item.unknown} unknown" if item.unknown else ""
                out.append(
                    f"  {item.model:<{width}}  {item.objects:>7} objects  "
                    f"{_number(item.rows):>7} rows  "
                    f"{_number(item.collisions):>7} colliding{unknown}"
                )
        for item in self.storages:
            line = (
                f"storage {item.name} ({item.mode}): {item.added} added "
                f"({item.added_bytes} bytes), {item.replaced} replaced "
                f"({item.replaced_bytes} bytes), {item.removed} removed "
                f"({item.removed_bytes} bytes), {item.unchanged} unchanged"
            )
            out.append(line)
        out.extend(f"note: {note}" for note in self.notes)
        if self.problems:
            out.append(f"the load would fail (exit status {self.exit_code}):")
            out.extend(f"  {item.message}" for item in self.problems)
        else:
            out.append("the load would succeed")
        return out


def _number(value: int | None) -> str:
    return "?" if value is None else str(value)
