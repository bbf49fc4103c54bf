"""dump() into each kind of destination: a local directory, a FileSystemStorage
alias, S3 (moto) and SFTP (sshd), with the sidecar, names that are refused, and
``prune=True``.

Every destination is real: files on disk, a real S3 server and a real sshd (see
``tests/servers``). The archive is read back from where it went and checked
against the dump's result.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError

from diskette import api
from diskette.destinations import LocalDestination, StorageDestination
from diskette.destinations.listing import list_archives
from diskette.destinations.sidecar import read_sidecar, sidecar_name
from diskette.exceptions import ConfigurationError, DumpError, PruneError
from diskette.reporter import Reporter
from tests.destinations.dict_backend import DictBackend
from tests.servers.s3 import unique_prefix
from tests.servers.sftp import unique_directory

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
#: S3 parts of this size: an 11 MiB archive goes in 3 (5 + 5 + 1).
PART_SIZE = 5 * MiB
FILESYSTEM = "django.core.files.storage.FileSystemStorage"


@pytest.fixture
def site(tmp_path, settings):
    """One definition (sites), one small media storage, dumps in ``dumps/``."""
    media = tmp_path / "site" / "media"
    (media / "docs").mkdir(parents=True)
    (media / "docs" / "a.txt").write_text("bonjour")
    settings.DISKETTE_APPS = [["django.contrib.sites", {"models": "sites"}]]
    settings.DISKETTE_STORAGES = ["media"]
    settings.DISKETTE_STORAGES_BASEPATH = str(media.parent)
    settings.DISKETTE_DUMP_PATH = str(tmp_path / "dumps")
    return media


@pytest.fixture
def aliases(settings):
    """Add ``STORAGES`` aliases: ``aliases(name=(BACKEND, OPTIONS), ...)``."""
    made: list[str] = []

    def add(**backends: tuple[str, dict]) -> None:
        settings.STORAGES = {
            **settings.STORAGES,
            **{
                name: {"BACKEND": backend, "OPTIONS": options}
                for name, (backend, options) in backends.items()
            },
        }
        made.extend(backends)

    yield add
    for name in made:  # an SFTP storage keeps its connection open
        close = (
            getattr(storages[name], "close", None)
            if name in storages.backends
            else None
        )
        if close is not None:
            close()


@pytest.fixture
def system_temp(tmp_path, monkeypatch):
    """Python's temporary directory, empty: nothing of a dump may stay there."""
    import tempfile

    path = tmp_path / "system-temp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


def names(directory: Path) -> list[str]:
    return (
        sorted(path.name for path in directory.iterdir()) if directory.exists() else []
    )


def digest(data: bytes) -> str:
    return hashlib.blake2b(data).hexdigest()


def members(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getnames()


def assert_published(destination, result, data: bytes) -> None:
    """The archive is there whole, with a sidecar that names it."""
    assert digest(data) == result.checksum
    assert len(data) == result.size
    assert members(data)[-1] == "manifest.json"
    sidecar = read_sidecar(destination, result.name)
    assert sidecar is not None
    assert (sidecar.size, sidecar.checksum) == (
        result.size,
        f"blake2b:{result.checksum}",
    )
    assert result.sidecar == sidecar_name(result.name)
    (entry,) = [e for e in list_archives(destination) if e.name == result.name]
    assert entry.written_by_diskette


def run(*args: str, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("diskette_dump", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


# -- the local directory ----------------------------------------------------------


def test_the_default_destination_is_the_dump_path(site, tmp_path, system_temp):
    result = api.dump()

    dumps = tmp_path / "dumps"
    assert result.local
    assert result.path == dumps / result.name
    assert result.destination == f"local directory {dumps}"
    assert names(dumps) == sorted([result.name, sidecar_name(result.name)])
    assert_published(LocalDestination(dumps), result, result.path.read_bytes())
    payload = result.to_dict()
    assert (payload["path"], payload["name"]) == (str(result.path), result.name)
    assert payload["destination"] == f"local directory {dumps}"
    assert payload["prune"] is None
    assert names(system_temp) == []


@pytest.mark.parametrize("how", ["api", "command"])
def test_to_local_is_the_dump_path(site, tmp_path, how):
    dumps = tmp_path / "dumps"
    if how == "api":
        name = api.dump(to="local").name
    else:
        out, _ = run("--to", "local", "--json")
        name = json.loads(out)["name"]
    assert names(dumps) == sorted([name, sidecar_name(name)])


def test_each_dump_gets_a_name_of_its_own(site, tmp_path):
    first, second = api.dump(), api.dump()
    assert first.name != second.name
    assert sorted([first.name, second.name]) == [first.name, second.name]


def test_an_existing_name_is_refused_before_anything_is_written(site, tmp_path):
    dumps = tmp_path / "dumps"
    first = api.dump(filename="site.tar.gz")
    before = first.path.read_bytes()

    with pytest.raises(ConfigurationError, match="overwrite=True") as caught:
        api.dump(filename="site.tar.gz")
    assert (
        f"local directory {dumps} already holds an archive named 'site.tar.gz'"
        in str(caught.value)
    )
    with pytest.raises(ConfigurationError, match="already holds"):
        api.plan_dump(filename="site.tar.gz")
    assert first.path.read_bytes() == before
    assert names(dumps) == ["site.tar.gz", "site.tar.gz.manifest.json"]

    second = api.dump(filename="site.tar.gz", overwrite=True)
    assert second.path == first.path
    assert names(dumps) == ["site.tar.gz", "site.tar.gz.manifest.json"]
    assert_published(LocalDestination(dumps), second, second.path.read_bytes())


def test_the_command_refuses_an_existing_name_and_overwrites_with_the_flag(
    site, tmp_path
):
    run("--filename", "site.tar.gz")
    with pytest.raises(CommandError) as caught:
        run("--filename", "site.tar.gz")
    assert caught.value.returncode == 3
    message = str(caught.value)
    assert "--overwrite to replace it" in message
    assert "overwrite=True" not in message
    assert "\n" not in message

    out, _ = run("--filename", "site.tar.gz", "--overwrite", "--json")
    assert json.loads(out)["name"] == "site.tar.gz"


class CreatesTheName(Reporter):
    """A real reporter that, while storages are archived, puts a file under the
    archive's name, as another dump finishing meanwhile would."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def progress(self, label, done, total=None, unit=""):
        if not self.path.exists():
            self.path.write_bytes(b"another dump's archive")


def test_a_name_taken_during_the_dump_is_not_replaced(site, tmp_path, system_temp):
    dumps = tmp_path / "dumps"
    taken = dumps / "site.tar.gz"

    with pytest.raises(DumpError, match="appeared in local directory") as caught:
        api.dump(filename="site.tar.gz", reporter=CreatesTheName(taken))

    assert "no archive was written" in str(caught.value)
    assert taken.read_bytes() == b"another dump's archive"
    assert names(dumps) == ["site.tar.gz"]  # no temporary, no work dir, no sidecar
    assert names(system_temp) == []


def test_destination_and_to_together_are_refused(site, tmp_path):
    with pytest.raises(ConfigurationError, match="give one of them"):
        api.dump(destination=tmp_path / "x", to="local")
    with pytest.raises(CommandError) as caught:
        run("--destination", str(tmp_path / "x"), "--to", "local")
    assert "--destination" in str(caught.value) and "--to 'local'" in str(caught.value)


def test_an_unknown_alias_is_a_configuration_error(site):
    with pytest.raises(CommandError) as caught:
        run("--to", "nope")
    assert caught.value.returncode == 3
    assert str(caught.value).startswith("--to 'nope': ")


# -- Django storages -------------------------------------------------------------


def test_a_filesystem_storage_alias(site, tmp_path, aliases, system_temp):
    backups = tmp_path / "backups"
    aliases(backups=(FILESYSTEM, {"location": str(backups)}))

    result = api.dump(to="backups")

    assert not result.local
    assert result.path == result.name
    assert result.destination == "STORAGES['backups'] (FileSystemStorage)"
    assert names(backups) == sorted([result.name, sidecar_name(result.name)])
    assert_published(
        StorageDestination(storages["backups"]),
        result,
        (backups / result.name).read_bytes(),
    )
    assert names(tmp_path / "dumps") == []  # the work directory went away
    assert names(system_temp) == []
    assert result.to_dict()["destination"] == "STORAGES['backups'] (FileSystemStorage)"


def test_the_command_says_where_the_archive_went(site, tmp_path, aliases):
    aliases(backups=(FILESYSTEM, {"location": str(tmp_path / "backups")}))
    out, _ = run("--to", "backups", "--no-checksum")
    (line,) = [line for line in out.splitlines() if line.startswith("archive ")]
    assert " in STORAGES['backups'] (FileSystemStorage): " in line
    out, _ = run("--to", "backups", "--check")
    assert "in STORAGES['backups'] (FileSystemStorage) (nothing written" in out


def test_the_setting_names_the_default_destination(site, tmp_path, aliases, settings):
    aliases(backups=(FILESYSTEM, {"location": str(tmp_path / "backups")}))
    settings.DISKETTE_ARCHIVE_STORAGE = "backups"
    result = api.dump()
    assert result.destination == "STORAGES['backups'] (FileSystemStorage)"
    assert (tmp_path / "backups" / result.name).is_file()
    # --destination still means a local directory.
    local = api.dump(destination=tmp_path / "here")
    assert local.path == tmp_path / "here" / local.name


def test_an_existing_name_in_a_storage_is_refused_then_overwritten(
    site, tmp_path, aliases
):
    backups = tmp_path / "backups"
    aliases(backups=(FILESYSTEM, {"location": str(backups)}))
    api.dump(to="backups", filename="site.tar.gz")
    with pytest.raises(
        ConfigurationError, match=r"STORAGES\['backups'\].*already holds"
    ):
        api.dump(to="backups", filename="site.tar.gz")
    api.dump(to="backups", filename="site.tar.gz", overwrite=True)
    assert names(backups) == ["site.tar.gz", "site.tar.gz.manifest.json"]


@pytest.fixture
def large_media(site):
    """11 MiB of random bytes: the archive does not compress below S3's parts."""
    (site / "big.bin").write_bytes(os.urandom(11 * MiB))
    return site


@pytest.mark.slow
def test_s3_with_a_multipart_upload(
    large_media, tmp_path, aliases, s3_server, system_temp
):
    from boto3.s3.transfer import TransferConfig

    prefix = unique_prefix()
    config = TransferConfig(
        multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE
    )
    options = s3_server.storage_options(
        location=prefix.rstrip("/"), transfer_config=config
    )
    aliases(s3=("storages.backends.s3.S3Storage", options))

    result = api.dump(to="s3", compresslevel=1)

    assert result.destination == "STORAGES['s3'] (S3Storage)"
    client = s3_server.client()
    listed = client.list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix)
    keys = sorted(item["Key"][len(prefix) :] for item in listed["Contents"])
    assert keys == sorted([result.name, sidecar_name(result.name)])
    head = client.head_object(Bucket=s3_server.bucket, Key=prefix + result.name)
    assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 1 MiB parts
    uploads = client.list_multipart_uploads(Bucket=s3_server.bucket, Prefix=prefix)
    assert uploads.get("Uploads", []) == []
    body = client.get_object(Bucket=s3_server.bucket, Key=prefix + result.name)
    assert_published(StorageDestination(storages["s3"]), result, body["Body"].read())
    assert names(tmp_path / "dumps") == []
    assert names(system_temp) == []


def test_sftp(site, tmp_path, aliases, sftp_server, system_temp):
    root = unique_directory(sftp_server)
    sftp = "storages.backends.sftpstorage.SFTPStorage"
    aliases(sftp=(sftp, sftp_server.storage_options(root=root)))

    result = api.dump(to="sftp")

    assert result.destination == "STORAGES['sftp'] (SFTPStorage)"
    assert names(root) == sorted([result.name, sidecar_name(result.name)])
    assert_published(
        StorageDestination(storages["sftp"]), result, (root / result.name).read_bytes()
    )
    assert names(tmp_path / "dumps") == []
    assert names(system_temp) == []


def test_a_backend_of_the_project(site):
    backend = DictBackend()
    result = api.dump(to=backend)
    assert result.destination == "the DictBackend destination"
    assert sorted(backend.files) == sorted([result.name, sidecar_name(result.name)])
    assert_published(backend, result, backend.files[result.name])


# -- prune=True ------------------------------------------------------------------


def test_prune_after_the_dump(site, tmp_path, settings):
    settings.DISKETTE_RETENTION = {"keep_last": 1}
    dumps = tmp_path / "dumps"
    first = api.dump()
    (dumps / "foreign.tar.gz").write_bytes(b"not ours")

    second = api.dump(prune=True)

    assert second.prune is not None
    assert second.prune.deleted == [first.name, sidecar_name(first.name)]
    assert [name for name, _ in second.prune.kept] == [second.name]
    assert names(dumps) == sorted(
        ["foreign.tar.gz", second.name, sidecar_name(second.name)]
    )
    assert second.to_dict()["prune"]["deleted"] == second.prune.deleted


def test_prune_without_a_retention_is_refused_before_the_dump(site, tmp_path, settings):
    settings.DISKETTE_RETENTION = None
    with pytest.raises(ConfigurationError, match="DISKETTE_RETENTION"):
        api.dump(prune=True)
    assert names(tmp_path / "dumps") == []


def test_a_failed_prune_says_the_archive_was_written(site, settings):
    settings.DISKETTE_RETENTION = {"keep_last": 1}
    backend = DictBackend(fail_on_delete=1)
    first = api.dump(to=backend)

    with pytest.raises(PruneError) as caught:
        api.dump(to=backend, prune=True)

    message = str(caught.value)
    written = caught.value.dump  # type: ignore[attr-defined]
    assert message.startswith(
        f"the archive {written.name!r} was written to the DictBackend destination; "
        "then the prune stopped"
    )
    assert f"not deleted 2 ({first.name!r}" in message
    assert caught.value.exit_code == 40
    assert written.name in backend.files and first.name in backend.files
    assert caught.value.result.failed == [first.name, sidecar_name(first.name)]


def test_the_command_exits_with_the_prune_status(site, settings):
    settings.DISKETTE_RETENTION = {"keep_last": 1}
    backend = DictBackend(fail_on_delete=1)
    settings.DISKETTE_ARCHIVE_STORAGE = backend
    run()
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("diskette_dump", "--prune", "--json", stdout=out)
    assert caught.value.returncode == 40
    assert "was written" in str(caught.value) and "\n" not in str(caught.value)
    payload = json.loads(out.getvalue())
    assert payload["name"] in backend.files
    assert payload["prune"]["failed"]
