"""``DISKETTE_DUMP_COMPRESSION``: the dump's default compression, and its check."""

import tarfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from diskette.api import dump, plan_dump
from diskette.archive.compression import detect_compression
from diskette.checks import settings_problems

pytestmark = pytest.mark.django_db


def _dump(tmp_path, **arguments):
    return dump(
        destination=tmp_path,
        with_storages=False,
        apps=["django.contrib.auth"],
        **arguments,
    )


def test_the_setting_chooses_the_compression_and_the_suffix(settings, tmp_path):
    settings.DISKETTE_DUMP_COMPRESSION = "none"
    result = _dump(tmp_path)
    path = Path(result.path)
    assert path.name.endswith(".tar") and not path.name.endswith(".tar.gz")
    assert detect_compression(path.read_bytes()[:512]) == "none"
    with tarfile.open(path, "r:") as archive:
        assert "manifest.json" in archive.getnames()


def test_the_option_wins_over_the_setting(settings, tmp_path):
    settings.DISKETTE_DUMP_COMPRESSION = "none"
    result = _dump(tmp_path, compression="gzip")
    path = Path(result.path)
    assert path.name.endswith(".tar.gz")
    assert detect_compression(path.read_bytes()[:512]) == "gzip"


def test_a_plan_names_the_archive_with_the_settings_suffix(settings, tmp_path):
    settings.DISKETTE_DUMP_COMPRESSION = "none"
    plan = plan_dump(
        destination=tmp_path, with_storages=False, apps=["django.contrib.auth"]
    )
    assert plan.filename.endswith(".tar")
    assert not plan.filename.endswith(".tar.gz")


@pytest.mark.parametrize("value", ["bz2", "", None, 3])
def test_an_unknown_compression_is_e020_and_refused_by_the_dump(
    settings, tmp_path, value
):
    settings.DISKETTE_DUMP_COMPRESSION = value
    problems = [p for p in settings_problems() if p.id == "E020"]
    assert len(problems) == 1
    assert "DISKETTE_DUMP_COMPRESSION" in problems[0].message
    with pytest.raises(CommandError, match="DISKETTE_DUMP_COMPRESSION"):
        call_command(
            "diskette_dump",
            "--destination",
            str(tmp_path),
            "--no-storages",
            "--app",
            "django.contrib.auth",
        )
    assert list(tmp_path.iterdir()) == []


def test_the_command_option_replaces_a_bad_setting(settings, tmp_path):
    settings.DISKETTE_DUMP_COMPRESSION = "bz2"
    call_command(
        "diskette_dump",
        "--destination",
        str(tmp_path),
        "--no-storages",
        "--app",
        "django.contrib.auth",
        "--compression",
        "none",
        verbosity=0,
    )
    (archive,) = tmp_path.glob("*.tar")
    assert detect_compression(archive.read_bytes()[:512]) == "none"
