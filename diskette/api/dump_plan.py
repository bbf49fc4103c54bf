"""A dump's plan: every choice validated and resolved before anything is read or written.

:func:`plan_dump` runs in named steps (settings, options, definitions,
relations, storages, archive name); :func:`diskette.api.dump` runs the plan.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diskette.anonymise.anonymiser import Anonymiser
from diskette.anonymise.planning import plan_anonymiser
from diskette.anonymise.survey import survey
from diskette.api.dump_definitions import chosen_definitions
from diskette.api.dump_destination import (
    DATE_FORMAT,
    TIMESTAMP_FORMAT,
    dump_filename,
    refuse_existing,
    resolve_target,
)
from diskette.api.dump_options import DumpOptions, DumpPlanArguments
from diskette.archive.compression import GZIP, archive_name
from diskette.checks import raise_for_settings
from diskette.conf import (
    DisketteSettings,
    get_settings,
    load_setting_names,
    setting_names,
)
from diskette.crypto.age_stream import SUFFIX as ENCRYPTED_SUFFIX
from diskette.definitions import Definition
from diskette.definitions.derived import SETTING as DERIVED_SETTING
from diskette.destinations.local import LocalDestination
from diskette.dumping.dumper import dumpdata_arguments, dumped_models
from diskette.dumping.filefields import unarchived_file_fields
from diskette.dumping.relations import dangling_relations
from diskette.exceptions import ConfigurationError
from diskette.manifest import DATA_PREFIX
from diskette.paths import StoragePath
from diskette.reporter import Reporter
from diskette.storages import ExcludePatterns, check_storages, survey_storage

__all__ = [
    "DATE_FORMAT",
    "TIMESTAMP_FORMAT",
    "DumpPlan",
    "dump_filename",
    "dumpdata_command_lines",
    "plan_dump",
    "plan_options",
]

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from diskette.crypto.age_keys import Encryption
    from diskette.crypto.signing import SigningKey
    from diskette.destinations.protocols import ArchiveStorage


@dataclass
class DumpPlan:
    """Everything a dump will do, validated, before anything is read or written.

    ``destination`` is a local directory: the archive's when the destination is
    local (``local``), else the one holding the dump's private work directory,
    where the archive is written before it is uploaded to ``target``.
    """

    definitions: list[Definition]
    storages: list[StoragePath]
    excludes: list[str]
    destination: Path
    filename: str
    indent: int | None
    compresslevel: int
    permissions: int
    using: str
    #: ``gzip``, ``zstd`` or ``none``: the file name's suffix follows it.
    compression: str = GZIP
    #: Where the archive goes, described for messages (``local directory /x``,
    #: ``STORAGES['backups'] (S3Storage)``).
    where: str = ""
    #: The destination itself; ``None`` means ``LocalDestination(destination)``.
    target: ArchiveStorage | None = None
    local: bool = True
    overwrite: bool = False
    skipped: list[str] = dataclasses.field(default_factory=list)
    #: Relations to rows the archive will not hold (see :mod:`diskette.dumping.relations`).
    warnings: list[str] = dataclasses.field(default_factory=list)
    #: The rules that anonymise the copy (None: it is not anonymised).
    anonymiser: Anonymiser | None = None
    #: Who the archive is encrypted to (None: it is not); its name ends in ``.age``.
    encryption: Encryption | None = None
    #: The key its manifest is signed with (None: it is not signed).
    signer: SigningKey | None = None

    @property
    def path(self) -> Path:
        """The archive's local path (for a local destination only)."""
        return self.destination / self.filename

    @property
    def archive(self) -> str:
        """Where the archive will be: its path when local, its name in the
        destination otherwise."""
        return str(self.path) if self.local else self.filename

    @property
    def backend(self) -> ArchiveStorage:
        """The destination the archive goes to."""
        return self.target or LocalDestination(self.destination)

    def describe(self, reporter: Reporter | None = None) -> dict[str, Any]:
        """Resolved models and storage counts (walks storages, reads no data)."""
        patterns = ExcludePatterns(self.excludes)
        storages = []
        for storage in self.storages:
            stats = survey_storage(storage, patterns, reporter)
            storages.append(
                {
                    "name": storage.name,
                    "path": str(storage.path),
                    "files": stats.files,
                    "bytes": stats.bytes,
                    "empty_directories": stats.empty_directories,
                    "skipped_links": stats.skipped,
                    "excluded": stats.excluded,
                }
            )
        return {
            "archive": self.archive,
            "destination": self.where,
            "name": self.filename,
            "database": self.using,
            "data": [self._describe_definition(item) for item in self.definitions],
            "storages": storages,
            "excludes": list(self.excludes),
            "warnings": list(self.warnings),
            "encryption": self.encryption.describe() if self.encryption else None,
            "signed_by": self.signer.public.describe() if self.signer else None,
            **(
                {"anonymise": survey(self.anonymiser, self.definitions)}
                if self.anonymiser is not None
                else {}
            ),
        }

    def _describe_definition(self, definition: Definition) -> dict[str, Any]:
        return {
            "name": definition.name,
            "path": DATA_PREFIX + definition.filename,
            "format": definition.format,
            "models": [
                model._meta.label for model in dumped_models(definition, self.using)
            ]
            if not definition.dump_command
            else list(definition.models),
            "natural_foreign": definition.natural_foreign,
            "natural_primary": definition.natural_primary,
            "use_base_manager": definition.use_base_manager,
            "dump_command": definition.dump_command,
        }


def _check_settings(options: DumpOptions) -> None:
    """Raise for the dump's settings, except those the options replace."""
    raise_for_settings(
        [
            name
            for name in setting_names()
            if name not in load_setting_names() and name != DERIVED_SETTING
        ],
        overridden=options.replaced_settings(),
    )


def _dangling(
    definitions: list[Definition], using: str, strict: bool, reporter: Reporter
) -> list[str]:
    """Warn about relations to rows the archive will not hold; refuse with ``strict``."""
    found = [str(item) for item in dangling_relations(definitions, using)]
    if found and strict:
        raise ConfigurationError(
            f"strict: {len(found)} relation(s) point to rows the archive will not "
            "hold: " + "; ".join(found)
        )
    for message in found:
        reporter.warning(message)
    return found


def _storages(
    options: DumpOptions, conf: DisketteSettings
) -> tuple[list[StoragePath], list[str]]:
    """The storages to archive, checked, and the exclude patterns, validated."""
    if not options.with_storages:
        return [], []
    base = options.storages_basepath
    if base is None:
        base = conf.storages_base
    paths = conf.storages if options.storages is None else options.storages
    resolved = check_storages(list(paths or ()), base)
    # The option's patterns add to the setting's; no_storages_excludes drops
    # the setting's only.
    excludes: list[str] = []
    if not options.no_storages_excludes:
        excludes = list(conf.storages_excludes or ())
    excludes += list(options.storages_excludes or ())
    ExcludePatterns(excludes)  # validates them
    return resolved, excludes


def _permissions(conf: DisketteSettings, backend: object = None) -> int:
    """The archive's mode: a local destination's own, else the setting's."""
    own = getattr(backend, "permissions", None) if backend is not None else None
    permissions = conf.dump_permissions if own is None else own
    if not isinstance(permissions, int) or not 0 <= permissions <= 0o777:
        raise ConfigurationError(
            f"DISKETTE_DUMP_PERMISSIONS {permissions!r} must be a mode such as 0o600"
        )
    return permissions


def plan_options(options: DumpOptions, reporter: Reporter) -> DumpPlan:
    """:func:`plan_dump` for options already gathered (what ``dump()`` runs)."""
    _check_settings(options)
    conf = get_settings()
    pattern = conf.dump_filename if options.filename is None else options.filename
    dump_filename(pattern, with_data=True, with_storages=True)  # fail early
    options.validate()
    chosen, skipped = chosen_definitions(options)
    anonymiser, kept = plan_anonymiser(
        options.anonymise, options.anonymise_salt, chosen, conf
    )
    # A definition left with dropped models only is skipped, as one with none.
    skipped += [d.name for d in chosen if d.name not in {k.name for k in kept}]
    chosen = kept
    warnings = _dangling(chosen, options.using, options.strict, reporter)
    resolved, excludes = _storages(options, conf)
    if options.with_data and options.with_storages:
        for item in unarchived_file_fields(chosen, resolved):
            reporter.warning(str(item))
            warnings.append(str(item))
    if not chosen and not resolved:
        raise ConfigurationError(
            "nothing to dump: no application definition and no storage selected "
            "(check DISKETTE_APPS, DISKETTE_STORAGES, apps, with_data, with_storages)"
        )
    compression = options.chosen_compression
    encrypted = options.chosen_encryption()
    signer = options.chosen_signing_key()
    name = archive_name(
        dump_filename(pattern, with_data=bool(chosen), with_storages=bool(resolved)),
        compression,
    )
    if encrypted is not None and not name.endswith(ENCRYPTED_SUFFIX):
        name += ENCRYPTED_SUFFIX
    target = resolve_target(options, conf)
    if not options.overwrite:
        refuse_existing(target, name)
    return DumpPlan(
        definitions=chosen,
        storages=resolved,
        excludes=excludes,
        destination=target.directory,
        filename=name,
        indent=options.indent,
        compresslevel=options.compresslevel,
        compression=compression,
        permissions=_permissions(conf, target.backend),
        using=options.using,
        where=target.where,
        target=target.backend,
        local=target.local,
        overwrite=options.overwrite,
        skipped=skipped,
        warnings=warnings,
        anonymiser=anonymiser,
        encryption=encrypted,
        signer=signer,
    )


def plan_dump(
    *, reporter: Reporter | None = None, **arguments: Unpack[DumpPlanArguments]
) -> DumpPlan:
    """Validate every choice of a dump and resolve it; reads no data, writes nothing.

    Relations to rows the archive would not hold are reported as warnings, or
    raise ConfigurationError with ``strict``. The keyword arguments are
    :class:`~diskette.api.dump_options.DumpPlanArguments`: those of
    :func:`~diskette.api.dump` but ``with_checksum``.
    """
    options = DumpOptions.for_plan(**arguments)
    return plan_options(options, reporter or Reporter())


def dumpdata_command_lines(
    plan: DumpPlan, program: list[str] | None = None
) -> list[str]:
    """One shell-quoted ``dumpdata`` line per definition, writing into the destination.

    ``program`` is how to run the project's commands, ``manage.py`` by default.
    """
    program = program or ["manage.py"]
    lines = []
    for definition in plan.definitions:
        args = dumpdata_arguments(
            definition,
            output=str(plan.destination / definition.filename),
            using=plan.using,
            indent=plan.indent,
        )
        command = definition.dump_command or "dumpdata"
        lines.append(shlex.join([*program, command, *args]))
    return lines
