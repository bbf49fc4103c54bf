"""Who an archive is encrypted to, and what opens it: age recipients and identities.

Encryption uses age (https://age-encryption.org) through the ``pyrage``
binding, in the ``crypto`` extra, imported only when an archive is encrypted or
decrypted. An archive is encrypted to one or more recipients, age X25519 public
keys (``age1…``) or SSH public keys (``ssh-ed25519 …``, ``ssh-rsa …``) as age
allows, or to a passphrase for a one-off share (never both: age itself refuses
to mix a passphrase with recipients). Recipients may be given inline or as the
path of a recipients file (one per line, ``#`` comments), as ``age -R`` reads.

What opens an archive is an identity file (age's ``AGE-SECRET-KEY-1…`` lines, as
``age-keygen`` writes them, or an unencrypted SSH private key) or the
passphrase. Secrets are never taken from an option's value, which would land in
the shell's history: the commands read identity *files* and prompt for the
passphrase on a terminal, or read :data:`PASSPHRASE_VARIABLE` for automation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from diskette.exceptions import ConfigurationError, DecryptionError, DisketteError

#: The pip requirement that brings encryption and signing.
CRYPTO_EXTRA = "diskette[crypto]"
#: The environment variable the commands read a passphrase from, for automation.
PASSPHRASE_VARIABLE = "DISKETTE_PASSPHRASE"  # noqa: S105 - a name, not a secret
#: Largest recipients or identity file read, in bytes.
MAX_KEY_FILE = 64 * 1024
_SSH_PREFIXES = ("ssh-ed25519 ", "ssh-rsa ")


def pyrage(needing: str = "encryption") -> ModuleType:
    """The ``pyrage`` module, or a one-line ConfigurationError naming the extra."""
    try:
        import pyrage as module
    except ImportError:
        raise ConfigurationError(
            f"{needing} needs the pyrage package, which is not installed: "
            f"pip install '{CRYPTO_EXTRA}'"
        ) from None
    return module


@dataclass(frozen=True)
class Encryption:
    """What a dump encrypts to: ``recipients`` (public keys, as written) or a
    ``passphrase``. ``keys`` holds pyrage's recipient objects."""

    recipients: tuple[str, ...] = ()
    passphrase: str | None = field(default=None, repr=False)
    keys: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    def describe(self) -> dict[str, Any]:
        """What a listing may show: the method and the public keys (no secret)."""
        if self.passphrase is not None:
            return {"method": "age", "passphrase": True, "recipients": []}
        return {
            "method": "age",
            "passphrase": False,
            "recipients": list(self.recipients),
        }


def encryption(
    recipients: Sequence[str | os.PathLike[str]] | None,
    passphrase: str | None,
    *,
    where: str,
) -> Encryption | None:
    """The encryption of a dump, or None for none; ConfigurationError when wrong.

    ``where`` names the argument or setting the recipients come from.
    """
    recipients = list(recipients or ())
    if passphrase is not None:
        if not isinstance(passphrase, str) or not passphrase:
            raise ConfigurationError("passphrase must be a non-empty string")
        if recipients:
            raise ConfigurationError(
                f"an archive is encrypted to recipients ({where}) or to a "
                "passphrase, not both (age refuses to mix them): give one"
            )
        pyrage()
        return Encryption(passphrase=passphrase)
    if not recipients:
        return None
    module = pyrage()
    texts: list[str] = []
    for value in recipients:
        texts.extend(_recipient_texts(value, where))
    keys = tuple(_recipient(module, text, where) for text in texts)
    return Encryption(recipients=tuple(texts), keys=keys)


def _recipient_texts(value: object, where: str) -> list[str]:
    """A recipient as written, or the recipients a file of them holds."""
    if not isinstance(value, str | os.PathLike):
        raise ConfigurationError(
            f"{where}: recipient {value!r} must be a string: an age public key "
            "(age1…), an SSH public key or the path of a recipients file"
        )
    text = os.fspath(value).strip()
    if text.startswith("age1") or text.startswith(_SSH_PREFIXES):
        return [text]
    path = Path(text).expanduser()
    if not path.is_file():
        raise ConfigurationError(
            f"{where}: recipient {text!r} is neither an age public key (age1…), an "
            "SSH public key (ssh-ed25519 …) nor a recipients file that exists"
        )
    return key_lines(path, where)


def _recipient(module: ModuleType, text: str, where: str) -> Any:
    kind = module.ssh if text.startswith(_SSH_PREFIXES) else module.x25519
    try:
        return kind.Recipient.from_str(text)
    except Exception as error:  # pyrage's RecipientError and ValueError alike
        raise ConfigurationError(
            f"{where}: {text[:40]!r} is not a valid age recipient ({error}): give "
            "an age public key (age1…) or an SSH public key (ssh-ed25519 …)"
        ) from None


def read_key_file(
    path: Path, where: str, error: type[DisketteError] = ConfigurationError
) -> bytes:
    """The bytes of a key file, or ``error`` naming ``where`` (one line) when it
    cannot be read or is too large to be one."""
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_KEY_FILE + 1)
    except OSError as problem:
        raise error(
            f"{where}: key file {str(path)!r} cannot be read "
            f"({problem.strerror or problem})"
        ) from None
    if len(raw) > MAX_KEY_FILE:
        raise error(
            f"{where}: {str(path)!r} is larger than {MAX_KEY_FILE} bytes: it is "
            "not a key file"
        )
    return raw


def key_lines(path: Path, where: str) -> list[str]:
    """The keys a file of keys holds, one per line, as ``age -R`` and
    ``authorized_keys`` read them: blank lines and ``#`` comments left out;
    ConfigurationError naming ``where`` when it holds none."""
    text = read_key_file(path, where).decode("utf-8", errors="replace")
    found = [line.strip() for line in text.splitlines()]
    found = [line for line in found if line and not line.startswith("#")]
    if not found:
        raise ConfigurationError(f"{where}: key file {str(path)!r} holds no key")
    return found


@dataclass(frozen=True)
class Decryption:
    """What may open an encrypted archive: identities read from ``files``, and a
    ``passphrase``. Either may be empty; an archive needs one that matches."""

    files: tuple[str, ...] = ()
    passphrase: str | None = field(default=None, repr=False)
    identities: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    def how(self) -> str:
        """What was given, for a message that says none of it matched."""
        given = [f"identity file {name!r}" for name in self.files]
        if self.passphrase is not None:
            given.append("a passphrase")
        return ", ".join(given) or "no identity and no passphrase"


def decryption(
    identity_files: Sequence[str | os.PathLike[str]] | None, passphrase: str | None
) -> Decryption | None:
    """What opens encrypted archives, or None when nothing is given.

    Raises DecryptionError when an identity file is missing or holds no identity
    (an archive it was meant for could not be opened), ConfigurationError when
    pyrage is not installed.
    """
    files = [os.fspath(item) for item in identity_files or ()]
    if not files and passphrase is None:
        return None
    module = pyrage("decryption")
    identities: list[Any] = []
    for name in files:
        identities.extend(_identities(module, Path(name).expanduser(), name))
    return Decryption(
        files=tuple(files), passphrase=passphrase, identities=tuple(identities)
    )


def _identities(module: ModuleType, path: Path, name: str) -> list[Any]:
    raw = read_key_file(path, f"identity file {name!r}", DecryptionError)
    text = raw.decode("utf-8", errors="replace")
    if "PRIVATE KEY-----" in text:
        try:
            return [module.ssh.Identity.from_buffer(raw)]
        except Exception as error:  # pyrage's IdentityError and ValueError alike
            raise DecryptionError(
                f"identity file {name!r} is an SSH private key age cannot use "
                f"({error}): give an unencrypted ssh-ed25519 or ssh-rsa key, or "
                "an age identity file"
            ) from None
    keys = [line.strip() for line in text.splitlines()]
    keys = [line for line in keys if line.startswith("AGE-SECRET-KEY-")]
    if not keys:
        raise DecryptionError(
            f"identity file {name!r} holds no age identity (AGE-SECRET-KEY-1… "
            "lines): give the file age-keygen or diskette_keys wrote"
        )
    try:
        return [module.x25519.Identity.from_str(key) for key in keys]
    except Exception as error:
        raise DecryptionError(
            f"identity file {name!r} holds a damaged age identity ({error})"
        ) from None


def generate_identity(path: Path) -> str:
    """Write a new age identity file at ``path`` (0600, as ``age-keygen -o``
    writes it, never replacing a file); return its public key."""
    from diskette.crypto.signing import write_new

    identity = pyrage().x25519.Identity.generate()
    recipient = str(identity.to_public())
    text = f"# public key: {recipient}\n{identity}\n"
    write_new(path, text.encode("ascii"), 0o600)
    return recipient
