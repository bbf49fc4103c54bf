"""Retention: union of rules, calendar periods in UTC, and a prune that never
deletes what diskette did not write nor leaves an archive without its sidecar."""

from __future__ import annotations

import datetime

import pytest

from diskette.destinations.listing import ArchiveEntry, list_archives
from diskette.destinations.retention import (
    PruneResult,
    Retention,
    parse_duration,
    parse_size,
    plan_prune,
    prune,
)
from diskette.destinations.sidecar import sidecar_name
from diskette.exceptions import ConfigurationError, DisketteError, PruneError
from tests.destinations.dict_backend import DictBackend, store_archive, utc

GB = 10**9


def entry(when: datetime.datetime, size: int = 100, *, ours: bool = True):
    """An archive named after its UTC time, as the default pattern names it."""
    name = f"diskette_{when.astimezone(datetime.timezone.utc):%Y%m%dT%H%M%S.%fZ}.tar.gz"
    return ArchiveEntry(name=name, size=size, created=when, written_by_diskette=ours)


def day(month: int, number: int, hour: int = 3) -> datetime.datetime:
    return utc(2026, month, number, hour)


def kept_days(plan) -> list[str]:
    return [f"{e.created:%m-%d}" for e, _ in plan.keep]


def reasons_of(plan) -> dict[str, tuple[str, ...]]:
    return {f"{e.created:%m-%d}": reasons for e, reasons in plan.keep}


def forty_daily_archives() -> list[ArchiveEntry]:
    start = day(1, 1)
    return [entry(start + datetime.timedelta(days=n)) for n in range(40)]


def test_forty_days_daily_7_weekly_4_monthly_2():
    """One archive a day at 03:00 UTC from Thu 2026-01-01 to Mon 2026-02-09.

    Worked by hand, from the calendar (ISO weeks start on Monday; 2026-01-01 is a
    Thursday, so week 1 is Mon 12-29 to Sun 01-04, and Mondays are 01-05, 01-12,
    01-19, 01-26, 02-02 and 02-09):

    * daily=7: the last 7 days holding an archive, 02-09 back to 02-03;
    * weekly=4: week 7 (02-09 to 02-15) -> 02-09; week 6 (02-02 to 02-08) -> 02-08;
      week 5 (01-26 to 02-01) -> 02-01; week 4 (01-19 to 01-25) -> 01-25;
    * monthly=2: February -> 02-09; January -> its newest, 01-31.

    Union: 02-09, 02-08, 02-07, 02-06, 02-05, 02-04, 02-03, 02-01, 01-31, 01-25:
    ten kept, the thirty others deleted (01-01 to 01-24, 01-26 to 01-30, 02-02).
    """
    entries = forty_daily_archives()

    plan = plan_prune(entries, Retention(daily=7, weekly=4, monthly=2), day(2, 9, 12))

    assert kept_days(plan) == [
        "02-09", "02-08", "02-07", "02-06", "02-05", "02-04", "02-03",
        "02-01", "01-31", "01-25",
    ]  # fmt: skip
    assert len(plan.delete) == 30
    deleted = {f"{e.created:%m-%d}" for e in plan.delete}
    assert "02-02" in deleted and "01-30" in deleted and "01-26" in deleted
    assert "01-24" in deleted and "01-01" in deleted
    reasons = reasons_of(plan)
    assert reasons["02-09"] == (
        "daily (2026-02-09)",
        "weekly (2026-W07)",
        "monthly (2026-02)",
    )
    assert reasons["02-08"] == ("daily (2026-02-08)", "weekly (2026-W06)")
    assert reasons["02-01"] == ("weekly (2026-W05)",)
    assert reasons["01-31"] == ("monthly (2026-01)",)
    assert reasons["01-25"] == ("weekly (2026-W04)",)


def test_keep_last_and_newer_than_docs_example():
    """docs/retention.rst, example 2. Now is 03-10 12:00 UTC.

    keep_last=3 keeps 03-10 02:00, 03-09 14:00, 03-09 02:00; newer_than=7d keeps
    what is younger than 7 days, i.e. created after 03-03 12:00: the same three
    and 03-05. 03-02 (8 days 10 hours old), 02-20 and 02-01 are deleted.
    """
    entries = [
        entry(day(3, 10, 2)),
        entry(day(3, 9, 14)),
        entry(day(3, 9, 2)),
        entry(day(3, 5, 2)),
        entry(day(3, 2, 2)),
        entry(day(2, 20, 2)),
        entry(day(2, 1, 2)),
    ]

    plan = plan_prune(
        entries, Retention(keep_last=3, newer_than=parse_duration("7d")), day(3, 10, 12)
    )

    assert [f"{e.created:%m-%d %H}" for e, _ in plan.keep] == [
        "03-10 02",
        "03-09 14",
        "03-09 02",
        "03-05 02",
    ]
    assert plan.keep[0][1] == ("keep_last (1 of 3)", "newer_than (7d)")
    assert plan.keep[3][1] == ("newer_than (7d)",)
    assert [f"{e.created:%m-%d}" for e in plan.delete] == ["03-02", "02-20", "02-01"]


def test_dumps_that_stopped_still_keep_the_last_ones():
    """newer_than alone would delete everything once dumps stop; keep_last is the
    floor that keeps the latest whatever their age."""
    entries = [entry(day(1, n)) for n in (1, 2, 3)]
    now = day(6, 1)
    assert (
        plan_prune(entries, Retention(newer_than=parse_duration("7d")), now).keep == []
    )
    plan = plan_prune(
        entries, Retention(newer_than=parse_duration("7d"), keep_last=1), now
    )
    assert kept_days(plan) == ["01-03"]


def test_max_total_size_with_monthly_docs_example():
    """docs/retention.rst, example 3: max_total_size=10GB, monthly=3.

    Newest first the sizes add up to 4, 8, then 11 GB at 04-28: max_total_size
    keeps 05-20 and 05-10 and stops (04-02's 1 GB is not looked at). monthly=3
    keeps May's newest (05-20), April's (04-28) and March's (03-15). Union:
    05-20, 05-10, 04-28, 03-15 (13 GB: the union can hold more than the size
    rule alone); 04-02 and 02-15 are deleted.
    """
    entries = [
        entry(day(5, 20), 4 * GB),
        entry(day(5, 10), 4 * GB),
        entry(day(4, 28), 3 * GB),
        entry(day(4, 2), 1 * GB),
        entry(day(3, 15), 2 * GB),
        entry(day(2, 15), 2 * GB),
    ]

    plan = plan_prune(
        entries,
        Retention(max_total_size=parse_size("10GB"), monthly=3),
        day(5, 21),
    )

    assert kept_days(plan) == ["05-20", "05-10", "04-28", "03-15"]
    assert reasons_of(plan)["05-10"] == (
        "max_total_size (8000000000 of 10000000000 bytes)",
    )
    assert [f"{e.created:%m-%d}" for e in plan.delete] == ["04-02", "02-15"]


def test_each_rule_counts_on_its_own():
    """Union, as restic does: weekly=2 keeps the newest of the last two weeks even
    when daily already keeps that archive (borg would look further back)."""
    entries = [entry(day(2, 9)), entry(day(2, 8)), entry(day(2, 1))]

    plan = plan_prune(entries, Retention(daily=1, weekly=2), day(2, 10))

    assert kept_days(plan) == ["02-09", "02-08"]
    assert [f"{e.created:%m-%d}" for e in plan.delete] == ["02-01"]


def test_iso_weeks_cross_the_new_year():
    """2026-12-31 (Thu) and 2027-01-01 (Fri) are both in ISO week 2026-W53; 2027-01-04
    (Mon) opens 2027-W01."""
    entries = [
        entry(utc(2027, 1, 4, 3)),
        entry(utc(2027, 1, 1, 3)),
        entry(utc(2026, 12, 31, 3)),
        entry(utc(2026, 12, 27, 3)),  # a Sunday: 2026-W52
    ]

    plan = plan_prune(entries, Retention(weekly=3), utc(2027, 1, 5))

    assert [(f"{e.created:%Y-%m-%d}", r) for e, r in plan.keep] == [
        ("2027-01-04", ("weekly (2027-W01)",)),
        ("2027-01-01", ("weekly (2026-W53)",)),
        ("2026-12-27", ("weekly (2026-W52)",)),
    ]


def test_periods_are_read_in_utc():
    """Created at 00:30 in UTC+02:00 is 22:30 the day before in UTC."""
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    late = entry(datetime.datetime(2026, 3, 1, 0, 30, tzinfo=plus_two))
    earlier = entry(utc(2026, 2, 28, 10))

    plan = plan_prune([late, earlier], Retention(daily=2, monthly=1), utc(2026, 3, 2))

    assert [reasons for _, reasons in plan.keep] == [
        ("daily (2026-02-28)", "monthly (2026-02)")
    ]
    assert plan.delete == [earlier]


def test_yearly_keeps_the_newest_of_each_year_with_an_archive():
    entries = [
        entry(utc(2026, 3, 1)),
        entry(utc(2026, 1, 1)),
        entry(utc(2024, 12, 31)),  # no archive in 2025: 2024 is the second year
        entry(utc(2024, 6, 1)),
        entry(utc(2023, 6, 1)),
    ]

    plan = plan_prune(entries, Retention(yearly=2), utc(2026, 3, 2))

    assert [r for _, r in plan.keep] == [("yearly (2026)",), ("yearly (2024)",)]
    assert len(plan.delete) == 3


def test_archives_not_written_by_diskette_are_never_candidates():
    foreign = entry(day(1, 1), ours=False)
    undated = ArchiveEntry("x.tar", None, None, written_by_diskette=False)
    ours = [entry(day(1, n)) for n in (2, 3)]

    plan = plan_prune([foreign, undated, *ours], Retention(keep_last=1), day(2, 1))

    assert plan.ignored == [foreign, undated]
    assert foreign not in plan.delete and undated not in plan.delete
    assert kept_days(plan) == ["01-03"]
    assert plan.to_dict()["ignored"][0]["name"] == foreign.name


def test_the_input_order_does_not_matter():
    entries = forty_daily_archives()
    retention = Retention(daily=7, weekly=4, monthly=2)
    assert plan_prune(entries, retention, day(3, 1)) == plan_prune(
        list(reversed(entries)), retention, day(3, 1)
    )


def test_now_must_be_aware():
    with pytest.raises(ValueError, match="no time zone"):
        plan_prune([], Retention(keep_last=1), datetime.datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "at least one rule"),
        ({"keep_last": 0}, "keep_last 0 is not a positive whole number"),
        ({"daily": -1}, "daily -1 is not a positive"),
        ({"weekly": 1.5}, "weekly 1.5 is not a positive"),
        ({"monthly": True}, "monthly True is not a positive"),
        ({"max_total_size": "1GB"}, "max_total_size '1GB'"),
        ({"newer_than": 30}, "newer_than 30 is not a positive duration"),
        ({"newer_than": datetime.timedelta(0)}, "is not a positive duration"),
    ],
)
def test_wrong_retentions_are_configuration_errors(options, message):
    with pytest.raises(ConfigurationError, match=message):
        Retention(**options)


def test_a_retention_describes_itself():
    retention = Retention(keep_last=3, newer_than=parse_duration("2w"), daily=7)
    assert retention.describe() == "keep_last=3, newer_than=14d, daily=7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", datetime.timedelta(days=30)),
        ("12h", datetime.timedelta(hours=12)),
        ("2w", datetime.timedelta(weeks=2)),
        ("90m", datetime.timedelta(minutes=90)),
        ("45s", datetime.timedelta(seconds=45)),
        (" 7 d ", datetime.timedelta(days=7)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30", "not a duration: give a whole number and one unit"),
        ("d", "not a duration"),
        ("1.5d", "not a duration"),
        ("30D", "not a duration"),
        ("-1d", "not a duration"),
        ("3mo", "months and years have no fixed length"),
        ("1y", "use monthly or yearly"),
        ("0d", "give more than zero"),
    ],
)
def test_parse_duration_errors_say_what_to_give(text, message):
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500MB", 500_000_000),
        ("2GiB", 2 * 1024**3),
        ("1.5GB", 1_500_000_000),
        ("10 kb", 10_000),
        ("1024", 1024),
        ("3B", 3),
        ("1TiB", 1024**4),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["2G", "10 bananas", "", "MB", "-5MB", "0MB", "0.1B"])
def test_parse_size_errors_say_what_to_give(text):
    with pytest.raises(ValueError, match=r"is not a size: give a number|is no size"):
        parse_size(text)


# ---- prune through a backend -----------------------------------------------------


def backend_with_days(*days: int, **options) -> tuple[DictBackend, list[str]]:
    backend = DictBackend(**options)
    names = []
    for number in days:
        name = entry(day(1, number)).name
        store_archive(backend, name, day(1, number))
        names.append(name)
    return backend, names


def test_prune_deletes_each_archive_then_its_sidecar_oldest_first():
    backend, (first, second, third) = backend_with_days(1, 2, 3)

    result = prune(backend, Retention(keep_last=1), now=day(1, 4))

    assert backend.deletes == [
        first,
        sidecar_name(first),
        second,
        sidecar_name(second),
    ]
    assert result == PruneResult(
        deleted=backend.deletes, kept=[(third, ("keep_last (1 of 1)",))]
    )
    assert sorted(backend.files) == [third, sidecar_name(third)]


def test_a_dry_run_deletes_nothing_and_says_what_it_would():
    backend, (first, second, third) = backend_with_days(1, 2, 3)
    before = dict(backend.files)

    result = prune(backend, Retention(keep_last=2), now=day(1, 4), dry_run=True)

    assert result.dry_run
    assert result.deleted == [first, sidecar_name(first)]
    assert backend.deletes == []
    assert backend.files == before


def test_prune_never_deletes_a_file_diskette_did_not_write():
    backend, (first, second) = backend_with_days(2, 3)
    backend.files["old-backup.tar.gz"] = b"someone else's"
    backend.files["fake.tar.gz"] = b"a forged sidecar beside it"
    backend.files[sidecar_name("fake.tar.gz")] = b'{"diskette_sidecar": 1}'
    backend.files["lonely.tar.gz.manifest.json"] = b"not a sidecar at all"

    result = prune(backend, Retention(keep_last=1), now=day(1, 4))

    assert result.deleted == [first, sidecar_name(first)]
    assert sorted(result.ignored) == ["fake.tar.gz", "old-backup.tar.gz"]
    for name in ("old-backup.tar.gz", "fake.tar.gz", "lonely.tar.gz.manifest.json"):
        assert name in backend.files


def test_a_backend_failing_half_way_says_what_was_deleted_and_what_was_not():
    """The 2nd delete (the first archive's sidecar) fails: the first archive is
    gone, its sidecar and the second archive are not; the next prune, once the
    backend works, removes the sidecar left without its archive and goes on."""
    backend, (first, second, third) = backend_with_days(1, 2, 3, fail_on_delete=2)

    with pytest.raises(PruneError) as raised:
        prune(backend, Retention(keep_last=1), now=day(1, 4))

    error = raised.value
    assert isinstance(error, DisketteError)
    assert error.exit_code == 40
    result = error.result
    assert isinstance(result, PruneResult)
    assert result.deleted == [first]
    assert result.failed == [sidecar_name(first), second, sidecar_name(second)]
    assert (
        result.error
        == f"PermissionError: [Errno 13] Permission denied: '{sidecar_name(first)}'"
    )
    message = str(error)
    assert f"deleting '{sidecar_name(first)}' failed" in message
    assert f"deleted 1 ('{first}')" in message
    assert f"not deleted 3 ('{sidecar_name(first)}', '{second}'" in message
    assert "the next prune removes the sidecar" in message
    assert first not in backend.files and sidecar_name(first) in backend.files
    # The archive whose turn had not come is still ours, still a candidate.
    assert [e.name for e in list_archives(backend) if e.written_by_diskette] == [
        third,
        second,
    ]

    backend.fail_on_delete = None
    again = prune(backend, Retention(keep_last=1), now=day(1, 4))

    assert again.deleted == [second, sidecar_name(second), sidecar_name(first)]
    assert sorted(backend.files) == [third, sidecar_name(third)]


def test_a_failure_on_an_archive_leaves_it_and_its_sidecar_for_the_next_prune():
    backend, (first, second) = backend_with_days(1, 2, fail_on_delete=1)

    with pytest.raises(PruneError, match="deleted nothing") as raised:
        prune(backend, Retention(keep_last=1), now=day(1, 4))

    assert raised.value.result.failed == [first, sidecar_name(first)]
    assert list_archives(backend)[1].written_by_diskette


def test_an_orphan_sidecar_whose_archive_came_back_is_kept():
    class Returning(DictBackend):
        """The archive is written again between the listing and the deletes."""

        def list(self, prefix=""):
            names = super().list(prefix)
            self.files[first] = b"dumped again"
            return names

    backend = Returning()
    first = entry(day(1, 1)).name
    store_archive(backend, first, day(1, 1))
    store_archive(backend, entry(day(1, 2)).name, day(1, 2))
    del backend.files[first]

    result = prune(backend, Retention(keep_last=1), now=day(1, 4))

    assert result.deleted == []
    assert sidecar_name(first) in backend.files


def test_prune_result_is_json_ready():
    backend, (first, second) = backend_with_days(1, 2)
    result = prune(backend, Retention(keep_last=1), now=day(1, 4))
    assert result.to_dict() == {
        "deleted": [first, sidecar_name(first)],
        "kept": [{"archive": second, "reasons": ["keep_last (1 of 1)"]}],
        "failed": [],
        "error": None,
        "dry_run": False,
        "ignored": [],
    }
