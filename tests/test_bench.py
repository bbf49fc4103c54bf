"""The benchmark script runs end to end on tiny sizes and writes every figure.

No timing is asserted: this only keeps ``make bench`` from rotting.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH_PY = Path(__file__).resolve().parent / "benchmarks" / "bench.py"
STEPS = {"dump", "load", "plain_dump", "plain_load", "floor_dump", "floor_restore"}
RATIOS = {"dump_vs_floor", "dump_vs_plain", "load_vs_floor", "load_vs_plain"}
GROWTH = {"dump_time", "load_time", "dump_rss", "load_rss"}
PLAIN = {"plain_dump", "plain_load"}


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCH_PY), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_bench_writes_every_row_and_column(tmp_path):
    output = tmp_path / "results" / "bench.json"
    work = tmp_path / "work"
    result = bench(
        "--sizes",
        "300,600",
        "--media-files",
        "3,3",
        "--skip-plain-above",
        "300",
        "--output",
        str(output),
        "--workdir",
        str(work),
    )
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(output.read_text("utf-8"))

    assert report["options"]["sizes"] == [300, 600]
    assert report["environment"]["django"]
    small, large = report["sizes"]
    assert (small["objects"], large["objects"]) == (300, 600)
    for size in (small, large):
        assert size["media_files"] == 3
        assert size["dumped_objects"] >= size["objects"]
        assert size["archive_bytes"] > 0
        assert set(size["steps"]) == STEPS
        assert set(size["ratios"]) == RATIOS
        for key, step in size["steps"].items():
            skipped = size is large and key in PLAIN
            assert step["skipped"] is skipped, key
            if skipped:
                assert (step["seconds"], step["peak_rss_mib"]) == (None, None)
                assert step["runs"] == []
            else:
                assert step["seconds"] > 0, key
                assert step["peak_rss_mib"] > 1, key
                assert len(step["runs"]) == 1, key
        for key, ratio in size["ratios"].items():
            assert ratio["target"] in (5, 0.1), key
            if size is large and key.endswith("_plain"):
                assert (ratio["value"], ratio["pass"]) == (None, None)
            else:
                assert ratio["value"] > 0, key
                assert ratio["pass"] is (ratio["value"] <= ratio["target"]), key

    assert set(report["growth"]) == GROWTH
    for key, row in report["growth"].items():
        assert row["value"] > 0, key
        assert row["target"] == (2.2 if key.endswith("_time") else 1.25), key
        assert row["pass"] is (row["value"] <= row["target"]), key
    verdicts = [row["pass"] for row in report["growth"].values()] + [
        row["pass"] for size in (small, large) for row in size["ratios"].values()
    ]
    # the skipped baselines leave two ratios open: never a plain PASS
    assert report["passed"] is (False if False in verdicts else None)

    for label in ("diskette_dump", "loaddata", "dump / floor dump", "skipped"):
        assert label in result.stdout
    assert list(work.iterdir()) == []  # the run's temporary directory is removed


def test_bench_refuses_media_counts_that_do_not_match_sizes(tmp_path):
    output = tmp_path / "bench.json"
    result = bench("--sizes", "300,600", "--media-files", "3", "--output", str(output))
    assert result.returncode == 2
    assert "--media-files needs one number per --sizes entry" in result.stderr
    assert not output.exists()
