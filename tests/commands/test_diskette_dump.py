"""The diskette_dump command: options, output, and real runs of sandbox/manage.py."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from diskette.manifest import Manifest
from sandbox.library.seeding import EXCLUDED_FILES
from tests.conftest import REPO_ROOT, run_manage


@pytest.fixture
def site(tmp_path, settings, media_root):
    """Settings pointing at a seeded media directory and a dump directory."""
    settings.DISKETTE_APPS = [
        [
            "django.contrib.auth",
            {"natural_foreign": True, "models": ["auth.Group", "auth.User"]},
        ],
        ["django.contrib.sites", {"natural_foreign": True, "models": "sites"}],
        ["library", {"natural_foreign": True, "models": ["library"]}],
    ]
    settings.MEDIA_ROOT = str(media_root)
    settings.DISKETTE_STORAGES = ["media"]
    settings.DISKETTE_STORAGES_BASEPATH = str(media_root.parent)
    settings.DISKETTE_DUMP_PATH = str(tmp_path / "dumps")
    return media_root.parent


def run(*args, **options):
    out, err = io.StringIO(), io.StringIO()
    call_command("diskette_dump", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def read_archive(path):
    with tarfile.open(path, "r:gz") as tar:
        return {
            m.name: tar.extractfile(m).read() if m.isfile() else None
            for m in tar.getmembers()
        }


def written_archive(directory: Path) -> Path:
    """The one archive a dump wrote in ``directory`` (its name holds the time)."""
    (archive,) = directory.glob("diskette_data_storages_*.tar.gz")
    return archive


def test_default_output(seeded, site, tmp_path):
    out, err = run()
    archive = written_archive(tmp_path / "dumps")
    lines = out.splitlines()
    assert lines[0].startswith("data/djangocontribauth.json: ")
    assert any(line.startswith("media: ") and " files, " in line for line in lines)
    assert f"archive {archive}: " in out
    checksum = hashlib.blake2b(archive.read_bytes()).hexdigest()
    assert lines[-1] == f"checksum (blake2b): {checksum}"
    members = read_archive(archive)
    manifest = Manifest.from_bytes(members["manifest.json"])
    for name in EXCLUDED_FILES:
        assert f"media/{name}" not in members
    assert manifest.storages[0].files == sum(
        1 for n, c in members.items() if n.startswith("media/") and c is not None
    )
    assert err == ""


def test_verbosity_zero_prints_nothing(seeded, site, tmp_path):
    (site / "media" / "link").symlink_to(site / "media" / "docs")
    out, err = run(verbosity=0)
    assert (out, err) == ("", "")
    assert written_archive(tmp_path / "dumps").exists()


def test_links_skipped_with_a_warning(seeded, site):
    (site / "media" / "to-docs").symlink_to(site / "media" / "docs")
    out, err = run("--no-data")
    assert "skipped symbolic link media/to-docs" in err


def test_json_output(seeded, site):
    out, _err = run("--json")
    payload = json.loads(out)
    with open(payload["path"], "rb") as stream:
        assert payload["checksum"] == hashlib.blake2b(stream.read()).hexdigest()
    assert payload["objects"] == sum(d["objects"] for d in payload["data"])
    assert payload["storages"][0]["name"] == "media"
    assert {"data", "archive", "total"} <= set(payload["timings"])


def test_no_checksum(seeded, site):
    out, _err = run("--no-checksum")
    assert "archive " in out
    assert "blake2b" not in out
    payload = json.loads(run("--no-checksum", "--json")[0])
    assert payload["checksum"] is None


def test_path_and_selection_options(seeded, site, tmp_path):
    appconf = tmp_path / "apps.json"
    appconf.write_text(
        json.dumps(
            [["users", {"models": ["auth.User"]}], ["sites", {"models": "sites"}]]
        )
    )
    out, _err = run(
        "--destination",
        str(tmp_path / "elsewhere"),
        "--filename",
        "backup{features}.tar.gz",
        "--appconf",
        str(appconf),
        "--exclude-app",
        "sites",
        "--format",
        "xml",
        "--indent",
        "2",
        "--compresslevel",
        "1",
        "--no-storages",
    )
    archive = tmp_path / "elsewhere" / "backup_data.tar.gz"
    members = read_archive(archive)
    assert list(members) == ["data/users.xml", "manifest.json"]
    assert members["data/users.xml"].startswith(
        b'<?xml version="1.0" encoding="utf-8"?>\n'
    )
    out, _err = run("--appconf", str(appconf), "--app", "sites", "--no-storages")
    assert "data/sites.json: " in out


def test_storage_options(seeded, site, tmp_path):
    (site / "other").mkdir()
    (site / "other" / "x.log").write_text("log")
    (site / "other" / "y.txt").write_text("txt")
    run(
        "--no-data",
        "--storage",
        "other",
        "--storage",
        "media",
        "--storages-exclude",
        "*.log",
        "--filename",
        "s.tar.gz",
    )
    names = set(read_archive(tmp_path / "dumps" / "s.tar.gz"))
    assert "other/y.txt" in names
    assert "other/x.log" not in names
    assert "media/cache/thumb.bin" not in names
    run("--no-data", "--no-storages-excludes", "--filename", "all.tar.gz")
    names = set(read_archive(tmp_path / "dumps" / "all.tar.gz"))
    assert "media/cache/thumb.bin" in names
    with pytest.raises(CommandError, match="base path"):
        run("--no-data", "--storages-basepath", str(site / "other"), "--storage", ".")


def test_check_writes_nothing(seeded, site, tmp_path):
    out, _err = run("--check")
    assert "nothing written" in out
    assert "data/library.json (library, json): library." in out
    assert "media: " in out
    assert not (tmp_path / "dumps").exists()
    payload = json.loads(run("--check", "--json")[0])
    assert payload["archive"] == str(tmp_path / "dumps" / payload["name"])
    assert payload["name"].startswith("diskette_data_storages_")
    assert payload["destination"] == f"local directory {tmp_path / 'dumps'}"
    assert not (tmp_path / "dumps").exists()


def test_check_queries_no_data(seeded, site, django_assert_num_queries):
    with django_assert_num_queries(0):
        out, _err = run("--check")
    assert "data/djangocontribauth.json" in out


def test_no_archive_prints_lines_and_writes_nothing(seeded, site, tmp_path):
    out, err = run("--no-archive")
    lines = out.splitlines()
    assert len(lines) == 3  # one per definition
    assert all(" dumpdata " in line and "--output=" in line for line in lines)
    assert "storages are not dumped" in err
    assert not (tmp_path / "dumps").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--filename", "x{nope}.tar.gz"], "unknown placeholder", 3),
        (["--app", "nope"], "unknown definition", 3),
        (["--storage", "missing"], "does not exist", 3),
        (["--appconf", "/nonexistent.json"], "cannot read", 3),
        (["--compresslevel", "12"], "from 0 to 9", 3),
        (["--format", "toml"], "--format: format 'toml' is unknown", 3),
        (["--indent", "-1"], "indent", 3),
    ],
)
def test_bad_options_are_one_line_errors(site, args, message, code):
    with pytest.raises(CommandError, match=message) as caught:
        run(*args)
    assert "\n" not in str(caught.value)
    assert caught.value.returncode == code


# -- real runs of sandbox/manage.py ------------------------------------------


@pytest.mark.slow
def test_bad_option_in_a_real_run(sandbox_env):
    (Path(sandbox_env["SANDBOX_VAR"]) / "media").mkdir()
    result = run_manage(
        "diskette_dump", "--filename", "x{nope}.tar.gz", env=sandbox_env
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "unknown placeholder {nope}" in line
    assert result.stdout == ""


@pytest.mark.slow
def test_real_run_no_archive_and_loaddata(sandbox_env, tmp_path):
    """Seed a site; its archive's fixtures equal the --no-archive lines' output run
    through a shell, and load with plain loaddata into a fresh site."""
    for args in (("migrate", "-v0"), ("seed", "--objects", "60")):
        result = run_manage(*args, env=sandbox_env)
        assert result.returncode == 0, result.stderr
    result = run_manage("diskette_dump", "--json", env=sandbox_env)
    assert result.returncode == 0, result.stderr
    dumped = json.loads(result.stdout)
    members = read_archive(dumped["path"])
    manifest = Manifest.from_bytes(members["manifest.json"])

    shell_dir = tmp_path / "by-hand"
    shell_dir.mkdir()
    result = run_manage(
        "diskette_dump",
        "--no-archive",
        "--destination",
        str(shell_dir),
        env=sandbox_env,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(manifest.data)
    shell = subprocess.run(
        ["bash", "-c", result.stdout],
        env=sandbox_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert shell.returncode == 0, shell.stderr
    for data in manifest.data:
        assert (shell_dir / data.filename).read_bytes() == members[data.path], data.path

    # A fresh site loads the fixtures with plain loaddata, in the manifest order.
    fresh = dict(sandbox_env, SANDBOX_VAR=str(tmp_path / "fresh"))
    (tmp_path / "fresh").mkdir()
    assert run_manage("migrate", "-v0", env=fresh).returncode == 0
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    paths = []
    for data in manifest.data:
        (fixtures / data.filename).write_bytes(members[data.path])
        paths.append(str(fixtures / data.filename))
    result = run_manage("loaddata", *paths, env=fresh)
    assert result.returncode == 0, result.stderr
    assert (
        f"Installed {sum(d.objects for d in manifest.data)} object(s)" in result.stdout
    )
    compare = ("dumpdata", "library", "auth.User", "auth.Group", "--natural-foreign")
    before = run_manage(*compare, env=sandbox_env)
    after = run_manage(*compare, env=fresh)
    assert json.loads(after.stdout) == json.loads(before.stdout)


@pytest.mark.slow
def test_archive_from_sandbox_defaults_matches_original_layout(sandbox_env):
    """The keys the original diskette reads, and data/ then storages then manifest."""
    for args in (("migrate", "-v0"), ("seed", "--objects", "30", "--media-files", "3")):
        assert run_manage(*args, env=sandbox_env).returncode == 0
    result = run_manage("diskette_dump", "--json", env=sandbox_env)
    assert result.returncode == 0, result.stderr
    path = json.loads(result.stdout)["path"]
    with tarfile.open(path, "r:gz") as tar:
        names = tar.getnames()
    members = read_archive(path)
    payload = json.loads(members["manifest.json"])
    assert names[-1] == "manifest.json"
    data_end = max(i for i, n in enumerate(names) if n.startswith("data/"))
    assert all(n.startswith("media") for n in names[data_end + 1 : -1])
    assert payload["datas"] == [n for n in names if n.startswith("data/")]
    assert payload["storages"] == ["media"]
    assert isinstance(payload["version"], str)
    assert isinstance(payload["creation"], str)
    assert str(REPO_ROOT) not in members["manifest.json"].decode()


# -- destinations ------------------------------------------------------------------


@pytest.mark.slow
def test_to_overwrite_and_prune_flags(seeded, site, tmp_path, settings):
    out, _ = run("--to", "local", "--filename", "site.tar.gz", "--json")
    assert json.loads(out)["destination"] == f"local directory {tmp_path / 'dumps'}"
    with pytest.raises(CommandError) as caught:
        run("--filename", "site.tar.gz")
    assert caught.value.returncode == 3
    assert "--overwrite" in str(caught.value)
    run("--filename", "site.tar.gz", "--overwrite")

    settings.DISKETTE_RETENTION = {"keep_last": 1}
    out, _ = run("--prune")
    assert "pruned local directory " in out
    payload = json.loads(run("--prune", "--json")[0])
    assert payload["prune"]["deleted"]
    kept = sorted(path.name for path in (tmp_path / "dumps").iterdir())
    assert kept == sorted([payload["name"], payload["sidecar"]])


def test_prune_goes_with_a_dump_only(site):
    for mode in ("--check", "--no-archive"):
        with pytest.raises(CommandError, match="--prune prunes after a dump") as caught:
            run("--prune", mode)
        assert caught.value.returncode == 2


def test_the_original_save_option_is_accepted(seeded, site, tmp_path):
    """The original's ``--save`` recorded the dump for its admin; here every
    archive is recorded by its sidecar, which diskette_list reads."""
    run("--save")
    archive = written_archive(tmp_path / "dumps")
    assert (archive.parent / f"{archive.name}.manifest.json").is_file()
