"""diskette.api.inspect(): what an archive holds, verified without writing anything."""

from __future__ import annotations

import gzip
import http.server
import io
import subprocess
import sys
import tarfile
import tempfile
import threading
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from diskette import api
from diskette.exceptions import ArchiveError, DownloadError, ManifestError
from tests.archives import (
    Entry,
    groups,
    make_archive,
    sha256,
    sites,
    snapshot,
    write_tar,
)

COMPAT = Path(__file__).resolve().parents[3] / "shared" / "compat" / "diskette-0.6.0"
needs_compat = pytest.mark.skipif(
    not (COMPAT / "diskette_data_storages.tar.gz").is_file(),
    reason=f"the original diskette's archives are not beside the repository "
    f"({COMPAT} is absent)",
)


@pytest.fixture
def system_temp(tmp_path, monkeypatch):
    """Python's temp dir, pointed at an empty directory to see what lands there."""
    path = tmp_path / "system-temp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


@pytest.fixture
def dumped(seeded, tmp_path, settings):
    """A real archive of the seeded database and a small media directory."""
    media = tmp_path / "site" / "media"
    (media / "docs").mkdir(parents=True)
    (media / "docs" / "readme.txt").write_bytes(b"read me")
    (media / "photo.jpg").write_bytes(bytes(range(256)) * 4)
    (media / "empty").mkdir()
    settings.DISKETTE_APPS = [
        ["auth", {"natural_foreign": True, "models": ["auth.Group", "auth.User"]}],
        ["library", {"natural_foreign": True, "models": ["library"]}],
    ]
    settings.DISKETTE_STORAGES = ["media"]
    settings.DISKETTE_STORAGES_BASEPATH = str(tmp_path / "site")
    result = api.dump(destination=tmp_path / "dumps")
    return result


def rewrite(path: Path, name: str, change) -> None:
    """Rewrite the archive at ``path`` with member ``name``'s content changed."""
    with tarfile.open(path, "r:gz") as tar:
        members = [
            (m, tar.extractfile(m).read() if m.isfile() else None)
            for m in tar.getmembers()
        ]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, content in members:
            if member.name == name:
                content = change(content)
                member.size = len(content)
            tar.addfile(member, io.BytesIO(content) if content is not None else None)
    path.write_bytes(gzip.compress(buffer.getvalue()))


def test_our_archive_is_described_and_verified(dumped, tmp_path, system_temp):
    before = snapshot(tmp_path)
    with CaptureQueriesContext(connection) as queries:
        result = api.inspect(dumped.path)

    assert len(queries) == 0
    assert snapshot(tmp_path) == before
    assert result.ok and result.checksums == "verified"
    assert result.format == 1 and not result.legacy
    assert result.size == dumped.size
    assert result.database["vendor"] == connection.vendor
    assert "0001_initial" in result.migrations["library"]
    assert result.software["django"]
    for inspected, written in zip(result.data, dumped.data, strict=True):
        assert inspected.path == written.path
        assert inspected.definition == written.name
        assert inspected.models == written.models
        assert inspected.objects == written.objects
        assert inspected.size == written.size
        assert inspected.verified is True
    (storage,) = result.storages
    (written,) = dumped.storages
    assert (storage.name, storage.files, storage.bytes) == (
        "media",
        written.files,
        written.bytes,
    )
    assert storage.empty_directories == ["empty"]
    assert storage.verified is True
    assert result.members == len(dumped.data) + written.files
    assert result.objects == dumped.objects


def test_a_tampered_member_is_named(dumped):
    rewrite(dumped.path, "media/docs/readme.txt", lambda data: b"READ ME")

    result = api.inspect(dumped.path)

    assert not result.ok and result.checksums == "failed"
    (failed,) = result.failed
    assert failed.name == "media/docs/readme.txt"
    assert failed.sha256 == sha256(b"READ ME")
    assert failed.expected == sha256(b"read me")
    assert "'media/docs/readme.txt'" in result.problems[0]
    assert result.storages[0].verified is False
    assert all(item.verified for item in result.data)


def test_a_tampered_data_file_is_named(dumped):
    path = dumped.data[0].path
    rewrite(dumped.path, path, lambda data: data.replace(b'"', b"'", 1))

    result = api.inspect(dumped.path)

    assert [c.name for c in result.failed] == [path]
    assert result.data[0].verified is False
    assert result.to_dict()["checksums"]["failed"][0]["name"] == path


def test_manifest_only_hashes_nothing(dumped):
    rewrite(dumped.path, "media/docs/readme.txt", lambda data: b"READ ME")

    result = api.inspect(dumped.path, verify=False)

    assert result.ok and result.checksums == "not checked"
    assert result.members == 0
    assert result.data[0].objects == dumped.data[0].objects


def test_a_truncated_archive_is_a_problem_once_the_manifest_is_read(dumped):
    raw = dumped.path.read_bytes()
    dumped.path.write_bytes(raw[: len(raw) - 200])

    try:
        result = api.inspect(dumped.path)
    except ArchiveError as error:  # cut before the manifest could be read
        assert "truncated" in str(error) or "corrupt" in str(error)
    else:
        assert not result.ok
        assert "truncated" in result.problems[-1] or "corrupt" in result.problems[-1]


def test_no_manifest_is_an_error(tmp_path):
    path = write_tar(tmp_path / "x.tar.gz", [Entry("data/a.json", b"[]")])
    with pytest.raises(ManifestError, match="has no manifest.json"):
        api.inspect(path)


def test_an_original_diskette_archive_built_in_code(tmp_path):
    path = make_archive(
        tmp_path / "old.tar.gz",
        data={"auth.json": groups((1, "a"), (2, "b")), "sites.json": sites((1, "x"))},
        storages={"media": {"a/b.txt": b"hello", "c.txt": b"!"}},
        legacy=True,
    )

    result = api.inspect(path)

    assert result.legacy and result.format is None
    assert result.checksums == "none" and result.ok
    assert [item.models for item in result.data] == [
        {"auth.Group": 2},
        {"sites.Site": 1},
    ]
    assert [item.verified for item in result.data] == [None, None]
    (storage,) = result.storages
    assert (storage.files, storage.bytes, storage.verified) == (2, 6, None)
    assert result.to_dict()["checksums"]["algorithm"] is None


def test_an_original_fixture_that_is_not_json_does_not_verify(tmp_path):
    path = make_archive(tmp_path / "old.tar.gz", data={"auth.json": b"[{"}, legacy=True)

    result = api.inspect(path)

    assert not result.ok
    assert "'data/auth.json' is not a JSON fixture" in result.problems[0]
    assert result.data[0].objects is None


@needs_compat
@pytest.mark.parametrize(
    ("name", "storages"),
    [("diskette_data_storages.tar.gz", 1), ("diskette_data.tar.gz", 0)],
)
def test_the_original_diskette_archives(name, storages, system_temp):
    result = api.inspect(COMPAT / name)

    assert result.legacy and result.checksums == "none" and result.ok
    assert result.version == "0.6.0"
    assert result.software == {"diskette": "0.6.0"}
    assert result.database == {}
    auth = result.data[0]
    assert auth.path == "data/djangocontribauth.json"
    assert auth.models == {"auth.Group": 2, "auth.User": 6}
    assert result.data[1].models == {"sites.Site": 2}
    assert len(result.storages) == storages
    if storages:
        assert result.storages[0].name == "media"
        assert result.storages[0].files == 3
    assert list(system_temp.iterdir()) == []


class Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802 - the http.server API
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        """Keep the test output clean."""


@pytest.fixture
def serve():
    servers = []

    def start(body: bytes) -> str:
        handler = type("Served", (Handler,), {"body": body})
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,))
        thread.start()
        servers.append((httpd, thread))
        return f"http://127.0.0.1:{httpd.server_address[1]}/archive.tar.gz"

    yield start
    for httpd, thread in servers:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_a_url_is_downloaded_to_a_private_directory_then_removed(
    serve, tmp_path, system_temp
):
    path = make_archive(
        tmp_path / "x.tar.gz",
        data={"sites.json": sites((1, "a"))},
        storages={"media": {"f.txt": b"file"}},
    )
    url = serve(path.read_bytes())

    result = api.inspect(url)

    assert result.archive == url
    assert result.ok and result.checksums == "verified" and result.members == 2
    assert list(system_temp.iterdir()) == []


def test_a_refused_url_leaves_nothing(serve, tmp_path, system_temp, settings):
    settings.DISKETTE_DOWNLOAD_MAX_SIZE = 10
    url = serve(b"x" * 100)
    with pytest.raises(DownloadError, match="DISKETTE_DOWNLOAD_MAX_SIZE"):
        api.inspect(url)
    assert list(system_temp.iterdir()) == []


def test_environment_is_compared(tmp_path):
    path = make_archive(
        tmp_path / "x.tar.gz",
        data={"sites.json": sites((1, "a"))},
        tamper=lambda m: m["diskette"].update(
            environment=["Django==1.0", "gone-away==2.0"]
        ),
    )

    result = api.inspect(path, environment=True)

    difference = result.environment
    assert difference.recorded
    assert "gone-away==2.0" in difference.removed
    (changed,) = [c for c in difference.changed if c[0].lower() == "django"]
    assert changed[1] == "1.0"
    assert any(entry.startswith("pytest") for entry in difference.added)
    assert result.ok  # a note, never a problem
    assert result.to_dict()["environment"]["removed"] == ["gone-away==2.0"]


def test_environment_is_not_compared_unless_asked(tmp_path):
    path = make_archive(tmp_path / "x.tar.gz", data={"sites.json": sites((1, "a"))})
    assert api.inspect(path).environment is None
    assert api.inspect(path, environment=True).environment.recorded is False


def test_inspect_is_exposed_on_the_package():
    import diskette

    assert diskette.inspect is api.inspect
    assert "inspect" in diskette.__all__


def test_the_exceptions_are_exported_on_the_package():
    import diskette
    from diskette import exceptions

    errors = [
        value
        for value in vars(exceptions).values()
        if isinstance(value, type) and issubclass(value, exceptions.DisketteError)
    ]
    assert len(errors) > 10
    for error in errors:
        assert getattr(diskette, error.__name__) is error
        assert error.__name__ in diskette.__all__


def test_importing_the_package_imports_nothing_of_django():
    code = (
        "import sys, diskette; print(sorted(m for m in sys.modules if 'django' in m))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_type_checkers_see_the_api_functions_not_any(tmp_path):
    """The lazy names reach type checkers with their real signatures."""
    mypy_api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "import diskette\n"
        "reveal_type(diskette.load)\n"
        "reveal_type(diskette.dump)\n"
        "reveal_type(diskette.inspect)\n"
        "diskette.load('a.tar.gz', flush='yes')\n"
    )
    out, _err, status = mypy_api.run(
        ["--cache-dir", str(tmp_path / "cache"), "--follow-imports=silent"]
        + ["--ignore-missing-imports", str(snippet)]
    )
    assert "-> diskette.api.results.LoadResult" in out, out
    assert "DumpResult" in out, out
    assert "InspectResult" in out, out
    assert 'Argument "flush" to "load" has incompatible type "str"' in out, out
    assert status == 1
