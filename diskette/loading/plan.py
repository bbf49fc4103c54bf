"""The plan of a load: what ``diskette_load`` would do, as data and as text.

``diskette.api.plan_load`` fills a :class:`LoadPlan` from the migration
comparison (:mod:`diskette.migrations`), the row counts
(:mod:`diskette.loading.counting`), the rehearsal (:mod:`diskette.loading.rehearsal`)
and the storages' differences; :meth:`LoadPlan.lines` words it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from diskette.loading.counting import ModelRows
from diskette.migrations import MigrationState
from diskette.restore.diff import StorageDiff


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
