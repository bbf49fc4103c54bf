"""Definitions → fixture files: exactly what ``dumpdata`` writes, in one read transaction.

Each definition's fixture is serialized from the same querysets ``dumpdata``
builds (same model order, same ordering by primary key, same managers, same
options), streamed to a file, counting the objects of every model on the way.
Two differences keep the data exact where ``dumpdata`` loses it: rows are read
as instances of their own model, never downcast (:mod:`diskette.dumping.managers`, which
also warns about rows a default manager hides), and ``json`` keeps microseconds
(:mod:`diskette.dumping.encoder`).

Three things make it fast without changing the output: objects are read in
chunks; what the serializer would query per object (natural foreign keys, M2M
values) is fetched once per chunk (:mod:`diskette.dumping.prefetch`), with
queries whose cost follows the chunk, not the table (:mod:`diskette.dumping.chunks`);
and ``json`` and ``jsonl`` are written by drop-in subclasses of Django's
serializers (:mod:`diskette.dumping.serializer`) which, for a model whose fields
are all Django's own, work from ``values_list`` rows instead of model instances
(decided once per model, see :func:`diskette.dumping.serializer.row_plan`). Other
formats are written by Django's own serializers. A definition with
``dump_command`` runs that management command instead, with the arguments
``dumpdata`` would take.
"""

from __future__ import annotations

import gc
import io
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core import serializers
from django.db import DEFAULT_DB_ALIAS

from diskette.anonymise.active import activated, active
from diskette.archive.compressed_member import CompressedFile
from diskette.archive.compression import DEFAULT_LEVEL
from diskette.definitions import Definition
from diskette.dumping.chunks import ChunkRange
from diskette.dumping.cleanup import collector_paused, frames_released
from diskette.dumping.dump_command import (
    count_fixture_objects,
    dumpdata_arguments,
    run_dump_command,
)
from diskette.dumping.managers import check_classes, hidden_rows
from diskette.dumping.prefetch import RelatedLoader
from diskette.dumping.reading import (
    dump_queryset,
    dumped_models,
    ordered_models,
    read_transaction,
    resolve_models,
)
from diskette.dumping.row_links import ForeignKeys, ManyValues, plain_instances
from diskette.dumping.rows import RowChunk, RowPlan, row_plan
from diskette.dumping.serializer import get_serializer, is_fast
from diskette.dumping.text_values import read_as_text
from diskette.exceptions import DumpError
from diskette.owner import private_file
from diskette.reporter import Reporter

if TYPE_CHECKING:
    from diskette.anonymise.anonymiser import Anonymiser

__all__ = [
    "CHUNK_SIZE",
    "FixtureResult",
    "count_fixture_objects",
    "dump_queryset",
    "dumpdata_arguments",
    "dumped_models",
    "ordered_models",
    "read_transaction",
    "resolve_models",
    "write_fixture",
]

#: How often (in objects) the progress display is refreshed.
PROGRESS_EVERY = 500


@dataclass
class FixtureResult:
    """One written fixture and what it holds."""

    definition: str
    filename: str
    format: str
    path: Path
    models: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: What the user should know (also given to the reporter), one line each.
    warnings: list[str] = field(default_factory=list)
    #: The file's compression when it was written compressed for an archive
    #: (:class:`~diskette.archive.compressed_member.CompressedFile`), with the
    #: size and SHA-256 of the fixture itself.
    compression: str | None = None
    content_size: int = 0
    content_sha256: str = ""
    #: The models written from rows (the fast path), not from instances.
    from_rows: list[str] = field(default_factory=list)

    @property
    def objects(self) -> int:
        return sum(self.models.values())

    @property
    def size(self) -> int:
        """The fixture's size (not its compressed file's)."""
        return self.content_size if self.compression else self.path.stat().st_size


#: Objects serialized per chunk; the related objects are fetched once per chunk.
CHUNK_SIZE = 2000


class _Progress:
    """Objects serialized so far, shown every :data:`PROGRESS_EVERY` objects."""

    def __init__(self, tick: Callable[[int], None]):
        self.tick = tick
        self.total = 0

    def add(self, count: int) -> None:
        before, self.total = self.total, self.total + count
        if before // PROGRESS_EVERY != self.total // PROGRESS_EVERY:
            self.tick(self.total)


def _objects(
    definition: Definition,
    using: str,
    counts: dict[str, int],
    tick: Callable[[int], None],
    as_queryset: bool,
    from_rows: list[str],
) -> Iterator:
    """Yield what dumpdata's ``get_objects`` yields, counting per model.

    Objects come in chunks with what their serialization reads already fetched
    (see :mod:`diskette.dumping.prefetch`), so the queries do not grow with the objects.
    """
    progress = _Progress(tick)
    caches: dict = {}  # natural keys of related objects, shared by the models
    anonymiser = active()
    for model in dumped_models(definition, using):
        queryset = dump_queryset(definition, model, using)
        label = model._meta.label
        counts[label] = 0
        plan = None
        if not as_queryset:
            plan = row_plan(
                model,
                queryset,
                natural_foreign=definition.natural_foreign,
                natural_primary=definition.natural_primary,
            )
        if plan is not None:
            plan = read_as_text(plan, using)
            if anonymiser is not None:
                plan = anonymiser.row_plan(plan)
            from_rows.append(label)
            # Closed here, not by the garbage collector: an interrupted dump
            # would otherwise close the rows' cursor after its connection.
            with closing(_row_chunks(plan, queryset, using, caches, CHUNK_SIZE)) as it:
                for rows in it:
                    counts[label] += len(rows)
                    progress.add(len(rows))
                    yield rows
        else:
            yield from _instances(
                definition, model, queryset, using, as_queryset, counts, progress
            )
    tick(progress.total)


def _instances(
    definition: Definition,
    model: type,
    queryset,
    using: str,
    as_queryset: bool,
    counts: dict[str, int],
    progress: _Progress,
) -> Iterator:
    """A model's objects as instances, in chunks with their related data fetched."""
    label = model._meta.label
    loader = RelatedLoader.for_serializer(
        model,
        using,
        natural_foreign=definition.natural_foreign,
        natural_primary=definition.natural_primary,
        as_queryset=as_queryset,
    )
    # Code that runs when an instance is built may change its class.
    checked = not plain_instances(model)
    anonymiser = active()
    hide = anonymiser.hider(model) if anonymiser is not None else None
    with closing(loader.chunks(queryset, CHUNK_SIZE)) as chunks:
        for chunk in chunks:
            if checked:
                check_classes(definition.name, model, chunk)
            for obj in chunk:
                if hide is not None:
                    hide(obj)
                counts[label] += 1
                progress.add(1)
                yield obj
            # The serializer is done with the chunk. Its objects hold
            # reference cycles (a file field's FieldFile points back to its
            # instance) that only the garbage collector would free: break
            # them, so that memory is freed at once and the collector has
            # little to do.
            for obj in chunk:
                obj.__dict__.clear()
            gc.collect(1)  # what the serialization left in cycles (few)


def _row_chunks(
    plan: RowPlan, queryset, using: str, caches: dict, size: int
) -> Iterator[RowChunk]:
    """The model's rows in chunks, with their natural keys and M2M values.

    Per chunk, one query per M2M field, by the chunk's primary key range on the
    through table's own column (:mod:`diskette.dumping.chunks`), and one per
    batch of natural keys not known yet: no model instance for the dumped
    objects, one per related object while its key stays in the bounded cache,
    and the order of M2M values read once (:mod:`diskette.dumping.target_order`).
    On PostgreSQL, the columns whose text is the fixture's are read as text
    (:mod:`diskette.dumping.text_values`).
    """
    indexes = {name: index for name, index, *_rest in plan.fields}
    foreign = [
        (ForeignKeys(field, using, caches), indexes[field.name])
        for field in plan.foreign
    ]
    many = [ManyValues(field, using, natural, caches) for field, natural in plan.many]
    keys = {item.name: item.keys for item, _index in foreign}

    def fetch_one(name: str, value):
        return keys[name].fetch_one(value)

    rows: list = []
    iterator = queryset.values_list(*(plan.selects or plan.columns)).iterator(
        chunk_size=size
    )
    try:
        while True:
            rows = list(islice(iterator, size))
            if not rows:
                return
            chunk = ChunkRange(queryset, rows[0][0], rows[-1][0])
            yield RowChunk(
                plan=plan,
                rows=rows,
                foreign={
                    item.name: item.get([row[index] for row in rows])
                    for item, index in foreign
                },
                many={item.name: item.get(chunk) for item in many},
                fetch_one=fetch_one,
            )
            if len(rows) < size:
                return
    finally:
        iterator.close()  # its cursor, while the connection is open


def write_fixture(
    definition: Definition,
    path: Path,
    *,
    using: str = DEFAULT_DB_ALIAS,
    indent: int | None = None,
    reporter: Reporter | None = None,
    compression: str | None = None,
    compresslevel: int = DEFAULT_LEVEL,
    anonymiser: Anonymiser | None = None,
) -> FixtureResult:
    """Serialize one definition to ``path``; raise DumpError naming the cause.

    With ``compression``, the serializer's output is written compressed, for an
    archive of that compression to copy as it is (a fixture a ``dump_command``
    writes stays plain). With ``anonymiser``, its rules replace the values as
    they are written (:mod:`diskette.anonymise`).
    """
    reporter = reporter or Reporter()
    started = time.monotonic()
    result = FixtureResult(
        definition=definition.name,
        filename=definition.filename,
        format=definition.format,
        path=path,
    )
    if definition.dump_command:
        run_dump_command(definition, path, using=using, indent=indent)
        result.models = count_fixture_objects(path, definition.format)
    else:
        target = private_file(path)
        if compression is not None:
            target = CompressedFile(path, compression=compression, level=compresslevel)
        try:
            with activated(anonymiser):
                _serialize(definition, target, using, indent, reporter, result)
        except BaseException:
            _discard(target)
            raise
        finally:
            reporter.done()
        if isinstance(target, CompressedFile):
            result.compression = compression
            result.content_size = target.size
            result.content_sha256 = target.sha256
    if not definition.use_base_manager:
        models = dumped_models(definition, using)
        for warning in hidden_rows(definition.name, models, using, result.models):
            result.warnings.append(warning)
            reporter.warning(warning)
    result.seconds = time.monotonic() - started
    return result


def _discard(target: Any) -> None:
    """Close (a compressed file: stop and remove) what a failed serializer wrote."""
    if isinstance(target, CompressedFile):
        target.abort()
    else:
        target.close()


def _serialize(
    definition: Definition,
    target: Any,
    using: str,
    indent: int | None,
    reporter: Reporter,
    result: FixtureResult,
) -> None:
    """Write the fixture into ``target`` (a new binary file, closed here) with
    the format's serializer, counting into ``result.models``."""
    counts = result.models
    label = f"dumping {definition.name}"
    # The total, counted in the dump's own snapshot, only for a live line.
    total = (
        sum(
            dump_queryset(definition, model, using).count()
            for model in dumped_models(definition, using)
        )
        if reporter.shows_progress
        else None
    )

    def tick(done: int) -> None:
        reporter.progress(label, done, total)

    try:
        with warnings.catch_warnings(), collector_paused():
            warnings.simplefilter("ignore")
            serializer_class = get_serializer(definition.format)
            objects = _objects(
                definition,
                using,
                counts,
                tick,
                as_queryset=not is_fast(serializer_class),
                from_rows=result.from_rows,
            )
            # The objects' cursors are closed before the stream, whatever
            # stopped the serializer (an interrupt, an error).
            with (
                frames_released(),
                io.TextIOWrapper(target, encoding="utf-8") as stream,
                closing(objects),
            ):
                serializer_class().serialize(
                    objects,
                    indent=indent,
                    use_natural_foreign_keys=definition.natural_foreign,
                    use_natural_primary_keys=definition.natural_primary,
                    stream=stream,
                )
    except (DumpError, OSError):
        raise
    except serializers.SerializerDoesNotExist:
        raise DumpError(
            f"definition {definition.name!r}: unknown serialization format "
            f"{definition.format!r}"
        ) from None
    except Exception as error:
        current = next(reversed(counts), None)
        where = f" model {current}" if current else ""
        raise DumpError(
            f"definition {definition.name!r}:{where} could not be serialized: "
            f"{type(error).__name__}: {error}"
        ) from error
