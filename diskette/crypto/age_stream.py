"""The archive body as one age stream: encrypted as it is written, decrypted as it
is read, never a second copy on disk.

Encryption sits between the compressed tar stream and the file: the archive's
BLAKE2b checksum (the one sidecars and ``--checksum`` compare) is that of the
encrypted file, so a copy is verified without a key. An archive encrypted to
recipients is a plain age file (``age -d -i key.txt archive.tar.gz.age | tar
tz`` reads it). pyrage encrypts a passphrase only from bytes in memory, so an
archive encrypted to a passphrase is an envelope: :data:`ENVELOPE_MAGIC`, then
a fresh age identity encrypted to the passphrase (armored, a few hundred
bytes), then the body as an age stream to that identity. The docs show how to
open one with the age command line.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from diskette.crypto.age_keys import Decryption, Encryption, pyrage
from diskette.crypto.pipe import Pipe, PipeAborted, PipeThread, Producer, Recording
from diskette.exceptions import DecryptionError

#: The first bytes of every age file.
AGE_MAGIC = b"age-encryption.org/v1\n"
#: The first bytes of an archive encrypted to a passphrase.
ENVELOPE_MAGIC = b"diskette-passphrase/v1\n"
#: The line that ends the armored identity of an envelope.
_ARMOR_END = b"-----END AGE ENCRYPTED FILE-----"
#: Largest envelope head read before its armored identity ends.
MAX_ENVELOPE = 8 * 1024
#: Bytes to read to tell an encrypted archive.
MAGIC_SIZE = max(len(AGE_MAGIC), len(ENVELOPE_MAGIC))
#: What an encrypted archive's name adds to the name of its compression.
SUFFIX = ".age"


def is_encrypted(head: bytes) -> bool:
    """Whether ``head``, the first bytes of a file, start an encrypted archive."""
    return head.startswith((AGE_MAGIC, ENVELOPE_MAGIC))


class EncryptingWriter:
    """A file object that encrypts what is written to it into ``out``.

    pyrage runs in a thread of its own (it lets go of the GIL while it
    encrypts); :meth:`close` ends the stream and raises what writing ``out``
    raised (a full disk as itself), :meth:`abort` stops without raising.
    """

    def __init__(self, out: Any, encryption: Encryption):
        module = pyrage()
        keys = list(encryption.keys)
        self._out = Recording(out)
        if encryption.passphrase is not None:
            identity = module.x25519.Identity.generate()
            wrapped = module.passphrase.encrypt(
                str(identity).encode("ascii"), encryption.passphrase, armored=True
            )
            self._out.write(ENVELOPE_MAGIC + wrapped.rstrip(b"\n") + b"\n")
            keys = [identity.to_public()]
        self._pipe = Pipe()
        self._thread = PipeThread(
            "diskette-encrypt",
            lambda: module.encrypt_io(self._pipe, self._out, keys),
            self._pipe,
        )

    def write(self, data: bytes | bytearray | memoryview) -> int:
        try:
            return self._pipe.write(data)
        except PipeAborted:
            raise self._failure() from None

    def close(self) -> None:
        """Write the end of the stream (its last, authenticated chunk)."""
        with suppress(PipeAborted):  # the thread failed: its error is raised below
            self._pipe.close_writing()
        if self._thread.join() is not None:
            raise self._failure()

    def abort(self) -> None:
        self._pipe.abort()
        self._thread.join()

    def _failure(self) -> BaseException:
        self._thread.join()
        return self._out.error or self._thread.error or OSError("encryption stopped")


class DecryptingReader:
    """The plaintext of an age stream read from ``source``, as it is decrypted.

    ``read`` raises DecryptionError when no identity matches or the ciphertext
    was altered or cut short (age authenticates each 64 KiB chunk and the end),
    and what reading ``source`` raised as itself. Call :meth:`close` in every case.
    """

    def __init__(self, source: Any, identities: list[Any], *, name: str, how: str):
        module = pyrage("decryption")
        self._source = Recording(source)
        self._pipe = Pipe()
        self._name = name
        self._how = how
        self._thread = Producer(
            "diskette-decrypt",
            lambda: module.decrypt_io(self._source, self._pipe, identities),
            self._pipe,
            self._refusal,
        )

    def _refusal(self, error: BaseException) -> BaseException:
        if self._source.error is not None:  # reading the file failed: as itself
            return self._source.error
        if "no matching keys" in str(error).lower():
            return DecryptionError(
                f"archive {self._name!r} is encrypted to other keys: {self._how} "
                "matches none of its recipients; nothing was changed"
            )
        return DecryptionError(
            f"archive {self._name!r} has encrypted data that was altered or is "
            f"truncated (age: {error}): copy or download it again; nothing was "
            "changed"
        )

    def read(self, size: int = -1) -> bytes:
        return self._pipe.read(size)

    def close(self) -> None:
        self._pipe.abort()
        self._thread.join()


def decrypting(
    stream: Any, head: bytes, decryption: Decryption | None, *, name: str
) -> DecryptingReader:
    """The plaintext of the encrypted archive ``stream`` reads from its start
    (``head``, its first bytes, tells age from a passphrase envelope)."""
    envelope = head.startswith(ENVELOPE_MAGIC)
    if decryption is None:
        what = "a passphrase" if envelope else "age, to recipients"
        raise DecryptionError(
            f"archive {name!r} is encrypted ({what}): give "
            + (
                "its passphrase (passphrase, --passphrase or DISKETTE_PASSPHRASE)"
                if envelope
                else "an identity file that opens it (identities, --identity or "
                "DISKETTE_IDENTITY_FILES)"
            )
            + "; nothing was changed"
        )
    identities = list(decryption.identities)
    if envelope:
        identities = [_envelope_identity(stream, decryption, name)]
    return DecryptingReader(stream, identities, name=name, how=decryption.how())


def _envelope_identity(stream: Any, decryption: Decryption, name: str) -> Any:
    """Read the envelope's head from ``stream`` and open its identity."""
    if decryption.passphrase is None:
        raise DecryptionError(
            f"archive {name!r} is encrypted to a passphrase: give it (passphrase, "
            "--passphrase or DISKETTE_PASSPHRASE); nothing was changed"
        )
    head = b""
    while _ARMOR_END not in head:
        data = stream.read(1)
        if not data or len(head) > MAX_ENVELOPE:
            raise DecryptionError(
                f"archive {name!r} has a damaged passphrase envelope: copy or "
                "download it again; nothing was changed"
            )
        head += data
    head += stream.read(1)  # the newline after the armor
    armored = head[len(ENVELOPE_MAGIC) :]
    module = pyrage("decryption")
    try:
        secret = module.passphrase.decrypt(armored, decryption.passphrase)
        return module.x25519.Identity.from_str(secret.decode("ascii").strip())
    except Exception:
        raise DecryptionError(
            f"archive {name!r} does not open with this passphrase (or its envelope "
            "was altered); nothing was changed"
        ) from None
