"""diskette_dump --compression and --compresslevel, and a real run of each
compression through sandbox/manage.py, loaded back by diskette_load."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.conftest import run_manage


@pytest.fixture
def site(tmp_path, settings):
    media = tmp_path / "site" / "media"
    media.mkdir(parents=True)
    (media / "a.txt").write_bytes(b"bonjour")
    settings.DISKETTE_APPS = [["django.contrib.sites", {"models": "sites"}]]
    settings.DISKETTE_STORAGES = ["media"]
    settings.DISKETTE_STORAGES_BASEPATH = str(media.parent)
    settings.DISKETTE_DUMP_PATH = str(tmp_path / "dumps")
    return tmp_path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("diskette_dump", *args, stdout=out, stderr=err)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "suffix", "head"),
    [
        ([], ".tar.gz", b"\x1f\x8b"),
        (["--compression", "zstd"], ".tar.zst", b"\x28\xb5\x2f\xfd"),
        (["--compression", "zstd", "--compresslevel", "19"], ".tar.zst", b"\x28\xb5"),
        (["--compression", "gzip", "--compresslevel", "1"], ".tar.gz", b"\x1f\x8b"),
    ],
)
def test_the_archive_is_compressed_and_named_as_asked(site, args, suffix, head):
    result = json.loads(run(*args, "--json"))
    archive = Path(result["path"])
    assert archive.name.endswith(suffix) and archive.name.startswith("diskette_data")
    assert archive.read_bytes().startswith(head)


@pytest.mark.django_db
def test_no_compression_is_a_plain_tar(site):
    archive = Path(json.loads(run("--compression", "none", "--json"))["path"])
    assert archive.suffix == ".tar"
    assert archive.read_bytes()[257:262] == b"ustar"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--compression", "lzma"], "--compression 'lzma' is unknown: use one of gzip"),
        (["--compression", "zstd", "--compresslevel", "0"], "from 1 to 19 for zstd"),
        (["--compression", "none", "--compresslevel", "3"], "means nothing"),
        (["--compresslevel", "10"], "compresslevel (--compresslevel) 10 must be"),
    ],
)
def test_bad_compressions_are_one_line_errors(site, args, message):
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.returncode == 3
    assert not (site / "dumps").exists() or not list((site / "dumps").iterdir())


@pytest.mark.django_db
def test_zstd_without_its_package_names_the_extra(site, monkeypatch):
    monkeypatch.setitem(sys.modules, "zstandard", None)  # as if not installed
    with pytest.raises(CommandError) as caught:
        run("--compression", "zstd")
    assert str(caught.value) == (
        "--compression 'zstd' needs the zstandard package, which is not installed: "
        "pip install 'diskette[zstd]'"
    )
    assert caught.value.returncode == 3


@pytest.mark.slow
def test_a_real_zstd_dump_loads_in_another_site(sandbox_env, tmp_path):
    """Through sandbox/manage.py, as a user runs it: seed, dump, load elsewhere."""
    assert run_manage("migrate", env=sandbox_env).returncode == 0
    assert run_manage("seed", "--objects", "40", env=sandbox_env).returncode == 0
    dumped = run_manage(
        "diskette_dump", "--compression", "zstd", "--json", env=sandbox_env
    )
    assert dumped.returncode == 0, dumped.stderr
    archive = Path(json.loads(dumped.stdout)["path"])
    assert archive.suffix == ".zst"
    other = {**sandbox_env, "SANDBOX_VAR": str(tmp_path / "other")}
    (tmp_path / "other").mkdir()
    assert run_manage("migrate", env=other).returncode == 0
    loaded = run_manage("diskette_load", str(archive), "--noinput", "--json", env=other)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["objects"] > 40
