"""The benchmark script runs end to end on tiny sizes and writes every figure.

No timing is asserted: this only keeps ``make bench`` from rotting. The pure
parts (option parsing, verdicts, the media tree, the disk sampler) are tested
directly.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from tests import pgcluster
from tests.benchmarks import bench_cli, bench_media_tree, bench_report, bench_runs

BENCH_PY = Path(__file__).resolve().parent / "benchmarks" / "bench.py"
STEPS = {"dump", "load", "plain_dump", "plain_load", "floor_dump", "floor_restore"}
STEPS |= {"s3_dump", "s3_load", "encrypted_dump", "encrypted_load", "anonymised_dump"}
RATIOS = {"dump_vs_floor", "dump_vs_plain", "load_vs_floor", "load_vs_plain"}
RATIOS |= {"anonymised_dump_vs_dump"}
#: Informational ratios: no target, never a verdict.
INFO = {"s3_dump_vs_dump", "s3_load_vs_load"}
#: Informational ratios of steps that run in the sqlite case, S3 or not.
SHARING_INFO = {"encrypted_dump_vs_dump", "encrypted_load_vs_load"}
GROWTH = {"dump_time", "load_time", "dump_rss", "load_rss"}
PLAIN = {"plain_dump", "plain_load"}
S3 = {"s3_dump", "s3_load"}
PG_STEPS = {"dump", "load", "pg_dump", "pg_restore", "dbbackup", "dbrestore"}
MEDIA_STEPS = {"dump", "load", "tar_dump", "tar_load", "zstd_dump", "zstd_load"}
MEDIA_STEPS |= {"tar_zstd_dump", "tar_zstd_load", "original_dump", "original_load"}
#: Steps whose peer may be missing here: they must then say why.
MAY_BE_UNMEASURED = {"dbbackup", "dbrestore", "zstd_dump", "zstd_load"}
MAY_BE_UNMEASURED |= {
    "tar_zstd_dump",
    "tar_zstd_load",
    "original_dump",
    "original_load",
}


def bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCH_PY), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def check_step(key: str, step: dict, expected: str | None = "measured") -> None:
    """A step is measured with figures, or not run with a reason and no figures."""
    if expected is None:  # a peer that may be missing here
        expected = step["status"] if step["status"] == "unmeasured" else "measured"
    assert step["status"] == expected, (key, step)
    if expected == "measured":
        assert step["reason"] is None, key
        assert step["seconds"] > 0, key
        assert step["peak_rss_mib"] > 1, key
        assert len(step["runs"]) == 1, key
    else:
        assert step["reason"], key
        assert (step["seconds"], step["peak_rss_mib"], step["runs"]) == (None, None, [])


@pytest.mark.slow
def test_bench_writes_every_row_and_column(tmp_path):
    output = tmp_path / "results" / "bench.json"
    work = tmp_path / "work"
    result = bench(
        *("--cases", "sqlite,s3", "--sizes", "300,600", "--media-files", "3,3"),
        *("--skip-plain-above", "300", "--output", str(output), "--workdir", str(work)),
    )
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(output.read_text("utf-8"))

    assert report["options"]["sizes"] == [300, 600]
    assert report["options"]["cases"] == ["sqlite", "s3"]
    assert report["environment"]["django"]
    assert {"Django", "SQLite floor", "tar"} <= set(report["peers"])
    assert report["postgres"] is None and report["media"] is None
    s3_ran = report["s3"]["ran"]  # False only where moto & co. are not installed
    assert s3_ran is (report["s3"]["skipped"] is None)
    small, large = report["sizes"]
    assert (small["objects"], large["objects"]) == (300, 600)
    for size in (small, large):
        assert size["media_files"] == 3
        assert size["dumped_objects"] >= size["objects"]
        assert size["archive_bytes"] > 0
        assert set(size["steps"]) == STEPS
        assert set(size["ratios"]) == RATIOS | INFO | SHARING_INFO
        for key, step in size["steps"].items():
            skipped = (size is large and key in PLAIN) or (key in S3 and not s3_ran)
            check_step(key, step, "skipped" if skipped else "measured")
        for key, ratio in size["ratios"].items():
            if key in INFO | SHARING_INFO:
                assert (ratio["target"], ratio["pass"]) == (None, None), key
                ran = s3_ran or key in SHARING_INFO
                assert (ratio["value"] > 0) if ran else ratio["value"] is None
                continue
            assert ratio["target"] in (2, 2.5, 0.1, 1.25), key
            if size is large and key.endswith("_plain"):
                assert (ratio["value"], ratio["pass"], ratio["skipped"]) == (
                    None,
                    None,
                    True,
                )
            else:
                assert ratio["value"] > 0, key
                assert ratio["pass"] is (ratio["value"] <= ratio["target"]), key

    assert set(report["growth"]) == GROWTH
    for key, row in report["growth"].items():
        assert row["value"] > 0, key
        assert row["target"] == (2.2 if key.endswith("_time") else 1.25), key
        assert row["pass"] is (row["value"] <= row["target"]), key
    counted = [row for row in report["targets"] if row["target"] is not None]
    assert len(counted) == 5 + 5 + 4  # two sizes' ratios and the growth
    # the plain baselines skipped on purpose at 600 take no part in the verdict
    verdicts = [row["pass"] for row in counted if not row["skipped"]]
    assert None not in verdicts
    assert report["passed"] is (False not in verdicts)

    for label in ("diskette_dump", "loaddata", "dump / floor dump", "skipped"):
        assert label in result.stdout
    assert "--skip-plain-above 300" in result.stdout
    assert "overall: " in result.stdout
    if s3_ran:
        assert "dump to S3 / dump" in result.stdout
        assert "S3 server (moto) stopped" in result.stdout
    assert list(work.iterdir()) == []  # the run's temporary directory is removed


@pytest.mark.slow
def test_bench_without_s3_skips_its_steps_and_starts_no_server(tmp_path):
    output = tmp_path / "bench.json"
    result = bench(
        *("--cases", "sqlite", "--sizes", "300", "--media-files", "3"),
        *("--skip-plain-above", "0", "--output", str(output)),
    )
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(output.read_text("utf-8"))
    assert report["s3"] == {
        "ran": False,
        "skipped": "case s3 not run",
        "endpoint_url": None,
    }
    (size,) = report["sizes"]
    for key in S3:
        assert size["steps"][key]["status"] == "skipped", key
    for key in INFO:
        assert size["ratios"][key]["value"] is None, key
    assert "S3 steps skipped: case s3 not run" in result.stdout
    assert "S3 server (moto)" not in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(
    pgcluster.find_bindir() is None
    and os.environ.get("DISKETTE_TEST_REQUIRE_POSTGRES") != "1",
    reason="PostgreSQL binaries not installed",
)
def test_bench_postgres_and_media_cases_check_every_load(tmp_path):
    output = tmp_path / "bench.json"
    result = bench(
        *("--cases", "postgres,media", "--pg-objects", "200"),
        *("--heavy-files", "30", "--heavy-bytes", "3M", "--output", str(output)),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(output.read_text("utf-8"))
    assert report["sizes"] == [] and report["growth"] is None

    pg = report["postgres"]
    assert pg["objects"] == 200 and pg["server"].startswith("postgres")
    assert pg["dumped_objects"] >= 200 and pg["pg_dump_bytes"] > 0
    assert "library_book" in pg["tables"] and "django_migrations" not in pg["tables"]
    assert set(pg["steps"]) == PG_STEPS
    for key, step in pg["steps"].items():
        check_step(key, step, None if key in MAY_BE_UNMEASURED else "measured")
    assert [row["target"] for row in pg["ratios"].values()] == [2, 3, 1, 1]
    assert report["peers"]["pg_dump"]["version"].startswith("pg_dump")

    media = report["media"]
    assert media["files"] == 30 and media["media_bytes"] == 3 * 2**20
    assert set(media["steps"]) == MEDIA_STEPS
    for key, step in media["steps"].items():
        check_step(key, step, None if key in MAY_BE_UNMEASURED else "measured")
        is_load = key.endswith("load") and step["status"] == "measured"
        assert (step["extra_disk_bytes"] is not None) is is_load, key
    extra = media["ratios"]["load_extra_disk"]
    assert extra["target"] == 3.0 and extra["value"] >= 0
    assert media["archive_bytes"]["tar"] > 3 * 2**20 * 0.9  # incompressible

    rows = report["targets"]
    assert {row["case"] for row in rows} == {"postgres 200", "media 30 files"}
    unmeasured = [row for row in rows if row["pass"] is None and row["target"]]
    assert report["passed"] is (
        False
        if any(row["pass"] is False for row in rows)
        else (None if unmeasured else True)
    )
    assert "PostgreSQL cluster stopped" in result.stdout
    for peer in ("pg_restore", "django-dbbackup", "zstd", "diskette 0.6.0"):
        assert peer in result.stdout


def test_bench_refuses_media_counts_that_do_not_match_sizes(tmp_path):
    output = tmp_path / "bench.json"
    result = bench("--sizes", "300,600", "--media-files", "3", "--output", str(output))
    assert result.returncode == 2
    assert "--media-files needs one number per --sizes entry" in result.stderr
    assert not output.exists()


def test_options_read_cases_sizes_and_byte_sizes():
    options = bench_cli.parse(["--cases", "media,sqlite", "--no-s3"])
    assert options.cases == ["sqlite", "media"]  # in run order
    assert bench_cli.parse(["--no-s3"]).cases == ["sqlite", "postgres", "media"]
    defaults = bench_cli.parse([])
    assert defaults.cases == ["sqlite", "s3", "postgres", "media"]
    assert (defaults.skip_plain_above, defaults.pg_objects) == (50_000, 500_000)
    assert defaults.heavy_bytes == 2 * 2**30
    assert bench_cli.parse(["--skip-plain-above", "-1"]).skip_plain_above is None
    assert bench_cli.parse(["--sizes", "5_000_000"]).media_files == [20_000]
    assert [bench_cli.byte_size(text) for text in ("50M", "2GiB", "800k", "10")] == [
        50 * 2**20,
        2 * 2**30,
        800 * 2**10,
        10,
    ]
    for text in ("lots", "0", "-5M"):
        with pytest.raises(Exception, match="size"):
            bench_cli.byte_size(text)
    with pytest.raises(Exception, match="unknown case mysql"):
        bench_cli.cases("sqlite,mysql")


def step(seconds: float | None, status: str = "measured") -> dict:
    return {"seconds": seconds, "status": status}


def test_ratios_tell_skipped_from_unmeasured_and_the_verdict_ignores_skipped():
    table = (
        ("a", "a / b", "a", "b", 2.0),
        ("c", "c / b", "c", "b", 2.0),
        ("d", "d / b", "d", "b", 2.0),
        ("e", "e / b", "e", "b", None),
    )
    steps = {
        "a": step(3.0),
        "b": step(2.0),
        "c": step(None, "skipped"),
        "d": step(None, "unmeasured"),
        "e": step(1.0),
    }
    rows = bench_report.ratios(steps, table)
    assert (rows["a"]["value"], rows["a"]["pass"]) == (1.5, True)
    assert (rows["c"]["skipped"], rows["d"]["skipped"]) == (True, False)
    assert [bench_report.mark(rows[key]) for key in "acde"] == [
        "PASS",
        "skipped",
        "n/a",
        "info",
    ]
    assert bench_report.overall([rows["a"], rows["c"], rows["e"]]) is True
    assert bench_report.overall([rows["c"], rows["e"]]) is None  # nothing counted
    assert bench_report.overall(list(rows.values())) is None  # d is unmeasured
    failed = bench_report.verdict("f", 3.0, 1.0)
    assert bench_report.overall([*rows.values(), failed]) is False


def test_media_tree_is_deterministic_incompressible_and_of_the_given_size(tmp_path):
    first = bench_media_tree.write_tree(tmp_path / "one", 120, 2 * 2**20, seed=3)
    second = bench_media_tree.write_tree(tmp_path / "two", 120, 2 * 2**20, seed=3)
    assert first == second
    found = bench_media_tree.contents(tmp_path / "one")
    assert (found.files, found.bytes) == (120, 2 * 2**20)
    assert found.allocated >= found.bytes
    assert first.text_files == 120 // bench_media_tree.TEXT_EVERY
    assert first.largest > 5 * first.median  # sizes spread, as media's do
    names = sorted(path.name for path in (tmp_path / "one").rglob("*.*"))
    assert names == sorted(path.name for path in (tmp_path / "two").rglob("*.*"))
    binary = max((tmp_path / "one").rglob("*.mp4"), key=lambda p: p.stat().st_size)
    data = binary.read_bytes()
    assert len(zlib.compress(data, 6)) > 0.99 * len(data)
    text = next((tmp_path / "one").rglob("*.csv")).read_bytes()
    assert len(zlib.compress(text, 6)) < 0.5 * len(text)


def test_media_sizes_add_up_exactly():
    sizes = bench_media_tree.sizes(1000, 10**8 + 7, random.Random(1))
    assert sum(sizes) == 10**8 + 7 and min(sizes) >= 1


def test_disk_peak_sees_a_file_that_is_written_then_removed(tmp_path):
    sampler = bench_runs.DiskPeak(tmp_path)
    path = tmp_path / "transient.bin"
    with open(path, "wb") as out:
        out.write(os.urandom(32 * 2**20))
        os.fsync(out.fileno())
    bench_runs.time.sleep(20 * bench_runs.DISK_SAMPLE_SECONDS)
    path.unlink()
    peak = sampler.stop()
    assert peak >= 30 * 2**20
