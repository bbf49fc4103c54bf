"""The options that encrypt, sign and open archives, shared by the commands.

A secret never comes from an option's value, which would land in the shell's
history and in ``ps``: ``--identity`` names a *file*, and ``--passphrase`` is a
flag that reads :data:`~diskette.crypto.age_keys.PASSPHRASE_VARIABLE` when it
is set (for automation) and else asks on the terminal (twice for a dump).
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.core.management.base import CommandError

from diskette.crypto.age_keys import PASSPHRASE_VARIABLE

#: The section of ``--help`` these options are listed in.
SHARING = "encryption and signing"

#: ``diskette_dump``'s options, as ``(flags, add_argument's keywords)``.
DUMP_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--encrypt-to",),
        {
            "dest": "encrypt_to",
            "action": "append",
            "metavar": "RECIPIENT",
            "help": "encrypt the archive (age) to this public key (age1…, "
            "ssh-ed25519 …) or file of keys (repeatable; replaces "
            "DISKETTE_ENCRYPT_TO; needs the crypto extra)",
        },
    ),
    (
        ("--passphrase",),
        {
            "action": "store_true",
            "help": f"encrypt the archive to a passphrase, read from {PASSPHRASE_VARIABLE} "
            "or asked on the terminal",
        },
    ),
    (
        ("--no-encrypt",),
        {
            "action": "store_true",
            "help": "do not encrypt, whatever DISKETTE_ENCRYPT_TO says",
        },
    ),
    (
        ("--sign",),
        {
            "dest": "signing_key",
            "metavar": "KEYFILE",
            "help": "sign the manifest with this Ed25519 private key "
            "(default DISKETTE_SIGNING_KEY)",
        },
    ),
    (
        ("--no-sign",),
        {
            "action": "store_true",
            "help": "do not sign, whatever DISKETTE_SIGNING_KEY says",
        },
    ),
)

#: The options of the commands that open archives (load, inspect).
OPEN_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--identity",),
        {
            "dest": "identities",
            "action": "append",
            "metavar": "FILE",
            "help": "age identity file (or SSH private key) that opens an encrypted "
            "archive (repeatable; replaces DISKETTE_IDENTITY_FILES)",
        },
    ),
    (
        ("--passphrase",),
        {
            "action": "store_true",
            "help": "the archive is encrypted to a passphrase: read it from "
            f"{PASSPHRASE_VARIABLE} or ask on the terminal",
        },
    ),
)

#: ``diskette_load``'s option beyond :data:`OPEN_OPTIONS`.
ALLOW_UNSIGNED = (
    ("--allow-unsigned",),
    {
        "action": "store_true",
        "help": "load an archive that no key of DISKETTE_TRUSTED_KEYS signed, even "
        "from a URL or a remote destination",
    },
)


def add_options(
    parser: Any, options: tuple[tuple[tuple[str, ...], dict[str, Any]], ...]
) -> None:
    """Add ``options`` to ``parser`` in a ``--help`` section of their own."""
    group = parser.add_argument_group(SHARING)
    for flags, keywords in options:
        group.add_argument(*flags, **keywords)


def dump_choices(options: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`~diskette.api.dump` these options give."""
    if options["no_encrypt"] and (options["encrypt_to"] or options["passphrase"]):
        raise CommandError(
            "--no-encrypt contradicts --encrypt-to and --passphrase: give one",
            returncode=2,
        )
    if options["no_sign"] and options["signing_key"]:
        raise CommandError("--no-sign contradicts --sign: give one", returncode=2)
    choices: dict[str, Any] = {"unsigned": options["no_sign"]}
    if options["signing_key"]:
        choices["signing_key"] = options["signing_key"]
    if options["no_encrypt"]:
        choices["encrypt_to"] = []
    elif options["encrypt_to"]:
        choices["encrypt_to"] = options["encrypt_to"]
    if options["passphrase"]:
        choices["passphrase"] = read_passphrase(confirm=True)
    return choices


def open_choices(options: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a load or an inspection these options give.

    A passphrase is read with ``--passphrase``, and also when
    :data:`~diskette.crypto.age_keys.PASSPHRASE_VARIABLE` is set (for cron).
    """
    choices: dict[str, Any] = {}
    if options.get("identities"):
        choices["identities"] = options["identities"]
    if options.get("passphrase") or os.environ.get(PASSPHRASE_VARIABLE):
        choices["passphrase"] = read_passphrase(confirm=False)
    if options.get("allow_unsigned"):
        choices["allow_unsigned"] = True
    return choices


def read_passphrase(*, confirm: bool) -> str:
    """The passphrase from the environment, else asked on the terminal."""
    value = os.environ.get(PASSPHRASE_VARIABLE)
    if value:
        return value
    if not sys.stdin.isatty():
        raise CommandError(
            f"--passphrase needs a terminal to ask on, or {PASSPHRASE_VARIABLE} set "
            "(for automation)",
            returncode=3,
        )
    value = getpass.getpass("Passphrase: ")
    if not value:
        raise CommandError("the passphrase is empty: nothing was done", returncode=3)
    if confirm and getpass.getpass("Passphrase again: ") != value:
        raise CommandError("the passphrases differ: nothing was done", returncode=3)
    return value


def report_sharing(description: dict[str, Any], reporter: Any) -> None:
    """What ``diskette_dump --check`` says of encryption, signing and rules."""
    encryption = description.get("encryption")
    if encryption is not None:
        reporter.info(
            "encrypted (age) to "
            + (
                "a passphrase"
                if encryption["passphrase"]
                else ", ".join(encryption["recipients"])
            )
        )
    if description.get("signed_by"):
        reporter.info(f"signed by {description['signed_by']}")
    if "anonymise" in description:
        _report_rules(description["anonymise"], reporter)


def _report_rules(survey: dict[str, Any], reporter: Any) -> None:
    """What ``--check --anonymise`` shows: each rule's field, the dropped
    models, and a warning per personal-looking field no rule covers."""
    salt = "" if survey["salted"] else " (random salt: fakes hold in this archive only)"
    reporter.info(
        f"anonymised: profile {survey['profile']!r}, rules {survey['digest'][:12]}{salt}"
    )
    for rule in survey["rules"]:
        unique = ", unique" if rule["unique"] else ""
        reporter.info(f"  {rule['field']}: {rule['rule']} ({rule['origin']}{unique})")
    if survey["dropped"]:
        reporter.info("  dropped: " + ", ".join(survey["dropped"]))
    for warning in survey["uncovered"]:
        reporter.warning(warning)
