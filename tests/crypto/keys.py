"""Real keys for the tests: age identities, and Ed25519 pairs made by diskette
and by OpenSSH's own ssh-keygen."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from diskette.crypto.age_keys import generate_identity
from diskette.crypto.signing import generate


@dataclass(frozen=True)
class AgeKey:
    identity: Path
    recipient: str


@dataclass(frozen=True)
class SigningPair:
    private: Path
    public: str  # the ssh-ed25519 line


def age_key(directory: Path, name: str = "age.key") -> AgeKey:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    return AgeKey(path, generate_identity(path))


def signing_pair(directory: Path, name: str = "signing.key") -> SigningPair:
    directory.mkdir(parents=True, exist_ok=True)
    private, public = generate(directory, name)
    return SigningPair(private, public.read_text().strip())


def ssh_keygen_pair(directory: Path, kind: str, name: str) -> SigningPair:
    """A key pair written by ``ssh-keygen`` (unencrypted), as a user makes one."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", name, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return SigningPair(path, path.with_name(name + ".pub").read_text().strip())


def locked_ssh_key(directory: Path) -> Path:
    """An Ed25519 private key protected by a passphrase, as ``ssh-keygen`` writes it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "id_locked"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path
