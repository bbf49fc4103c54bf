"""Which archives of a destination to keep, and the prune that deletes the rest.

A :class:`Retention` is a set of rules; an archive is kept when ANY rule keeps it
(union), as with restic's ``forget``: each rule is applied to every archive on
its own, so ``daily=7, weekly=4`` keeps the newest archive of each of the last 7
days and that of each of the last 4 ISO weeks, overlapping or not. Only archives
written by diskette (a valid sidecar, see :mod:`.sidecar`) are ever candidates:
the others are left alone, whatever the rules.

:func:`plan_prune` is pure (entries in, a plan out, no I/O) so that every rule is
tested on dates alone; :func:`prune` lists, plans, and deletes. The
``DISKETTE_RETENTION`` setting is read by :func:`configured_retention` (a dict of
rules, see :meth:`Retention.from_setting`); rule values written as text
(``30d``, ``2GiB``) are read by :mod:`.quantities`, whose ``parse_duration`` and
``parse_size`` are importable from here too.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from diskette.conf import get_settings
from diskette.destinations.listing import ArchiveEntry, scan_destination
from diskette.destinations.quantities import parse_duration, parse_size, show_value
from diskette.destinations.sidecar import archive_of_sidecar
from diskette.exceptions import ConfigurationError, PruneError
from diskette.problems import kind_of

if TYPE_CHECKING:
    from diskette.destinations.protocols import ArchiveStorage

UTC = datetime.timezone.utc
#: The setting a prune applies when it is given no rules.
RETENTION_SETTING = "DISKETTE_RETENTION"
RETENTION_HINT = (
    f"Set {RETENTION_SETTING} to None (no retention) or to a dict of one rule or "
    "more, such as {'keep_last': 7, 'newer_than': '30d', 'max_total_size': "
    "'20GB', 'daily': 7, 'weekly': 4, 'monthly': 12, 'yearly': 3}"
)


@dataclass(frozen=True)
class Retention:
    """What to keep; at least one rule, each a positive number.

    ``keep_last``: the newest N archives. ``newer_than``: the archives younger
    than this. ``max_total_size``: the newest archives whose sizes, summed from
    the newest, stay within this many bytes (it stops at the first that does not
    fit). ``daily``/``weekly``/``monthly``/``yearly``: the newest archive of each
    of the last N days, ISO weeks, months or years (in UTC) that hold one.
    """

    keep_last: int | None = None
    newer_than: datetime.timedelta | None = None
    max_total_size: int | None = None
    daily: int | None = None
    weekly: int | None = None
    monthly: int | None = None
    yearly: int | None = None

    def __post_init__(self) -> None:
        given = self.rules()
        if not given:
            raise ConfigurationError(
                "a retention needs at least one rule: keep_last, newer_than, "
                "max_total_size, daily, weekly, monthly or yearly"
            )
        for name, value in given.items():
            _check_rule(name, value)

    def rules(self) -> dict[str, Any]:
        """The rules given, by name, in the order they are applied."""
        return {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if getattr(self, item.name) is not None
        }

    def describe(self) -> str:
        """One line naming the rules, e.g. ``keep_last=3, daily=7``."""
        return ", ".join(
            f"{name}={show_value(value)}" for name, value in self.rules().items()
        )

    @classmethod
    def from_setting(cls, value: object) -> Retention:
        """The retention a ``DISKETTE_RETENTION`` dict describes.

        Its keys are the rules; ``newer_than`` may be written ``"30d"`` (or be a
        timedelta) and ``max_total_size`` ``"2GiB"`` (or a number of bytes), as
        the options of ``diskette_prune`` take them. Raise ConfigurationError
        naming the setting and what is wrong.
        """
        try:
            return cls(**_setting_rules(value))
        except (ConfigurationError, ValueError) as error:
            raise ConfigurationError(
                f"{RETENTION_SETTING}: {error}: {RETENTION_HINT[0].lower()}"
                f"{RETENTION_HINT[1:]}"
            ) from None


def configured_retention() -> Retention:
    """The retention ``DISKETTE_RETENTION`` sets; ConfigurationError when it is
    unset (a prune given no rules has none to apply) or wrong."""
    value = get_settings().retention
    if value is None:
        raise ConfigurationError(
            f"{RETENTION_SETTING} is not set, so there is no retention to apply: "
            "give this prune its rules, or set it to a dict of rules such as "
            "{'keep_last': 7, 'daily': 7}"
        )
    return Retention.from_setting(value)


def retention_problem(value: object) -> str | None:
    """What is wrong with a ``DISKETTE_RETENTION`` value, ``None`` when nothing
    (``None`` itself is valid: no retention); the system check's words."""
    if value is None:
        return None
    try:
        Retention(**_setting_rules(value))
    except (ConfigurationError, ValueError) as error:
        return str(error)
    return None


def _setting_rules(value: object) -> dict[str, Any]:
    """The keyword arguments of :class:`Retention` a setting's dict gives, the
    text values read; ValueError when it is no dict or names no rule."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{value!r} ({kind_of(value)}) is not a dict of rules")
    names = [item.name for item in fields(Retention)]
    unknown = sorted(repr(key) for key in value if key not in names)
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)}: no such rule (the rules: {', '.join(names)})"
        )
    rules = dict(value)
    parsers: dict[str, Callable[[str], Any]] = {
        "newer_than": parse_duration,
        "max_total_size": parse_size,
    }
    for name, parse in parsers.items():
        if isinstance(rules.get(name), str):
            try:
                rules[name] = parse(rules[name])
            except ValueError as error:
                raise ValueError(f"{name} {error}") from None
    return rules


def _check_rule(name: str, value: Any) -> None:
    """Raise ConfigurationError unless ``value`` is one the rule ``name`` takes."""
    if name == "newer_than":
        positive = isinstance(value, datetime.timedelta) and value.total_seconds() > 0
        if not positive:
            raise ConfigurationError(
                f"newer_than {value!r} is not a positive duration: give one such "
                "as 30d or 12h"
            )
    elif type(value) is not int or value < 1:
        raise ConfigurationError(
            f"{name} {value!r} is not a positive whole number: give 1 or more"
        )


@dataclass(frozen=True)
class PrunePlan:
    """What a prune keeps (each archive with the rules that keep it) and deletes.

    Lists are newest first; ``ignored`` are the archives not written by
    diskette, which are neither kept by a rule nor deleted.
    """

    keep: list[tuple[ArchiveEntry, tuple[str, ...]]]
    delete: list[ArchiveEntry]
    ignored: list[ArchiveEntry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "keep": [
                {"archive": entry.to_dict(), "reasons": list(reasons)}
                for entry, reasons in self.keep
            ],
            "delete": [entry.to_dict() for entry in self.delete],
            "ignored": [entry.to_dict() for entry in self.ignored],
        }


@dataclass(frozen=True)
class PruneResult:
    """What a prune did: file names deleted (archives, then their sidecars), the
    ones it should have deleted and did not (``failed``, from the one that failed
    on), and the backend's error. With ``dry_run`` nothing was deleted and
    ``deleted`` names what would have been."""

    deleted: list[str]
    kept: list[tuple[str, tuple[str, ...]]]
    failed: list[str] = field(default_factory=list)
    error: str | None = None
    dry_run: bool = False
    ignored: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "deleted": list(self.deleted),
            "kept": [
                {"archive": name, "reasons": list(reasons)}
                for name, reasons in self.kept
            ],
            "failed": list(self.failed),
            "error": self.error,
            "dry_run": self.dry_run,
            "ignored": list(self.ignored),
        }


# ---- the plan ------------------------------------------------------------------

#: A rule: (candidates newest first, its value, now) -> (index kept, reason)...
Rule = Callable[[list[ArchiveEntry], Any, datetime.datetime], Iterator[tuple[int, str]]]


def plan_prune(
    entries: list[ArchiveEntry], retention: Retention, now: datetime.datetime
) -> PrunePlan:
    """Split ``entries`` into kept and deleted by ``retention`` at ``now`` (aware)."""
    if now.tzinfo is None:
        raise ValueError(f"now {now.isoformat()!r} has no time zone")
    candidates = sorted(
        (e for e in entries if e.written_by_diskette and e.created is not None),
        key=lambda entry: (entry.created, entry.name),
        reverse=True,
    )
    ignored = [e for e in entries if not e.written_by_diskette or e.created is None]
    reasons: list[list[str]] = [[] for _ in candidates]
    for name, value in retention.rules().items():
        for index, reason in _RULES[name](candidates, value, now):
            reasons[index].append(reason)
    return PrunePlan(
        keep=[(c, tuple(r)) for c, r in zip(candidates, reasons, strict=True) if r],
        delete=[c for c, r in zip(candidates, reasons, strict=True) if not r],
        ignored=ignored,
    )


def _keep_last(
    candidates: list[ArchiveEntry], count: int, now: datetime.datetime
) -> Iterator[tuple[int, str]]:
    for index in range(min(count, len(candidates))):
        yield index, f"keep_last ({index + 1} of {count})"


def _newer_than(
    candidates: list[ArchiveEntry], age: datetime.timedelta, now: datetime.datetime
) -> Iterator[tuple[int, str]]:
    for index, entry in enumerate(candidates):
        assert entry.created is not None  # candidates are dated
        if now - entry.created < age:
            yield index, f"newer_than ({show_value(age)})"


def _max_total_size(
    candidates: list[ArchiveEntry], limit: int, now: datetime.datetime
) -> Iterator[tuple[int, str]]:
    total = 0
    for index, entry in enumerate(candidates):
        total += entry.size or 0
        if total > limit:
            return
        yield index, f"max_total_size ({total} of {limit} bytes)"


def _calendar(period: Callable[[datetime.datetime], str], rule: str) -> Rule:
    """A calendar rule: the newest archive of each of the last N periods with one."""

    def keep(
        candidates: list[ArchiveEntry], count: int, now: datetime.datetime
    ) -> Iterator[tuple[int, str]]:
        seen: set[str] = set()
        for index, entry in enumerate(candidates):
            if len(seen) == count:
                return
            assert entry.created is not None  # candidates are dated
            key = period(entry.created.astimezone(UTC))
            if key not in seen:
                seen.add(key)
                yield index, f"{rule} ({key})"

    return keep


def _iso_week(when: datetime.datetime) -> str:
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


_RULES: dict[str, Rule] = {
    "keep_last": _keep_last,
    "newer_than": _newer_than,
    "max_total_size": _max_total_size,
    "daily": _calendar(lambda when: when.strftime("%Y-%m-%d"), "daily"),
    "weekly": _calendar(_iso_week, "weekly"),
    "monthly": _calendar(lambda when: when.strftime("%Y-%m"), "monthly"),
    "yearly": _calendar(lambda when: f"{when.year:04d}", "yearly"),
}


# ---- the prune -----------------------------------------------------------------


def prune(
    destination: ArchiveStorage,
    retention: Retention,
    *,
    now: datetime.datetime | None = None,
    dry_run: bool = False,
    only: Collection[str] | None = None,
) -> PruneResult:
    """Delete the archives ``retention`` does not keep, and sidecars left alone.

    ``only`` bounds what may go: the names a dry run listed as deleted, so that a
    prune confirmed after a dry run never deletes what the dry run did not show
    (a dump since then may have moved ``keep_last`` on by one).

    Each archive goes before its sidecar: if the sidecar went first and the
    archive's deletion failed, the archive would look foreign and no prune would
    ever delete it; this way a failure leaves at worst a sidecar without its
    archive, which the next prune removes. The oldest go first. On the first
    backend error the prune stops and raises :class:`PruneError`, whose
    ``result`` and message say what was deleted and what was not.
    """
    listing = scan_destination(destination)
    plan = plan_prune(listing.entries, retention, now or datetime.datetime.now(UTC))
    targets = [
        path for entry in reversed(plan.delete) for path in (entry.name, entry.sidecar)
    ]
    targets.extend(listing.orphan_sidecars)
    if only is not None:
        shown = set(only)
        targets = [path for path in targets if path in shown]
    orphans = set(listing.orphan_sidecars)
    kept = [(entry.name, reasons) for entry, reasons in plan.keep]
    ignored = [entry.name for entry in plan.ignored]
    if dry_run:
        return PruneResult(targets, kept, dry_run=True, ignored=ignored)
    deleted: list[str] = []
    for position, path in enumerate(targets):
        archive = archive_of_sidecar(path)
        if path in orphans and archive is not None and destination.exists(archive):
            continue  # a dump wrote the archive again since the listing
        try:
            destination.delete(path)
        except FileNotFoundError:
            pass  # already gone: what the prune wanted
        except Exception as error:
            result = PruneResult(
                deleted,
                kept,
                failed=targets[position:],
                error=f"{type(error).__name__}: {error}",
                ignored=ignored,
            )
            raise PruneError(_failure_message(result, path), result) from error
        deleted.append(path)
    return PruneResult(deleted, kept, ignored=ignored)


def _failure_message(result: PruneResult, path: str) -> str:
    left = ""
    if archive_of_sidecar(path) in result.deleted:
        left = " (its archive is deleted: the next prune removes the sidecar)"
    return (
        f"the prune stopped: deleting {path!r} failed ({result.error}){left}; "
        f"deleted {_names(result.deleted)}; not deleted {_names(result.failed)}: "
        "fix the cause and prune again"
    )


def _names(paths: list[str], shown: int = 10) -> str:
    if not paths:
        return "nothing"
    text = ", ".join(repr(path) for path in paths[:shown])
    if len(paths) > shown:
        text += f" and {len(paths) - shown} more"
    return f"{len(paths)} ({text})"
