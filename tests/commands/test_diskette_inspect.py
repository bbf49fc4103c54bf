"""The diskette_inspect command: text, --json, --verify, URLs, the original's archives."""

from __future__ import annotations

import gzip
import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from diskette.exceptions import ChecksumError
from tests.archives import make_archive, sites, snapshot
from tests.conftest import run_manage

COMPAT = Path(__file__).resolve().parents[3] / "shared" / "compat" / "diskette-0.6.0"
needs_compat = pytest.mark.skipif(
    not (COMPAT / "diskette_data_storages.tar.gz").is_file(),
    reason=f"the original diskette's archives are not beside the repository "
    f"({COMPAT} is absent)",
)


def run(*args, **options):
    out, err = io.StringIO(), io.StringIO()
    call_command("diskette_inspect", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def archive(tmp_path):
    return make_archive(
        tmp_path / "site.tar.gz",
        data={"sites.json": sites((1, "a.example"), (2, "b.example"))},
        storages={"media": {"docs/a.txt": b"alpha", "b.txt": b"beta"}},
        empty_directories={"media": ["empty"]},
    )


def tamper(path: Path, name: str) -> None:
    """Change one byte of member ``name``, keeping the manifest as it was."""
    with tarfile.open(path, "r:gz") as tar:
        members = [
            (m, tar.extractfile(m).read() if m.isfile() else None)
            for m in tar.getmembers()
        ]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, content in members:
            if member.name == name:
                content = bytes([content[0] ^ 1]) + content[1:]
            tar.addfile(member, io.BytesIO(content) if content is not None else None)
    path.write_bytes(gzip.compress(buffer.getvalue()))


def test_text_output(archive, tmp_path):
    before = snapshot(tmp_path)
    out, err = run(str(archive))
    lines = out.splitlines()
    assert lines[0] == f"archive: {archive} ({archive.stat().st_size} bytes)"
    assert "format: 1, created 2026-11-21T18:05:25+01:00" in lines
    assert "database: sqlite (alias 'default')" in lines
    assert any(line.startswith("data/sites.json: sites, json, ") for line in lines)
    assert "media: 2 files, 9 bytes, 1 empty directory" in lines
    assert lines[-1] == "checksums: 3 members verified (sha256)"
    assert err == ""
    assert snapshot(tmp_path) == before


def test_json_output(archive):
    out, _ = run(str(archive), "--json")
    payload = json.loads(out)
    assert payload["format"] == 1
    assert payload["checksums"]["status"] == "verified"
    assert payload["checksums"]["members"] == 3
    assert [item["path"] for item in payload["data"]] == ["data/sites.json"]
    assert payload["storages"][0]["empty_directories"] == ["empty"]
    assert payload["environment"] is None


def test_verify_passes_quietly_on_a_good_archive(archive):
    out, err = run(str(archive), "--verify", verbosity=0)
    assert (out, err) == ("", "")


def test_verify_fails_naming_the_member(archive):
    tamper(archive, "media/docs/a.txt")
    with pytest.raises(CommandError) as raised:
        run(str(archive), "--verify")
    assert raised.value.returncode == ChecksumError.exit_code == 13
    assert "'media/docs/a.txt'" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_without_verify_a_failure_is_shown_not_raised(archive):
    tamper(archive, "data/sites.json")
    out, err = run(str(archive))
    assert "checksums: FAILED, 1 problem" in err
    assert "'data/sites.json'" in err


def test_json_and_verify_print_then_fail(archive):
    tamper(archive, "media/b.txt")
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(
            "diskette_inspect",
            str(archive),
            "--json",
            "--verify",
            stdout=out,
            stderr=io.StringIO(),
        )
    assert raised.value.returncode == 13
    payload = json.loads(out.getvalue())
    assert payload["checksums"]["status"] == "failed"
    assert [f["name"] for f in payload["checksums"]["failed"]] == ["media/b.txt"]


def test_manifest_only(archive):
    tamper(archive, "media/b.txt")
    out, _ = run(str(archive), "--manifest-only")
    assert out.splitlines()[-1] == "checksums: not checked (--manifest-only)"
    with pytest.raises(CommandError, match="drop --manifest-only"):
        run(str(archive), "--manifest-only", "--verify")


def test_environment_note(tmp_path):
    path = make_archive(
        tmp_path / "x.tar.gz",
        data={"sites.json": sites((1, "a"))},
        tamper=lambda m: m["diskette"].update(environment=["gone-away==2.0"]),
    )
    out, err = run(str(path), "--environment", "--verify")
    assert "environment: differs from here (a note, not an error)" in out
    assert "  - gone-away==2.0 (archive only)" in out
    assert err == ""


def test_a_missing_archive_is_one_line(tmp_path):
    with pytest.raises(CommandError) as raised:
        run(str(tmp_path / "nope.tar.gz"))
    assert raised.value.returncode == 10
    assert "does not exist" in str(raised.value)


@needs_compat
def test_the_original_diskette_archive():
    out, err = run(str(COMPAT / "diskette_data_storages.tar.gz"), "--verify")
    lines = out.splitlines()
    assert "format: original diskette 0.6.0 (no format version), created " in out
    assert "database: not recorded" in lines
    assert "data/djangocontribauth.json: json, 2617 bytes, 8 objects (counted)" in lines
    assert "  auth.User: 6" in lines
    assert "media: 3 files, 30046 bytes" in lines
    assert lines[-1].startswith("checksums: none (the original diskette writes none)")
    assert err == ""


@needs_compat
def test_the_original_diskette_archive_as_json():
    out, _ = run(str(COMPAT / "diskette_data.tar.gz"), "--json")
    payload = json.loads(out)
    assert payload["legacy"] is True and payload["format"] is None
    assert payload["checksums"] == {
        "status": "none",
        "algorithm": None,
        "members": 2,
        "failed": [],
    }
    assert payload["objects"] == 10


@pytest.mark.slow
def test_a_real_run_over_http(archive, sandbox_env, tmp_path):
    """As a user runs it: a subprocess, the archive served by a real HTTP server."""
    body = archive.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            """Keep the test output clean."""

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,))
    thread.start()
    temp = tmp_path / "temp"
    temp.mkdir()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/site.tar.gz"
        result = run_manage(
            "diskette_inspect",
            url,
            "--verify",
            env={**sandbox_env, "TMPDIR": str(temp)},
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Downloaded {url} ({len(body)} bytes)"
    assert lines[1] == f"archive: {url} ({len(body)} bytes)"
    assert "checksums: 3 members verified (sha256)" in result.stdout
    assert list(temp.iterdir()) == []
    assert not (Path(sandbox_env["SANDBOX_VAR"]) / "db.sqlite3").exists()
