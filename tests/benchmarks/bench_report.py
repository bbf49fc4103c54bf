"""The benchmark's verdicts and tables: ratios between steps, growth across sizes.

Kept apart from ``bench.py``, which runs the steps: this module only reads the
figures of finished runs, so the targets and their wording live in one place.
"""

from __future__ import annotations

#: (key, label, numerator step, denominator step, at most) of the per-size ratios.
#: A ratio without a target (None) is informational: printed, never a verdict.
#: The S3 ones go through moto on loopback, whose own speed is most of what
#: they add over the local steps, so no target would say anything about diskette.
RATIOS: tuple[tuple[str, str, str, str, float | None], ...] = (
    ("dump_vs_floor", "dump / floor dump", "dump", "floor_dump", 5.0),
    ("dump_vs_plain", "dump / (dumpdata + tar)", "dump", "plain_dump", 0.1),
    ("load_vs_floor", "load / floor restore", "load", "floor_restore", 5.0),
    ("load_vs_plain", "load / loaddata", "load", "plain_load", 0.1),
    ("s3_dump_vs_dump", "dump to S3 / dump", "s3_dump", "dump", None),
    ("s3_load_vs_load", "load from S3 / load", "s3_load", "load", None),
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


def verdict(label: str, value: float | None, limit: float | None) -> dict:
    """One row: ``pass`` is None when unmeasured or informational (no ``target``)."""
    return {
        "label": label,
        "value": round(value, 3) if value is not None else None,
        "target": round(limit, 3) if limit is not None else None,
        "pass": value <= limit if value is not None and limit is not None else None,
    }


def ratios(steps: dict[str, dict]) -> dict[str, dict]:
    """The per-size ratios of the steps' best times (None where a step was skipped)."""
    rows = {}
    for key, label, numerator, denominator, limit in RATIOS:
        top = steps[numerator]["seconds"]
        bottom = steps[denominator]["seconds"]
        value = top / bottom if top and bottom else None
        rows[key] = verdict(label, value, limit)
    return rows


def growth(results: list[dict]) -> dict[str, dict]:
    """From the smallest to the largest size: time ~linear, peak RSS ~flat."""
    first, last = results[0], results[-1]
    data = last["objects"] / first["objects"] if len(results) > 1 else None
    rows = {}
    for key, label, step, measure in GROWTH:
        before = first["steps"][step][measure]
        after = last["steps"][step][measure]
        value = after / before if data and before and after else None
        if measure == "seconds":
            limit = TIME_GROWTH_FACTOR * (data or 10)
        else:
            limit = RSS_GROWTH_LIMIT
        scale = f"x{data:g} data" if data else "needs two sizes"
        rows[key] = verdict(f"{label} ({scale})", value, limit)
    return rows


def overall(results: list[dict], growth_rows: dict[str, dict]) -> bool | None:
    """False if any target is missed, None if some could not be measured.

    Informational rows have no target, so they take no part in the verdict.
    """
    rows = list(growth_rows.values()) + [
        row for result in results for row in result["ratios"].values()
    ]
    verdicts = [row["pass"] for row in rows if row["target"] is not None]
    return False if False in verdicts else (None if None in verdicts else True)


def figure(value: float | None, spec: str) -> str:
    return "skipped" if value is None else format(value, spec)


def mark(row: dict) -> str:
    if row["target"] is None:
        return "info"
    return {True: "PASS", False: "FAIL", None: "n/a"}[row["pass"]]


def target(row: dict) -> str:
    return "-" if row["target"] is None else "<= " + format(row["target"], "g")


def verdict_lines(heading: str, rows: dict[str, dict]) -> list[str]:
    lines = [f"  {heading:<34}{'value':>10}{'target':>10}{'result':>8}"]
    for row in rows.values():
        lines.append(
            f"  {row['label']:<34}{figure(row['value'], '.3f'):>10}"
            f"{target(row):>10}{mark(row):>8}"
        )
    return lines


def table(result: dict) -> str:
    lines = [
        f"{result['objects']:,} objects requested ({result['dumped_objects']:,} dumped, "
        f"{result['seeded_rows']:,} rows), {result['media_files']} media files",
        f"  {'step':<34}{'time (s)':>10}{'peak RSS (MiB)':>16}",
    ]
    for row in result["steps"].values():
        lines.append(
            f"  {row['label']:<34}{figure(row['seconds'], '.2f'):>10}"
            f"{figure(row['peak_rss_mib'], '.1f'):>16}"
        )
    lines += verdict_lines("ratio", result["ratios"])
    return "\n".join(lines)


def growth_table(rows: dict[str, dict]) -> str:
    return "\n".join(verdict_lines("across sizes", rows))
