"""Which destination archives go to: ``DISKETTE_ARCHIVE_STORAGE``, ``--to`` and ``--from``.

A destination is written in one of three styles, everywhere:

* a string: the word ``local`` (the directory ``DISKETTE_DUMP_PATH``, always,
  whatever ``STORAGES`` holds), or an alias of Django's ``STORAGES``;
* a dict ``{"BACKEND": "dotted.path.Class", "OPTIONS": {...}}``, the class being
  a Django storage or a destination (any class with the methods of
  :class:`~diskette.destinations.protocols.ArchiveStorage`);
* an instance of either.

``None`` (the default of the setting) means ``local``. A Django storage is
wrapped in a :class:`~diskette.destinations.django_storage.StorageDestination`.
The system check (:func:`destination_problems`, ``diskette.E018``) and
:func:`get_destination` share :func:`value_problem`, so a wrong value reads the
same in ``manage.py check`` and in a command. The check imports a ``BACKEND``
class but never instantiates one: a storage may connect when it is made.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, cast

from django.core.files.storage import Storage, storages
from django.utils.module_loading import import_string

from diskette.conf import DisketteSettings, get_settings
from diskette.destinations.django_storage import StorageDestination
from diskette.destinations.local import LocalDestination
from diskette.destinations.protocols import ArchiveStorage, missing_methods
from diskette.exceptions import ConfigurationError, DisketteError
from diskette.problems import Problem, kind_of

#: The setting, and the word that names the local directory.
SETTING = "DISKETTE_ARCHIVE_STORAGE"
LOCAL = "local"
#: The check's id, continuing the numbering of :mod:`diskette.checks`.
CHECK_ID = "E018"

HINT = (
    f"Set {SETTING} to None or 'local' (archives in DISKETTE_DUMP_PATH), to an "
    "alias of STORAGES such as 'backups', to {'BACKEND': 'dotted.path.Class', "
    "'OPTIONS': {...}} naming a Django storage class or a destination class, or to "
    "an instance of one; a destination has the methods read, write, list, delete "
    "and exists."
)
_KEYS = {"BACKEND", "OPTIONS"}


def get_destination(name_or_value: object = None) -> ArchiveStorage:
    """The destination ``name_or_value`` names (a ``--to`` or ``--from`` value, or
    any of the three styles), ``DISKETTE_ARCHIVE_STORAGE`` when ``None``.

    Raise ConfigurationError, with the same words as the system check, when the
    value is wrong or the backend cannot be made.
    """
    conf = get_settings()
    if name_or_value is None:
        value, where = conf.archive_storage, SETTING
    else:
        value, where = name_or_value, "destination"
    problem = value_problem(value)
    if problem is not None:
        raise ConfigurationError(f"{where} {problem}: {_hint_sentence()}")
    if value is None or value == LOCAL:
        return LocalDestination(conf.dump_directory)
    if isinstance(value, str):
        return _adapted(_made(lambda: storages[value], f"STORAGES[{value!r}]"), where)
    if isinstance(value, Mapping):
        backend = value["BACKEND"]
        options = dict(value.get("OPTIONS", {}))
        made = _made(lambda: import_string(backend)(**options), f"{backend}(**OPTIONS)")
        return _adapted(made, where)
    return _adapted(value, where)


def destination_problems(conf: DisketteSettings) -> list[Problem]:
    """E018 when ``DISKETTE_ARCHIVE_STORAGE`` names no usable destination."""
    problem = value_problem(conf.archive_storage)
    if problem is None:
        return []
    return [Problem(CHECK_ID, (SETTING,), f"{SETTING} {problem}", HINT)]


def value_problem(value: object) -> str | None:
    """What is wrong with a destination value, after its name (``None``: nothing)."""
    if value is None or value == LOCAL:
        return None
    if isinstance(value, str):
        return _alias_problem(value)
    if isinstance(value, Mapping):
        return _dict_problem(value)
    if isinstance(value, type):
        path = f"{value.__module__}.{value.__qualname__}"
        return (
            f"is the class {path}, not an instance: write {{'BACKEND': {path!r}}} "
            "or an instance of it"
        )
    if isinstance(value, os.PathLike):
        return (
            f"is the path {os.fspath(value)!r}: a directory goes in DISKETTE_DUMP_PATH"
        )
    if isinstance(value, Storage):
        return None
    missing = missing_methods(value)
    if missing:
        return (
            f"is {value!r} ({kind_of(value)}), which is not a destination: it has "
            f"no {', '.join(missing)}"
        )
    return None


def _alias_problem(alias: str) -> str | None:
    known = storages.backends
    if alias not in known:
        names = ", ".join(repr(name) for name in known) or "none"
        aside = (
            " (a directory goes in DISKETTE_DUMP_PATH)"
            if "/" in alias or alias.startswith((".", "~"))
            else ""
        )
        return (
            f"is {alias!r}, neither {LOCAL!r} nor an alias of STORAGES (its aliases: "
            f"{names}){aside}"
        )
    backend = known[alias].get("BACKEND")
    problem = _class_problem(backend)
    return None if problem is None else f"is {alias!r}, whose BACKEND {problem}"


def _dict_problem(value: Mapping[Any, Any]) -> str | None:
    unknown = sorted(str(key) for key in value if key not in _KEYS)
    if unknown:
        return f"has the keys {', '.join(map(repr, unknown))}: only BACKEND and OPTIONS"
    if "BACKEND" not in value:
        return "has no BACKEND: name the class to use"
    options = value.get("OPTIONS", {})
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        return f"has OPTIONS {options!r} ({kind_of(options)}), not a dict of arguments"
    problem = _class_problem(value["BACKEND"])
    return None if problem is None else f"BACKEND {problem}"


def _class_problem(backend: object) -> str | None:
    """What is wrong with a BACKEND value, after the words "BACKEND"."""
    if not isinstance(backend, str) or not backend.strip():
        return f"is {backend!r} ({kind_of(backend)}), not a dotted path to a class"
    try:
        cls = import_string(backend)
    except ImportError as error:
        return f"{backend!r} cannot be imported ({error})"
    if not isinstance(cls, type):
        return f"{backend!r} is {kind_of(cls)}, not a class"
    if issubclass(cls, Storage):
        return None
    missing = missing_methods(cls)
    if missing:
        return (
            f"{backend!r} is neither a Django storage nor a destination: it has no "
            f"{', '.join(missing)}"
        )
    return None


def _made(make: Callable[[], object], what: str) -> object:
    """Call ``make``; what a backend raises on bad options becomes a ConfigurationError."""
    try:
        return make()
    except Exception as error:  # a backend may raise anything on bad options
        raise ConfigurationError(
            f"{what} failed with {type(error).__name__}: {error}: fix its OPTIONS, "
            "which are the keyword arguments of its class"
        ) from error


def _adapted(backend: object, where: str) -> ArchiveStorage:
    """A Django storage wrapped, a destination as it is (its methods checked)."""
    if isinstance(backend, Storage):
        return StorageDestination(backend)
    missing = missing_methods(backend)
    if missing:
        raise ConfigurationError(
            f"{where} made {backend!r} ({kind_of(backend)}), which is not a "
            f"destination: it has no {', '.join(missing)}: {_hint_sentence()}"
        )
    return cast(ArchiveStorage, backend)


def _hint_sentence() -> str:
    return HINT[0].lower() + HINT[1:].rstrip(".")


def describe_destination(value: object, backend: object) -> str:
    """A destination as messages name it, the same words for a dump and a load:
    ``STORAGES['backups'] (S3Storage)``, ``local directory /srv/backups``.

    ``value`` is what the caller gave (an alias names the storage), ``backend``
    what :func:`get_destination` made of it.
    """
    if isinstance(backend, LocalDestination):
        return f"local directory {backend.location.absolute()}"
    if isinstance(backend, StorageDestination):
        kind = type(backend.storage).__name__
        if isinstance(value, str):
            return f"STORAGES[{value!r}] ({kind})"
        return f"the {kind} storage"
    if type(backend).__repr__ is not object.__repr__:
        return repr(backend)
    return f"the {type(backend).__name__} destination"


def describe_error(error: BaseException) -> str:
    """An error of a backend on one line, with its type (backends raise anything:
    ``OSError``, botocore's ``ClientError``, paramiko's ``SSHException``...)."""
    if isinstance(error, DisketteError):
        return str(error)
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
