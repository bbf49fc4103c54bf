"""Definitions → fixture files: exactly what ``dumpdata`` writes, in one read transaction.

Each definition's fixture is serialized from the same querysets ``dumpdata``
builds (same model order, same ordering by primary key, same managers, same
options), streamed to a file, counting the objects of every model on the way.
Two differences keep the data exact where ``dumpdata`` loses it: rows are read
as instances of their own model, never downcast (:mod:`diskette.dump.managers`, which
also warns about rows a default manager hides), and ``json`` keeps microseconds
(:mod:`diskette.dump.encoder`).

Three things make it fast without changing the output: objects are read in
chunks; what the serializer would query per object (natural foreign keys, M2M
values) is fetched once per chunk (:mod:`diskette.dump.prefetch`); and ``json`` and
``jsonl`` are written by drop-in subclasses of Django's serializers
(:mod:`diskette.dump.serializer`) which, for a model whose fields are all Django's
own, work from ``values_list`` rows instead of model instances (decided once per
model, see :func:`diskette.dump.serializer.row_plan`). Other formats are written by
Django's own serializers. A definition with
``dump_command`` runs that management command instead, with the arguments
``dumpdata`` would take.
"""

from __future__ import annotations

import gc
import io
import json
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from django.apps import apps as django_apps
from django.core import serializers
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction

from diskette.definitions import Definition
from diskette.dump.managers import check_classes, hidden_rows
from diskette.dump.managers import dump_queryset as manager_queryset
from diskette.dump.prefetch import (
    ForeignKeys,
    ManyValues,
    RelatedLoader,
    plain_instances,
)
from diskette.dump.serializer import (
    RowChunk,
    RowPlan,
    get_serializer,
    is_fast,
    row_plan,
)
from diskette.exceptions import DumpError
from diskette.owner import private_file
from diskette.reporter import Reporter

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

    @property
    def objects(self) -> int:
        return sum(self.models.values())

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def resolve_models(labels: Iterable[str]) -> list:
    """Model classes for labels, grouped per app as ``dumpdata`` groups them."""
    app_list: dict = {}
    for label in labels:
        try:
            app_label, model_name = label.split(".")
            app_config = django_apps.get_app_config(app_label)
            model = app_config.get_model(model_name)
        except (ValueError, LookupError) as error:
            raise DumpError(f"unknown model {label!r}: {error}") from None
        models = app_list.setdefault(app_config, [])
        if model not in models:
            models.append(model)
    return list(app_list.items())


def ordered_models(definition: Definition) -> list:
    """The models in the order ``dumpdata`` serializes them for this definition."""
    app_list = resolve_models(definition.models)
    if definition.natural_foreign:
        return serializers.sort_dependencies(app_list, allow_cycles=True)
    return [model for _app, models in app_list for model in models]


def dumped_models(definition: Definition, using: str = DEFAULT_DB_ALIAS) -> list:
    """The models whose rows the fixture holds (proxies and unrouted models are not)."""
    return [
        model
        for model in ordered_models(definition)
        if not model._meta.proxy and router.allow_migrate_model(using, model)
    ]


#: Objects serialized per chunk; the related objects are fetched once per chunk.
CHUNK_SIZE = 2000


def dump_queryset(definition: Definition, model, using: str = DEFAULT_DB_ALIAS):
    """The queryset ``dumpdata`` serializes for ``model``, never downcasting.

    See :mod:`diskette.dump.managers`.
    """
    return manager_queryset(model, using, use_base_manager=definition.use_base_manager)


def _objects(
    definition: Definition,
    using: str,
    counts: dict[str, int],
    tick: Callable[[int], None],
    as_queryset: bool,
) -> Iterator:
    """Yield what dumpdata's ``get_objects`` yields, counting per model.

    Objects come in chunks with what their serialization reads already fetched
    (see :mod:`diskette.dump.prefetch`), so the queries do not grow with the objects.
    """
    total = 0
    caches: dict = {}  # natural keys of related objects, shared by the models
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
            # Closed here, not by the garbage collector: an interrupted dump
            # would otherwise close the rows' cursor after its connection.
            with closing(_row_chunks(plan, queryset, using, caches, CHUNK_SIZE)) as it:
                for rows in it:
                    counts[label] += len(rows)
                    before, total = total, total + len(rows)
                    if before // PROGRESS_EVERY != total // PROGRESS_EVERY:
                        tick(total)
                    yield rows
            continue
        loader = RelatedLoader.for_serializer(
            model,
            using,
            natural_foreign=definition.natural_foreign,
            natural_primary=definition.natural_primary,
            as_queryset=as_queryset,
        )
        # Code that runs when an instance is built may change its class.
        checked = not plain_instances(model)
        with closing(loader.chunks(queryset, CHUNK_SIZE)) as chunks:
            for chunk in chunks:
                if checked:
                    check_classes(definition.name, model, chunk)
                for obj in chunk:
                    counts[label] += 1
                    total += 1
                    if total % PROGRESS_EVERY == 0:
                        tick(total)
                    yield obj
                # The serializer is done with the chunk. Its objects hold
                # reference cycles (a file field's FieldFile points back to its
                # instance) that only the garbage collector would free: break
                # them, so that memory is freed at once and the collector has
                # little to do.
                for obj in chunk:
                    obj.__dict__.clear()
                gc.collect(1)  # what the serialization left in cycles (few)
    tick(total)


def _row_chunks(
    plan: RowPlan, queryset, using: str, caches: dict, size: int
) -> Iterator[RowChunk]:
    """The model's rows in chunks, with their natural keys and M2M values.

    Per chunk, one query per link (none for natural keys already known), over
    the chunk's primary key range: no model instance for the dumped objects,
    and one per related object while its key stays in the bounded cache.
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
    iterator = queryset.values_list(*plan.columns).iterator(chunk_size=size)
    try:
        while True:
            rows = list(islice(iterator, size))
            if not rows:
                return
            source = queryset.filter(pk__gte=rows[0][0], pk__lte=rows[-1][0])
            yield RowChunk(
                plan=plan,
                rows=rows,
                foreign={
                    item.name: item.get([row[index] for row in rows], source)
                    for item, index in foreign
                },
                many={item.name: item.get(source) for item in many},
                fetch_one=fetch_one,
            )
            if len(rows) < size:
                return
    finally:
        iterator.close()  # its cursor, while the connection is open


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause automatic garbage collection; :func:`_objects` collects once per chunk.

    The serialized objects are freed by reference counting (their cycles are
    broken per chunk), so the automatic collections would only traverse live
    objects again and again: about a sixth of the dump's time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def dumpdata_arguments(
    definition: Definition,
    *,
    output: str | None = None,
    using: str = DEFAULT_DB_ALIAS,
    indent: int | None = None,
) -> list[str]:
    """The ``dumpdata`` arguments (after the command name) for a definition."""
    args = list(definition.models)
    if definition.natural_foreign:
        args.append("--natural-foreign")
    if definition.natural_primary:
        args.append("--natural-primary")
    if definition.use_base_manager:
        args.append("--all")
    args.append(f"--format={definition.format}")
    if indent is not None:
        args.append(f"--indent={indent}")
    if using != DEFAULT_DB_ALIAS:
        args.append(f"--database={using}")
    if output is not None:
        args.append(f"--output={output}")
    return args


def write_fixture(
    definition: Definition,
    path: Path,
    *,
    using: str = DEFAULT_DB_ALIAS,
    indent: int | None = None,
    reporter: Reporter | None = None,
) -> FixtureResult:
    """Serialize one definition to ``path``; raise DumpError naming the cause."""
    reporter = reporter or Reporter()
    started = time.monotonic()
    result = FixtureResult(
        definition=definition.name,
        filename=definition.filename,
        format=definition.format,
        path=path,
    )
    if definition.dump_command:
        _run_dump_command(definition, path, using=using, indent=indent)
        result.models = count_fixture_objects(path, definition.format)
    else:
        label = f"dumping {definition.name}"

        def tick(done: int) -> None:
            reporter.progress(label, done)

        try:
            with warnings.catch_warnings(), _collector_paused():
                warnings.simplefilter("ignore")
                serializer_class = get_serializer(definition.format)
                objects = _objects(
                    definition,
                    using,
                    result.models,
                    tick,
                    as_queryset=not is_fast(serializer_class),
                )
                # The objects' cursors are closed before the stream, whatever
                # stopped the serializer (an interrupt, an error).
                with (
                    _frames_released(),
                    _private_text(path) as stream,
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
            current = next(reversed(result.models), None)
            where = f" model {current}" if current else ""
            raise DumpError(
                f"definition {definition.name!r}:{where} could not be serialized: "
                f"{type(error).__name__}: {error}"
            ) from error
        finally:
            reporter.done()
    if not definition.use_base_manager:
        models = dumped_models(definition, using)
        for warning in hidden_rows(definition.name, models, using, result.models):
            result.warnings.append(warning)
            reporter.warning(warning)
    result.seconds = time.monotonic() - started
    return result


@contextmanager
def _frames_released() -> Iterator[None]:
    """On any exception, free what the traceback's frames hold now.

    An exception raised inside Django's row generators (a Ctrl-C in a field's
    converter) keeps them, and their open cursor, alive until the process exits,
    after the command closed the connection: "Exception ignored ... closed
    database" lines on stderr.
    """
    try:
        yield
    except BaseException as error:
        traceback.clear_frames(error.__traceback__)
        raise


#: What a dump_command's --output holds until the command writes it.
_PLACEHOLDER = b"\x00"


def _private_text(path: Path) -> io.TextIOWrapper:
    """A new UTF-8 text file, 0600 from its first byte: fixtures hold secrets."""
    return io.TextIOWrapper(private_file(path), encoding="utf-8")


def _run_dump_command(definition, path, *, using, indent) -> None:
    args = dumpdata_arguments(definition, output=str(path), using=using, indent=indent)
    # dumpdata opens --output for writing, which keeps the mode of a file that
    # exists: created 0600 here, the fixture is never readable by others. A
    # command that never opened it leaves the placeholder byte.
    with private_file(path) as stream:
        stream.write(_PLACEHOLDER)
    try:
        with _frames_released():
            call_command(definition.dump_command, *args, verbosity=0)
    except CommandError as error:
        raise DumpError(
            f"definition {definition.name!r}: dump_command "
            f"{definition.dump_command!r} failed: {error}"
        ) from None
    except Exception as error:
        raise DumpError(
            f"definition {definition.name!r}: dump_command "
            f"{definition.dump_command!r} failed: {type(error).__name__}: {error}"
        ) from error
    if not path.is_file() or _untouched(path):
        raise DumpError(
            f"definition {definition.name!r}: dump_command "
            f"{definition.dump_command!r} wrote no file at --output: it must accept "
            "dumpdata's options"
        )


def _untouched(path: Path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(len(_PLACEHOLDER) + 1) == _PLACEHOLDER


def count_fixture_objects(path: Path, fmt: str) -> dict[str, int]:
    """Count objects per model in a fixture written by someone else (dump_command)."""
    counts: dict[str, int] = {}

    def add(label) -> None:
        if isinstance(label, str):
            model = django_apps.get_model(label)
            key = model._meta.label
            counts[key] = counts.get(key, 0) + 1

    try:
        if fmt == "json":
            with open(path, encoding="utf-8") as stream:
                for item in json.load(stream) or []:
                    add(item.get("model"))
        elif fmt == "jsonl":
            with open(path, encoding="utf-8") as stream:
                for line in stream:
                    if line.strip():
                        add(json.loads(line).get("model"))
        elif fmt == "xml":
            from xml.etree.ElementTree import iterparse  # noqa: S405 - our own file

            for _event, element in iterparse(path):  # noqa: S314
                if element.tag == "object":
                    add(element.get("model"))
                    element.clear()
        elif fmt == "yaml":
            import yaml

            with open(path, encoding="utf-8") as stream:
                for item in yaml.safe_load(stream) or []:
                    add(item.get("model"))
    except (ValueError, LookupError, AttributeError, TypeError) as error:
        raise DumpError(
            f"the fixture written by dump_command ({path.name}) is not a valid "
            f"{fmt} fixture: {error}"
        ) from None
    return counts


def read_transaction(using: str = DEFAULT_DB_ALIAS):
    """A context manager: one consistent read of the whole database.

    On PostgreSQL the transaction is REPEATABLE READ, so that rows committed by
    others while the dump runs are not seen by later definitions. Inside an
    already open transaction the isolation level cannot change; the outer one is
    used as it is.
    """
    return _ReadTransaction(using)


class _ReadTransaction:
    def __init__(self, using: str):
        self.using = using
        self.atomic = transaction.atomic(using=using)

    def __enter__(self):
        connection = connections[self.using]
        outermost = not connection.in_atomic_block
        self.atomic.__enter__()
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return self

    def __exit__(self, *exc):
        return self.atomic.__exit__(*exc)
