"""Ed25519 signatures of the manifest: made, verified, refused when altered, and
keys read as OpenSSH writes them (diskette_keys and the real ssh-keygen)."""

from __future__ import annotations

import json

import pytest

from diskette.crypto.signing import (
    check_signature,
    public_key,
    signing_key,
    trusted_keys,
    verify,
)
from diskette.exceptions import ConfigurationError, SignatureError
from tests.crypto.keys import locked_ssh_key, signing_pair, ssh_keygen_pair

pytest.importorskip("cryptography")

MANIFEST = b'{"version": "1.0", "datas": []}'


@pytest.mark.parametrize("maker", ["diskette", "ssh-keygen"])
def test_a_signature_verifies_and_names_its_key(tmp_path, maker):
    pair = (
        signing_pair(tmp_path)
        if maker == "diskette"
        else ssh_keygen_pair(tmp_path, "ed25519", "id_ed25519")
    )
    key = signing_key(pair.private, "DISKETTE_SIGNING_KEY")
    signature = key.sign(MANIFEST)

    signer = verify(MANIFEST, signature, name="a")
    assert signer.openssh == " ".join(pair.public.split()[:2])
    assert signer.fingerprint == public_key(pair.public, "t").fingerprint
    assert signer.fingerprint.startswith("SHA256:")


def test_one_changed_byte_of_the_manifest_is_refused(tmp_path):
    key = signing_key(signing_pair(tmp_path).private, "t")
    signature = key.sign(MANIFEST)
    altered = MANIFEST.replace(b"1.0", b"1.1")

    with pytest.raises(SignatureError, match="does not match its manifest") as caught:
        verify(altered, signature, name="a")
    assert caught.value.exit_code == 16


def test_a_signature_swapped_for_another_key_s_is_refused(tmp_path):
    """Naming another public key in the signature member does not make it verify."""
    mine = signing_key(signing_pair(tmp_path / "a").private, "t")
    other = signing_pair(tmp_path / "b")
    payload = json.loads(mine.sign(MANIFEST))
    payload["public_key"] = " ".join(other.public.split()[:2])

    with pytest.raises(SignatureError, match="does not match"):
        verify(MANIFEST, json.dumps(payload).encode(), name="a")


@pytest.mark.parametrize(
    "signature",
    [b"not json", b"{}", b'{"diskette_signature": 1, "algorithm": "rsa"}', b"[1]"],
)
def test_a_malformed_signature_is_refused(signature):
    with pytest.raises(SignatureError, match="cannot read"):
        verify(MANIFEST, signature, name="a")


def test_the_trust_policy(tmp_path):
    trusted_pair, other_pair = (
        signing_pair(tmp_path / "t"),
        signing_pair(tmp_path / "o"),
    )
    trusted = trusted_keys([trusted_pair.public], "DISKETTE_TRUSTED_KEYS")
    by_trusted = signing_key(trusted_pair.private, "t").sign(MANIFEST)
    by_other = signing_key(other_pair.private, "t").sign(MANIFEST)

    def decide(signature, *, remote, allow=False):
        return check_signature(
            MANIFEST,
            signature,
            name="a",
            trusted=trusted,
            remote=remote,
            allow_unsigned=allow,
        )

    signer, warning = decide(by_trusted, remote=True)
    assert signer is not None and warning is None
    for signature, said in ((None, "is not signed"), (by_other, "does not list")):
        with pytest.raises(SignatureError, match=said):
            decide(signature, remote=True)
        assert said in decide(signature, remote=True, allow=True)[1]
        assert said in decide(signature, remote=False)[1]
    # No trusted key set: a valid signature is reported, nothing is required.
    assert check_signature(
        MANIFEST, None, name="a", trusted=[], remote=True, allow_unsigned=False
    ) == (None, None)


def test_keys_are_read_from_lines_and_files(tmp_path):
    first, second = signing_pair(tmp_path / "1"), signing_pair(tmp_path / "2")
    listed = tmp_path / "allowed_signers"
    listed.write_text(f"# the team\n{first.public}\n\n{second.public}\n")
    keys = trusted_keys([str(listed)], "DISKETTE_TRUSTED_KEYS")
    assert [k.comment for k in keys] == ["signing.key", "signing.key"]
    assert trusted_keys([first.public], "x")[0].openssh == keys[0].openssh

    with pytest.raises(ConfigurationError, match="not an Ed25519 public key"):
        trusted_keys(["ssh-rsa AAAAB3Nza"], "DISKETTE_TRUSTED_KEYS")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        trusted_keys([str(tmp_path / "missing.pub")], "DISKETTE_TRUSTED_KEYS")


def test_signing_keys_that_cannot_sign_are_refused(tmp_path):
    rsa = ssh_keygen_pair(tmp_path, "rsa", "id_rsa")
    with pytest.raises(ConfigurationError, match="not an Ed25519 private key"):
        signing_key(rsa.private, "DISKETTE_SIGNING_KEY")
    with pytest.raises(ConfigurationError, match="protected by a passphrase"):
        signing_key(locked_ssh_key(tmp_path / "locked"), "DISKETTE_SIGNING_KEY")
