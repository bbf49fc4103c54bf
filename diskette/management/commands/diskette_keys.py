"""``diskette_keys``: make the keys that encrypt and sign archives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from diskette.crypto.age_keys import generate_identity
from diskette.crypto.signing import generate
from diskette.management.base import DisketteCommand

#: What each kind of key is written as, in the directory given.
_NAMES = {"age": "diskette-age.key", "signing": "diskette-signing.key"}


class Command(DisketteCommand):
    help = (
        "Make a new age identity (to encrypt archives to, and open them) and a new "
        "Ed25519 signing key pair, as private files (0600) in a directory, and "
        "print the settings that use them. Never replaces a file."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--directory",
            default=".",
            help="where the key files are written (default: the working directory)",
        )
        parser.add_argument(
            "--kind",
            choices=["age", "signing", "both"],
            default="both",
            help="which keys to make (default both)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = Path(options["directory"]).expanduser().absolute()
        kinds = ["age", "signing"] if options["kind"] == "both" else [options["kind"]]
        taken = [
            name for kind in kinds if (directory / (name := _NAMES[kind])).exists()
        ]
        if not directory.is_dir():
            raise CommandError(f"{str(directory)!r} is not a directory", returncode=3)
        if taken:
            raise CommandError(
                f"{', '.join(taken)} already in {str(directory)!r}: keys are never "
                "replaced; move them away or give another --directory",
                returncode=3,
            )
        lines = []
        if "age" in kinds:
            path = directory / _NAMES["age"]
            recipient = generate_identity(path)
            lines += [
                f"# age identity written to {path} (keep it secret; a copy off "
                "this machine opens the archives if it is lost)",
                f'DISKETTE_ENCRYPT_TO = ["{recipient}"]',
                f'DISKETTE_IDENTITY_FILES = ["{path}"]',
            ]
        if "signing" in kinds:
            private, public = generate(directory, _NAMES["signing"])
            lines += [
                f"# signing key written to {private}, its public half to {public}",
                f'DISKETTE_SIGNING_KEY = "{private}"',
                f'DISKETTE_TRUSTED_KEYS = ["{public.read_text().strip()}"]',
            ]
        for line in lines:
            self.stdout.write(line)
