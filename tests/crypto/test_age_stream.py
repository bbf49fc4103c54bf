"""The archive body as one age stream: written, read back, and refused when it
should be. Real pyrage, real files, real compressions; the archives are written
by :class:`ArchiveWriter` and read by :class:`ArchiveReader` as a load does."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from diskette.archive import ArchiveReader
from diskette.archive.writer import ArchiveWriter
from diskette.crypto.age_keys import decryption, encryption
from diskette.crypto.age_stream import AGE_MAGIC, ENVELOPE_MAGIC, DecryptingReader
from diskette.exceptions import ArchiveError, ConfigurationError, DecryptionError
from diskette.manifest import MANIFEST_NAME
from tests.archives import MTIME, manifest_dict
from tests.crypto.keys import age_key, locked_ssh_key, ssh_keygen_pair

pytest.importorskip("pyrage")

PAYLOAD = b"".join(b"%08d fixture line\n" % n for n in range(40_000))


def write_archive(path: Path, enc, compression: str = "gzip") -> dict[str, bytes]:
    files = {"a.bin": PAYLOAD, "b.txt": b"hello"}
    manifest = json.dumps(manifest_dict({}, {"media": files})).encode()
    with ArchiveWriter(path, compression=compression, encryption=enc) as writer:
        writer.add_directory("media", mtime=MTIME)
        for name, data in files.items():
            writer.add_bytes(f"media/{name}", data)
        writer.add_bytes(MANIFEST_NAME, manifest)
        writer.commit()
    return {f"media/{name}": data for name, data in files.items()}


def staged(path: Path, keys, root: Path) -> dict[str, bytes]:
    root.mkdir()
    with ArchiveReader(
        path, max_size=10**9, max_members=100, decryption=keys
    ) as reader:
        reader.stage(root)
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_a_round_trip_to_a_recipient(tmp_path, compression):
    key = age_key(tmp_path / "keys")
    path = tmp_path / "a.tar.age"
    members = write_archive(
        path, encryption([key.recipient], None, where="t"), compression
    )

    assert path.read_bytes().startswith(AGE_MAGIC)
    assert PAYLOAD[:64] not in path.read_bytes()
    assert staged(path, decryption([key.identity], None), tmp_path / "out") == members


@pytest.mark.slow  # scrypt: about a second per opening, by design
def test_a_round_trip_to_a_passphrase(tmp_path):
    path = tmp_path / "a.tar.gz.age"
    members = write_archive(path, encryption(None, "correct horse", where="t"))

    assert path.read_bytes().startswith(ENVELOPE_MAGIC)
    assert staged(path, decryption(None, "correct horse"), tmp_path / "out") == members
    with pytest.raises(DecryptionError, match="does not open with this passphrase"):
        staged(path, decryption(None, "wrong horse"), tmp_path / "wrong")


def test_one_of_several_recipients_opens_it_and_an_ssh_key_does(tmp_path):
    first, second = age_key(tmp_path / "k1"), age_key(tmp_path / "k2")
    ssh = ssh_keygen_pair(tmp_path / "ssh", "ed25519", "id_ed25519")
    path = tmp_path / "a.tar.gz.age"
    members = write_archive(
        path,
        encryption([first.recipient, second.recipient, ssh.public], None, where="t"),
    )

    for identity in (second.identity, ssh.private):
        root = tmp_path / f"out-{identity.name}"
        assert staged(path, decryption([identity], None), root) == members


def test_the_age_command_line_format_is_kept(tmp_path):
    """Any age implementation reads it: here, pyrage's whole-file decrypt of the
    file's bytes, then tarfile on the gunzipped plaintext."""
    import gzip
    import io

    import pyrage

    key = age_key(tmp_path / "keys")
    path = tmp_path / "a.tar.gz.age"
    write_archive(path, encryption([key.recipient], None, where="t"))
    identity = pyrage.x25519.Identity.from_str(key.identity.read_text().splitlines()[1])

    plain = gzip.decompress(pyrage.decrypt(path.read_bytes(), [identity]))
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        assert tar.getnames() == ["media", "media/a.bin", "media/b.txt", MANIFEST_NAME]


def test_the_age_command_line_opens_it(tmp_path):
    """The real ``age`` program (``.ci/run`` installs it) decrypts what a dump
    encrypted, and encrypts what a load opens."""
    import os
    import shutil

    if shutil.which("age") is None:
        if os.environ.get("CI"):
            pytest.fail("the age command line is not installed (.ci/run installs it)")
        pytest.skip("the age command line is not installed")
    key = age_key(tmp_path / "keys")
    path = tmp_path / "a.tar.gz.age"
    members = write_archive(path, encryption([key.recipient], None, where="t"))
    opened = tmp_path / "opened.tar.gz"
    subprocess.run(
        ["age", "-d", "-i", str(key.identity), "-o", str(opened), str(path)],
        check=True,
    )
    listed = subprocess.run(
        ["tar", "tzf", str(opened)], capture_output=True, check=True, text=True
    )
    assert listed.stdout.split() == ["media/", *members, MANIFEST_NAME]

    plain = tmp_path / "plain.tar.gz"
    write_archive(plain, None)
    by_cli = tmp_path / "by-cli.tar.gz.age"
    subprocess.run(
        ["age", "-r", key.recipient, "-o", str(by_cli), str(plain)], check=True
    )
    assert staged(by_cli, decryption([key.identity], None), tmp_path / "out") == members


def test_the_wrong_key_no_key_and_a_plain_archive(tmp_path):
    key, other = age_key(tmp_path / "k1"), age_key(tmp_path / "k2")
    path = tmp_path / "a.tar.gz.age"
    write_archive(path, encryption([key.recipient], None, where="t"))

    with pytest.raises(DecryptionError, match="encrypted to other keys") as caught:
        staged(path, decryption([other.identity], None), tmp_path / "o1")
    assert caught.value.exit_code == 15
    with pytest.raises(DecryptionError, match="give an identity file"):
        staged(path, None, tmp_path / "o2")
    plain = tmp_path / "plain.tar.gz"
    members = write_archive(plain, None)
    # Keys given for a plain archive change nothing.
    assert staged(plain, decryption([key.identity], None), tmp_path / "o3") == members


@pytest.mark.parametrize(
    "damage",
    ["flip a byte of the body", "cut the end", "cut in the header", "append bytes"],
)
def test_altered_or_truncated_ciphertext_is_refused(tmp_path, damage):
    key = age_key(tmp_path / "keys")
    path = tmp_path / "a.tar.gz.age"
    write_archive(path, encryption([key.recipient], None, where="t"))
    body = bytearray(path.read_bytes())
    if damage == "flip a byte of the body":
        body[len(body) // 2] ^= 0x01
    elif damage == "cut the end":
        body = body[:-17]
    elif damage == "cut in the header":
        body = body[:60]
    else:
        body += b"\0" * 100
    path.write_bytes(bytes(body))

    with pytest.raises(ArchiveError) as caught:
        staged(path, decryption([key.identity], None), tmp_path / "out")
    assert isinstance(caught.value, DecryptionError)
    assert "\n" not in str(caught.value)


def test_a_decryption_stopped_early_ends_its_thread(tmp_path):
    """A reader closed after a few bytes stops pyrage's thread: nothing waits."""
    import threading

    key = age_key(tmp_path / "keys")
    path = tmp_path / "a.tar.age"
    write_archive(path, encryption([key.recipient], None, where="t"), "none")
    keys = decryption([key.identity], None)
    with open(path, "rb") as stream:
        reader = DecryptingReader(
            stream, list(keys.identities), name="a", how=keys.how()
        )
        assert reader.read(10)
        reader.close()
    assert not [t for t in threading.enumerate() if t.name == "diskette-decrypt"]


def test_recipients_and_identities_are_checked(tmp_path):
    with pytest.raises(ConfigurationError, match="not a valid age recipient"):
        encryption(["age1notakey"], None, where="DISKETTE_ENCRYPT_TO")
    with pytest.raises(ConfigurationError, match="neither an age public key"):
        encryption(["/nowhere/recipients.txt"], None, where="DISKETTE_ENCRYPT_TO")
    with pytest.raises(ConfigurationError, match="not both"):
        encryption(["age1x"], "pw", where="encrypt_to")
    (tmp_path / "not-a-key").write_text("hello\n")
    with pytest.raises(DecryptionError, match="holds no age identity"):
        decryption([tmp_path / "not-a-key"], None)
    with pytest.raises(DecryptionError, match="cannot be read"):
        decryption([tmp_path / "missing"], None)
    listed = tmp_path / "recipients.txt"
    first, second = age_key(tmp_path / "a"), age_key(tmp_path / "b")
    listed.write_text(f"# team\n{first.recipient}\n\n{second.recipient}\n")
    assert encryption([str(listed)], None, where="t").recipients == (
        first.recipient,
        second.recipient,
    )


def test_an_encrypted_ssh_private_key_is_refused_in_one_line(tmp_path):
    with pytest.raises(DecryptionError, match="SSH private key age cannot use"):
        decryption([locked_ssh_key(tmp_path)], None)
