"""Signed archives: an Ed25519 signature of the manifest, and the keys trusted.

The manifest holds every member's SHA-256, and a load verifies every member
against it before anything changes; so one signature of the manifest's exact
bytes covers the whole archive. It is stored in the member
:data:`~diskette.manifest.SIGNATURE_NAME`, right after the manifest, as a small
JSON object naming the public key; inside the encryption when the archive is
encrypted. Keys are OpenSSH's: ``ssh-keygen -t ed25519`` makes a pair (or
``diskette_keys``), a public key is one ``ssh-ed25519 AAAA… comment`` line, and
``DISKETTE_TRUSTED_KEYS`` lists such lines or files of them. Signing needs the
``cryptography`` package, in the ``crypto`` extra.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from diskette.crypto.age_keys import CRYPTO_EXTRA, key_lines, read_key_file
from diskette.exceptions import ConfigurationError, SignatureError

#: Value of the ``diskette_signature`` key: the signature format this diskette writes.
SIGNATURE_VERSION = 1
#: What the signed bytes start with, so that a signature of a manifest can never
#: be taken for a signature of anything else made with the same key.
_CONTEXT = b"diskette manifest signature v1\n"
_KEY_TYPE = "ssh-ed25519"


def _serialization() -> ModuleType:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise ConfigurationError(
            "signing needs the cryptography package, which is not installed: "
            f"pip install '{CRYPTO_EXTRA}'"
        ) from None
    return serialization


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key: its OpenSSH line (without comment) and comment."""

    openssh: str
    comment: str = ""

    @property
    def fingerprint(self) -> str:
        """``SHA256:…`` as ``ssh-keygen -l`` prints it."""
        blob = base64.b64decode(self.openssh.split()[1])
        digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
        return "SHA256:" + digest.rstrip("=")

    def describe(self) -> str:
        """The fingerprint, and the comment when there is one."""
        return (
            f"{self.fingerprint} ({self.comment})" if self.comment else self.fingerprint
        )


def public_key(text: str, where: str) -> PublicKey:
    """Parse one ``ssh-ed25519 AAAA… [comment]`` line; ConfigurationError if wrong."""
    parts = text.strip().split(None, 2)
    if len(parts) < 2 or parts[0] != _KEY_TYPE:
        raise ConfigurationError(
            f"{where}: {text.strip()[:40]!r} is not an Ed25519 public key: give an "
            "'ssh-ed25519 AAAA…' line (ssh-keygen -t ed25519 writes one) or a file "
            "of them"
        )
    try:
        _serialization().load_ssh_public_key(f"{parts[0]} {parts[1]}".encode())
    except (ValueError, binascii.Error):
        raise ConfigurationError(
            f"{where}: {text.strip()[:40]!r} is a damaged Ed25519 public key"
        ) from None
    return PublicKey(f"{parts[0]} {parts[1]}", parts[2] if len(parts) > 2 else "")


def trusted_keys(values: Sequence[object], where: str) -> list[PublicKey]:
    """The keys ``DISKETTE_TRUSTED_KEYS`` (or an argument) lists: key lines, or
    files of them (one per line, ``#`` comments, as ``authorized_keys``)."""
    keys: list[PublicKey] = []
    for value in values:
        if not isinstance(value, str | os.PathLike):
            raise ConfigurationError(
                f"{where}: {value!r} must be an 'ssh-ed25519 …' line or a file path"
            )
        text = os.fspath(value).strip()
        if text.startswith(("ssh-", "ecdsa-", "sk-")) and " " in text:
            keys.append(public_key(text, where))  # a key line, maybe of another type
            continue
        lines = key_lines(Path(text).expanduser(), where)
        keys.extend(public_key(line, f"{where} ({text})") for line in lines)
    return keys


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key read from a file, and its public half."""

    private: Any
    public: PublicKey

    def sign(self, manifest: bytes) -> bytes:
        """The signature member's bytes for the manifest's exact bytes."""
        signature = self.private.sign(_CONTEXT + manifest)
        payload = {
            "diskette_signature": SIGNATURE_VERSION,
            "algorithm": "ed25519",
            "public_key": self.public.openssh,
            "comment": self.public.comment,
            "signature": base64.b64encode(signature).decode("ascii"),
        }
        return json.dumps(payload, indent=2).encode("utf-8")


def signing_key(path: str | os.PathLike[str], where: str) -> SigningKey:
    """Read an Ed25519 private key (OpenSSH or PEM, unencrypted) from ``path``."""
    serialization = _serialization()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    name = os.fspath(path)
    raw = read_key_file(Path(name).expanduser(), where)
    loaders = (serialization.load_ssh_private_key, serialization.load_pem_private_key)
    private = None
    for loader in loaders:
        try:
            private = loader(raw, password=None)
            break
        except TypeError:  # encrypted with a passphrase
            raise ConfigurationError(
                f"{where}: signing key {name!r} is protected by a passphrase: "
                "diskette reads unencrypted keys (keep the file 0600)"
            ) from None
        except (ValueError, binascii.Error):
            continue
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigurationError(
            f"{where}: {name!r} is not an Ed25519 private key: make one with "
            "ssh-keygen -t ed25519 or diskette_keys"
        )
    line = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    comment = Path(name).name
    return SigningKey(private, PublicKey(line.decode("ascii"), comment))


def verify(manifest: bytes, signature: bytes, *, name: str) -> PublicKey:
    """The key that signed ``manifest``; SignatureError unless the signature is
    well formed and right for these exact bytes."""
    serialization = _serialization()
    from cryptography.exceptions import InvalidSignature

    try:
        payload = json.loads(signature)
        if payload.get("diskette_signature") != SIGNATURE_VERSION:
            raise ValueError
        if payload.get("algorithm") != "ed25519":
            raise ValueError
        key = public_key(payload["public_key"], "signature")
        comment = payload.get("comment", "")
        raw = base64.b64decode(payload["signature"], validate=True)
        loaded = serialization.load_ssh_public_key(key.openssh.encode())
    except (ValueError, KeyError, TypeError, AttributeError, ConfigurationError):
        raise SignatureError(
            f"archive {name!r} has a signature diskette cannot read: it was altered "
            "or not written by diskette_dump; nothing was changed"
        ) from None
    try:
        loaded.verify(raw, _CONTEXT + manifest)
    except InvalidSignature:
        raise SignatureError(
            f"archive {name!r} has a signature that does not match its manifest: "
            "the archive was altered after it was signed; nothing was changed"
        ) from None
    return PublicKey(key.openssh, comment if isinstance(comment, str) else "")


def generate(directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """Write a new Ed25519 pair, ``name`` (0600, OpenSSH) and ``name.pub``."""
    serialization = _serialization()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    secret = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    path = Path(directory) / name
    write_new(path, secret, 0o600)
    public_path = path.with_name(path.name + ".pub")
    write_new(public_path, public + f" {name}\n".encode(), 0o644)
    return path, public_path


def write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode``, refusing to replace a file (FileExistsError)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as stream:
        stream.write(data)


def is_trusted(signer: PublicKey, trusted: Sequence[PublicKey]) -> bool:
    """Whether ``signer`` is one of the ``trusted`` keys (their comments aside)."""
    return any(key.openssh == signer.openssh for key in trusted)


def check_signature(
    manifest: bytes,
    signature: bytes | None,
    *,
    name: str,
    trusted: Sequence[PublicKey],
    remote: bool,
    allow_unsigned: bool,
) -> tuple[PublicKey | None, str | None]:
    """``(signer, warning)`` of a verified archive, or SignatureError.

    A signature that does not verify is always refused. With ``trusted`` keys,
    an archive none of them signed is refused when it comes from elsewhere
    (``remote``: a URL or a destination that is not a local directory) unless
    ``allow_unsigned``, and accepted with a warning otherwise.
    """
    signer = verify(manifest, signature, name=name) if signature is not None else None
    if not trusted or (signer is not None and is_trusted(signer, trusted)):
        return signer, None
    what = (
        "is not signed"
        if signer is None
        else f"is signed by {signer.describe()}, a key DISKETTE_TRUSTED_KEYS "
        "does not list"
    )
    if remote and not allow_unsigned:
        raise SignatureError(
            f"archive {name!r} {what}: refused, as it was fetched from elsewhere "
            "and DISKETTE_TRUSTED_KEYS is set; give allow_unsigned "
            "(--allow-unsigned) to load it all the same; nothing was changed"
        )
    return signer, f"archive {name!r} {what}"
