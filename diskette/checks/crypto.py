"""Checks of the key settings: who dumps are encrypted to, what signs them, what
opens and what is trusted on load (:mod:`diskette.crypto`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from diskette.conf import DisketteSettings
from diskette.crypto.age_keys import encryption
from diskette.crypto.signing import signing_key, trusted_keys
from diskette.exceptions import ConfigurationError
from diskette.problems import Problem, kind_of


def crypto_problems(conf: DisketteSettings) -> list[Problem]:
    """E021 when a key setting has a wrong value or needs the ``crypto`` extra."""
    problems: list[Problem] = []
    for name, value, parse in (
        (
            "DISKETTE_ENCRYPT_TO",
            conf.encrypt_to,
            lambda v: encryption(v, None, where="DISKETTE_ENCRYPT_TO"),
        ),
        (
            "DISKETTE_TRUSTED_KEYS",
            conf.trusted_keys,
            lambda v: trusted_keys(v, "DISKETTE_TRUSTED_KEYS"),
        ),
        ("DISKETTE_IDENTITY_FILES", conf.identity_files, _identity_files),
    ):
        problems.extend(_list_problems(name, value, parse))
    if conf.signing_key is not None:
        problems.extend(
            _problems(
                "DISKETTE_SIGNING_KEY",
                lambda: signing_key(_path(conf.signing_key), "DISKETTE_SIGNING_KEY"),
                "Set it to the path of an unencrypted Ed25519 private key, or None.",
            )
        )
    return problems


def _path(value: object) -> str:
    if not isinstance(value, str | os.PathLike):
        raise ConfigurationError(
            f"DISKETTE_SIGNING_KEY must be a path or None, not {kind_of(value)}"
        )
    return os.fspath(value)


def _identity_files(values: list[object]) -> None:
    for value in values:
        if not isinstance(value, str | os.PathLike):
            raise ConfigurationError(
                f"DISKETTE_IDENTITY_FILES: {value!r} must be the path of a file"
            )
        if not Path(value).expanduser().is_file():
            raise ConfigurationError(
                f"DISKETTE_IDENTITY_FILES: {os.fspath(value)!r} is not a file"
            )


def _list_problems(
    name: str, value: object, parse: Callable[[list[object]], object]
) -> list[Problem]:
    if not isinstance(value, list | tuple):
        return [
            Problem(
                "E021",
                (name,),
                f"{name} must be a list, not {kind_of(value)}",
                "Set it to a list of keys or key files (empty for none).",
            )
        ]
    return _problems(
        name, lambda: parse(list(value)), "Fix the value, or set it to [] for none."
    )


def _problems(name: str, parse: Callable[[], object], hint: str) -> list[Problem]:
    try:
        parse()
    except ConfigurationError as error:
        return [Problem("E021", (name,), str(error), hint)]
    return []
