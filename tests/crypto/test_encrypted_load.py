"""Encrypted and signed archives end to end, on SQLite and PostgreSQL: a round
trip exact by the ORM, wrong keys and altered ciphertext refused with the
database and the media exactly as before, and the trust policy of signed
archives on loads from a real S3 server (moto) and from a local file."""

from __future__ import annotations

import pytest

from diskette import api
from diskette.destinations.sidecar import read_sidecar
from diskette.exceptions import DecryptionError, SignatureError
from sandbox.library.models import Book, Publisher
from sandbox.library.seeding import seed_database, seed_media
from tests.api.test_api_load import data, files
from tests.crypto.keys import age_key, signing_pair
from tests.destinations.test_load_by_name import Recorder, backups  # noqa: F401

pytest.importorskip("pyrage")


def dump(tmp_path, using="default", **sharing):
    source = tmp_path / "source"
    if not (source / "media").exists():
        seed_media(source / "media", files=4)
    return api.dump(
        destination=tmp_path / "dumps",
        storages=["media"],
        storages_basepath=source,
        no_storages_excludes=True,
        using=using,
        overwrite=True,
        **sharing,
    )


def change_the_site(using: str) -> None:
    Book.objects.using(using).update(title="changed since the dump")
    Publisher.objects.using(using).create(name="not in the archive")


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.slow
def test_an_encrypted_signed_round_trip_is_exact(tmp_path, db_alias, settings):
    seed_database(40, using=db_alias)
    original = data(db_alias)
    key, pair = age_key(tmp_path / "keys"), signing_pair(tmp_path / "keys")
    result = dump(
        tmp_path, db_alias, encrypt_to=[key.recipient], signing_key=pair.private
    )
    assert result.path.name.endswith(".tar.gz.age")
    change_the_site(db_alias)
    settings.DISKETTE_TRUSTED_KEYS = [pair.public]
    home = tmp_path / "home"

    loaded = api.load(
        result.path,
        identities=[key.identity],
        flush=True,
        storages_basepath=home,
        using=db_alias,
    )

    assert data(db_alias) == original
    assert files(home / "media") == files(tmp_path / "source" / "media")
    assert loaded.encrypted
    assert loaded.signed_by is not None and loaded.signed_by.startswith("SHA256:")


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize("fault", ["another key", "a flipped byte", "cut short"])
def test_a_refused_archive_changes_nothing(tmp_path, db_alias, fault):
    seed_database(20, using=db_alias)
    key, other = age_key(tmp_path / "k1"), age_key(tmp_path / "k2")
    path = dump(tmp_path, db_alias, encrypt_to=[key.recipient]).path
    change_the_site(db_alias)
    before = data(db_alias)
    home = tmp_path / "home"
    seed_media(home / "media", files=2)
    media_before = files(home / "media")
    identity = other.identity if fault == "another key" else key.identity
    body = bytearray(path.read_bytes())
    if fault == "a flipped byte":
        body[len(body) // 2] ^= 0x10
    elif fault == "cut short":
        body = body[: len(body) - 100]
    path.write_bytes(bytes(body))

    with pytest.raises(DecryptionError) as caught:
        api.load(
            path,
            identities=[identity],
            flush=True,
            storages_basepath=home,
            using=db_alias,
        )

    assert caught.value.exit_code == 15
    assert "nothing was changed" in str(caught.value)
    assert data(db_alias) == before
    assert files(home / "media") == media_before
    assert sorted(p.name for p in home.iterdir()) == ["media"]  # no staging left


@pytest.mark.django_db
def test_the_sidecar_says_to_whom_and_by_whom_and_nothing_secret(tmp_path, backups):  # noqa: F811
    seed_database(20)
    key, pair = age_key(tmp_path / "keys"), signing_pair(tmp_path / "keys")
    result = api.dump(
        to="backups",
        with_storages=False,
        encrypt_to=[key.recipient],
        signing_key=pair.private,
    )

    sidecar = read_sidecar(backups, result.name)
    assert sidecar is not None and sidecar.format == "tar.gz.age"
    assert sidecar.encryption == {
        "method": "age",
        "passphrase": False,
        "recipients": [key.recipient],
    }
    assert sidecar.signed_by is not None and "SHA256:" in sidecar.signed_by
    raw = b"".join(backups.read(result.name + ".manifest.json"))
    secret = key.identity.read_text().splitlines()[1].encode()
    assert secret not in raw and b"PRIVATE KEY" not in raw
    [entry] = api.list_archives("backups")
    assert entry.encryption == sidecar.encryption
    assert entry.signed_by == sidecar.signed_by


@pytest.mark.django_db
@pytest.mark.slow
def test_trusted_keys_decide_what_a_load_from_s3_accepts(
    tmp_path,
    backups,  # noqa: F811
    settings,
):
    seed_database(20)
    trusted, stranger = signing_pair(tmp_path / "t"), signing_pair(tmp_path / "s")
    settings.DISKETTE_TRUSTED_KEYS = [trusted.public]
    signed = api.dump(to="backups", with_storages=False, signing_key=trusted.private)
    foreign = api.dump(to="backups", with_storages=False, signing_key=stranger.private)
    unsigned = api.dump(to="backups", with_storages=False)
    original = data("default")
    change_the_site("default")
    before = data("default")

    for result, said in ((unsigned, "is not signed"), (foreign, "does not list")):
        with pytest.raises(SignatureError, match=said) as caught:
            api.load(result.name, source="backups", flush=True, with_storages=False)
        assert caught.value.exit_code == 16
        assert data("default") == before

    reporter = Recorder()
    api.load(
        unsigned.name,
        source="backups",
        flush=True,
        with_storages=False,
        allow_unsigned=True,
        reporter=reporter,
    )
    assert data("default") == original
    change_the_site("default")
    api.load(signed.name, source="backups", flush=True, with_storages=False)
    assert data("default") == original


@pytest.mark.django_db
def test_a_local_unsigned_archive_loads_with_a_warning(tmp_path, settings):
    seed_database(20)
    settings.DISKETTE_TRUSTED_KEYS = [signing_pair(tmp_path / "t").public]
    path = dump(tmp_path, with_storages=False).path
    warnings: list[str] = []

    class Warned(Recorder):
        def warning(self, message: str) -> None:
            warnings.append(message)

    api.load(path, with_storages=False, reporter=Warned())
    assert warnings == [f"archive {path.name!r} is not signed"]


@pytest.mark.django_db
def test_a_manifest_changed_after_signing_is_refused(tmp_path):
    """Re-signing is impossible without the key: an archive rebuilt with an edited
    manifest (a member swapped, its checksum updated) keeps the old signature,
    which no longer verifies."""
    import gzip
    import hashlib
    import io
    import json
    import tarfile

    seed_database(20)
    pair = signing_pair(tmp_path / "keys")
    path = dump(tmp_path, with_storages=False, signing_key=pair.private).path
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar]
    swapped = next(m.name for m, c in members if m.name.startswith("data/") and c)
    forged = {swapped: b"[]"}
    rebuilt = io.BytesIO()
    with tarfile.open(fileobj=rebuilt, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, content in members:
            content = forged.get(member.name, content)
            if member.name == "manifest.json":
                manifest = json.loads(content)
                digest = hashlib.sha256(forged[swapped]).hexdigest()
                manifest["diskette"]["members"][swapped] = digest
                for item in manifest["diskette"]["data"]:
                    if item["path"] == swapped:
                        item.update(sha256=digest, size=2, objects=0, models={})
                content = json.dumps(manifest).encode()
            if content is not None:
                member.size = len(content)
            tar.addfile(member, io.BytesIO(content) if content is not None else None)
    path.write_bytes(gzip.compress(rebuilt.getvalue()))

    with pytest.raises(SignatureError, match="does not match its manifest"):
        api.load(path, with_storages=False)


@pytest.mark.django_db
def test_a_plan_opens_an_encrypted_archive_with_the_same_keys(tmp_path, settings):
    seed_database(20)
    key = age_key(tmp_path / "keys")
    path = dump(tmp_path, with_storages=False, encrypt_to=[key.recipient]).path

    with pytest.raises(DecryptionError, match="give an identity file"):
        api.plan_load(path, with_storages=False)
    settings.DISKETTE_IDENTITY_FILES = [str(key.identity)]
    plan = api.plan_load(path, with_storages=False)
    assert not plan.problems
    # The plan read the decrypted fixtures: every object the dump wrote is counted.
    assert sum(item.objects for item in plan.models) == sum(
        item.objects for item in api.inspect(path).data
    )
