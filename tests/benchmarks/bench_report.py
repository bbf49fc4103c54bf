"""The benchmark's verdicts and tables: ratios between steps, growth across sizes.

Kept apart from the cases, which run the steps: this module only reads the
figures of finished runs, so the targets and their wording live in one place.
"""

from __future__ import annotations

#: (key, label, numerator step, denominator step, at most) of a ratio between
#: two steps' best times. A ratio without a target (None) is informational:
#: printed, never a verdict.
Ratio = tuple[str, str, str, str, float | None]

#: The SQLite case, per size. The S3 ones go through moto on loopback, whose own
#: speed is most of what they add over the local steps, so no target would say
#: anything about diskette. A dump may take twice the floor's
#: time, a load two and a half times.
RATIOS: tuple[Ratio, ...] = (
    ("dump_vs_floor", "dump / floor dump", "dump", "floor_dump", 2.0),
    ("dump_vs_plain", "dump / (dumpdata + tar)", "dump", "plain_dump", 0.1),
    ("load_vs_floor", "load / floor restore", "load", "floor_restore", 2.5),
    ("load_vs_plain", "load / loaddata", "load", "plain_load", 0.1),
    ("s3_dump_vs_dump", "dump to S3 / dump", "s3_dump", "dump", None),
    ("s3_load_vs_load", "load from S3 / load", "s3_load", "load", None),
    (
        "encrypted_dump_vs_dump",
        "encrypted dump / dump",
        "encrypted_dump",
        "dump",
        None,
    ),
    (
        "encrypted_load_vs_load",
        "encrypted load / load",
        "encrypted_load",
        "load",
        None,
    ),
    # Anonymising works in the dump's stream: within a quarter of the plain dump.
    (
        "anonymised_dump_vs_dump",
        "anonymised dump / dump",
        "anonymised_dump",
        "dump",
        1.25,
    ),
)
#: The PostgreSQL case: within a small factor of the server's own tools, and
#: faster than django-dbbackup ("at most 1": faster, or the same to the millisecond).
PG_RATIOS: tuple[Ratio, ...] = (
    ("dump_vs_pg_dump", "dump / pg_dump -Fc", "dump", "pg_dump", 2.0),
    ("load_vs_pg_restore", "load / pg_restore", "load", "pg_restore", 3.0),
    ("dump_vs_dbbackup", "dump / dbbackup", "dump", "dbbackup", 1.0),
    ("load_vs_dbrestore", "load / dbrestore", "load", "dbrestore", 1.0),
)
#: The media case: as fast as tar with the same compression, give or take.
MEDIA_RATIOS: tuple[Ratio, ...] = (
    ("dump_vs_tar", "dump / tar czf", "dump", "tar_dump", 1.1),
    ("load_vs_tar", "load / tar xzf", "load", "tar_load", 1.1),
    (
        "zstd_dump_vs_tar",
        "zstd dump / (tar | zstd -T2)",
        "zstd_dump",
        "tar_zstd_dump",
        1.5,
    ),
    (
        "zstd_load_vs_tar",
        "zstd load / (zstd -dc | tar)",
        "zstd_load",
        "tar_zstd_load",
        1.5,
    ),
    ("load_vs_original", "load / diskette 0.6.0 load", "load", "original_load", 1.0),
    ("dump_vs_original", "dump / diskette 0.6.0 dump", "dump", "original_dump", None),
)
#: (key, label, step, measure) of the growth from the smallest to the largest size.
GROWTH = (
    ("dump_time", "dump time growth", "dump", "seconds"),
    ("load_time", "load time growth", "load", "seconds"),
    ("dump_rss", "dump peak RSS growth", "dump", "peak_rss_mib"),
    ("load_rss", "load peak RSS growth", "load", "peak_rss_mib"),
)
#: Time may grow 1.1 times as fast as the data; peak RSS by 25 % at most.
TIME_GROWTH_FACTOR = 1.1
RSS_GROWTH_LIMIT = 1.25


def verdict(
    label: str, value: float | None, limit: float | None, *, skipped: bool = False
) -> dict:
    """One row. ``pass`` is None when unmeasured or informational (no ``target``);
    ``skipped`` rows were left out on purpose and take no part in the verdict."""
    return {
        "label": label,
        "value": round(value, 3) if value is not None else None,
        "target": round(limit, 3) if limit is not None else None,
        "pass": value <= limit if value is not None and limit is not None else None,
        "skipped": skipped and value is None,
    }


def ratios(steps: dict[str, dict], table: tuple[Ratio, ...]) -> dict[str, dict]:
    """The ratios of the steps' best times (None where a step did not run)."""
    rows = {}
    for key, label, numerator, denominator, limit in table:
        top, bottom = steps[numerator], steps[denominator]
        value = (
            top["seconds"] / bottom["seconds"]
            if top["seconds"] and bottom["seconds"]
            else None
        )
        skipped = "skipped" in (top["status"], bottom["status"])
        rows[key] = verdict(label, value, limit, skipped=skipped)
    return rows


def growth(results: list[dict], *, skipped: bool = False) -> dict[str, dict]:
    """From the smallest to the largest size: time ~linear, peak RSS ~flat."""
    rows = {}
    if not results:
        skipped = True
    first, last = (results[0], results[-1]) if results else ({}, {})
    data = last["objects"] / first["objects"] if len(results) > 1 else None
    for key, label, step, measure in GROWTH:
        before = first["steps"][step][measure] if results else None
        after = last["steps"][step][measure] if results else None
        value = after / before if data and before and after else None
        if measure == "seconds":
            limit = TIME_GROWTH_FACTOR * (data or 10)
        else:
            limit = RSS_GROWTH_LIMIT
        scale = f"x{data:g} data" if data else "needs two sizes"
        rows[key] = verdict(f"{label} ({scale})", value, limit, skipped=skipped)
    return rows


def overall(rows: list[dict]) -> bool | None:
    """False if any target is missed, None if some could not be measured (or none was).

    Informational rows have no target and skipped rows were left out on
    purpose, so neither takes part in the verdict.
    """
    verdicts = [
        row["pass"] for row in rows if row["target"] is not None and not row["skipped"]
    ]
    if False in verdicts:
        return False
    return None if None in verdicts or not verdicts else True


def figure(value: float | None, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def mark(row: dict) -> str:
    if row["target"] is None:
        return "info"
    if row["skipped"]:
        return "skipped"
    return {True: "PASS", False: "FAIL", None: "n/a"}[row["pass"]]


def target(row: dict) -> str:
    return "-" if row["target"] is None else "<= " + format(row["target"], "g")


def step_table(heading: str, steps: dict[str, dict]) -> str:
    """Time and peak RSS of every step (extra disk where it was sampled)."""
    disk = any(row["extra_disk_bytes"] is not None for row in steps.values())
    lines = [
        heading,
        f"  {'step':<40}{'time (s)':>10}{'peak RSS (MiB)':>16}"
        + (f"{'extra disk (MiB)':>18}" if disk else ""),
    ]
    for row in steps.values():
        if row["status"] != "measured":
            lines.append(f"  {row['label']:<40}{row['status']:>10}  {row['reason']}")
            continue
        line = (
            f"  {row['label']:<40}{figure(row['seconds'], '.2f'):>10}"
            f"{figure(row['peak_rss_mib'], '.1f'):>16}"
        )
        if disk:
            extra = row["extra_disk_bytes"]
            line += f"{figure(extra / 2**20 if extra is not None else None, '.1f'):>18}"
        lines.append(line)
    return "\n".join(lines)


def targets(report: dict) -> list[dict]:
    """Every verdict row of the run, each with the case and size it belongs to."""
    rows = []
    for result in report.get("sizes") or []:
        where = f"sqlite {result['objects']:,}"
        rows += [{"case": where, **row} for row in result["ratios"].values()]
    if report.get("growth"):
        rows += [{"case": "sqlite growth", **row} for row in report["growth"].values()]
    if report.get("postgres"):
        where = f"postgres {report['postgres']['objects']:,}"
        rows += [
            {"case": where, **row} for row in report["postgres"]["ratios"].values()
        ]
    if report.get("media"):
        where = f"media {report['media']['files']:,} files"
        rows += [{"case": where, **row} for row in report["media"]["ratios"].values()]
    return rows


def targets_table(rows: list[dict], passed: bool | None) -> str:
    """The one table of every target of the run, with the run's verdict."""
    lines = [
        f"  {'case':<20}{'ratio':<40}{'value':>10}{'target':>10}{'result':>9}",
    ]
    for row in rows:
        lines.append(
            f"  {row['case']:<20}{row['label']:<40}{figure(row['value'], '.3f'):>10}"
            f"{target(row):>10}{mark(row):>9}"
        )
    counted = [row for row in rows if row["target"] is not None and not row["skipped"]]
    if not counted:
        verdict_word = "no target measured"
    else:
        verdict_word = {True: "PASS", False: "FAIL", None: "incomplete (n/a rows)"}[
            passed
        ]
    lines.append(f"  overall: {verdict_word}")
    return "\n".join(lines)


def peers_header(peers: dict[str, dict]) -> str:
    """The peers the run compares with: version and command line of each."""
    lines = ["peers:"]
    for name, peer in peers.items():
        version = peer["version"] or f"unavailable ({peer.get('reason')})"
        lines.append(f"  {name:<16}{version}")
        for command in peer["commands"]:
            lines.append(f"  {'':<16}$ {command}")
    return "\n".join(lines)
