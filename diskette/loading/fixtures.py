"""Fixture files → deserialized objects, streamed, in flat memory.

The raw objects come from the bounded readers of :mod:`diskette.readers`
(``json``, ``jsonl``; ``xml`` and ``yaml`` through :mod:`diskette.loading.formats`).
Objects are built as Django's deserializers build them, except that natural
foreign keys go through a bounded cache in front of ``get_by_natural_key``
(:class:`diskette.loading.natural_keys.NaturalKeyCache`: one query per distinct key
instead of one per value, none for the objects the load wrote), and that the
objects of most models come with their database rows, made in the same pass
(:mod:`diskette.loading.rows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import Any, BinaryIO

from django.apps import apps
from django.core import serializers
from django.core.serializers import base
from django.db import connections, models
from django.db.models import signals

from diskette.exceptions import DisketteError
from diskette.json_readers import (  # noqa: F401 - the readers' former home
    READ_SIZE,
    read_json_array,
    read_json_lines,
)
from diskette.loading.formats import CachedXmlDeserializer, load_yaml
from diskette.loading.natural_keys import (  # noqa: F401 - the cache's former home
    NATURAL_KEY_CACHE_SIZE,
    NaturalKeyCache,
    _Spill,
)
from diskette.loading.rows import FixtureRows, plan_rows
from diskette.manifest import count_objects
from diskette.readers import (  # noqa: F401 - the readers' former home
    FixtureLimitError,
    deserialize_other,
    read_objects,
)


class _ModelPlan:
    """What deserializing one model needs, worked out once per model."""

    def __init__(self, model: type[models.Model]):
        self.model = model
        self.pk = model._meta.pk
        self.field_names = {f.name for f in model._meta.get_fields()}
        #: name -> (field, kind: _M2M, _FK or _PLAIN, its to_python)
        self.fields: dict[str, tuple] = {}
        meta = model._meta
        #: The attname and default of every concrete field, in the order that
        #: Model(*args) takes them; None when only Model(**data) will do.
        self.slots: list[tuple] | None = (
            None
            if any(getattr(f, "generated", False) for f in meta.concrete_fields)
            else [(f.attname, f.get_default) for f in meta.concrete_fields]
        )
        #: Whether an object without a primary key is looked up by its natural
        #: key (``build_instance``).
        self.natural_pk = hasattr(
            meta.default_manager, "get_by_natural_key"
        ) and hasattr(model, "natural_key")
        #: How its objects are made with their rows (None: not worked out yet,
        #: False: the fields' own way only).
        self.rows: FixtureRows | bool | None = None

    def build(self, data: dict, using: str) -> models.Model:
        """``base.build_instance(model, data, using)``: the model's positional
        form (Django's own fast path) when it gives the same instance."""
        model = self.model
        slots = self.slots
        if (
            slots is None
            or data.get(self.pk.attname) is None
            or signals.pre_init.has_listeners(model)
        ):
            return base.build_instance(model, data, using)
        args = []
        append = args.append
        found = 0
        for attname, default in slots:
            if attname in data:
                append(data[attname])
                found += 1
            else:
                append(default())
        if found != len(data):
            return base.build_instance(model, data, using)
        return model(*args)

    def field(self, name: str) -> tuple:
        """(field, kind, to_python) of the field called ``name``."""
        try:
            return self.fields[name]
        except KeyError:
            pass
        field = self.model._meta.get_field(name)
        remote = field.remote_field
        if remote and isinstance(remote, models.ManyToManyRel):
            kind = _M2M
        elif remote and isinstance(remote, models.ManyToOneRel):
            kind = _FK
        else:
            kind = _PLAIN
        entry = self.fields[name] = (field, kind, field.to_python)
        return entry


_M2M, _FK, _PLAIN = range(3)


class Deserializer:
    """Django's python deserializer (with forward references) over an iterable of
    raw objects, resolving natural keys through a :class:`NaturalKeyCache`."""

    def __init__(
        self,
        objects: Iterable[Any],
        *,
        using: str,
        ignorenonexistent: bool = False,
        cache: NaturalKeyCache,
    ):
        self.objects = objects
        self.using = using
        self.ignorenonexistent = ignorenonexistent
        self.cache = cache
        self.plans: dict[str, _ModelPlan | None] = {}

    def __iter__(self) -> Iterator[base.DeserializedObject]:
        plans, using = self.plans, self.using
        for raw in self.objects:
            try:
                try:
                    plan = plans[raw["model"]]
                except (KeyError, TypeError):
                    plan = self._plan(raw["model"])
                if plan is None:
                    continue
                rows = plan.rows
                if rows is None:
                    rows = plan.rows = (
                        plan_rows(plan.model, connections[using], self.cache) or False
                    )
                # The object with its row, or (None) the fields' own way.
                item = rows.make(raw, plan, using) if rows else None
                if item is None:
                    item = self._build(raw, plan)
            except (GeneratorExit, base.DeserializationError, DisketteError):
                raise
            except Exception as error:
                raise base.DeserializationError(str(error)) from error
            yield item

    def _plan(self, label: Any) -> _ModelPlan | None:
        try:
            return self.plans[label]
        except (KeyError, TypeError):
            pass
        try:
            plan = _ModelPlan(apps.get_model(label))
        except (LookupError, TypeError, ValueError):
            if not self.ignorenonexistent:
                raise base.DeserializationError(
                    f"Invalid model identifier: {label}"
                ) from None
            plan = None
        with suppress(TypeError):  # an unhashable label is not remembered
            self.plans[label] = plan
        return plan

    def _build(self, raw: Any, plan: _ModelPlan) -> base.DeserializedObject:
        data: dict[str, Any] = {}
        if "pk" in raw:
            try:
                data[plan.pk.attname] = plan.pk.to_python(raw.get("pk"))
            except Exception as error:
                raise base.DeserializationError.WithData(
                    error, raw["model"], raw.get("pk"), None
                ) from error
        m2m_data, deferred = self._read_fields(plan, raw, data)
        if (
            plan.natural_pk
            and data.get(plan.pk.attname) is None
            and self.cache.before_lookup is not None
        ):
            # build_instance looks the object up by its natural key: rows
            # waiting in a batch must be in the table first.
            self.cache.before_lookup(plan.model)
        instance = plan.build(data, self.using)
        return base.DeserializedObject(instance, m2m_data, deferred)

    def _read_fields(
        self, plan: _ModelPlan, raw: Any, data: dict[str, Any]
    ) -> tuple[dict[str, list], dict[models.Field, Any]]:
        """Convert ``raw``'s fields: values into ``data``; the M2M data and the deferred.

        A foreign key or M2M value whose natural key names an object not loaded
        yet is deferred (Django's ``handle_forward_references``), not an error.
        """
        m2m_data: dict[str, list] = {}
        deferred: dict[models.Field, Any] = {}
        for name, value in raw["fields"].items():
            if self.ignorenonexistent and name not in plan.field_names:
                continue
            try:
                field, kind, to_python = plan.fields[name]
            except KeyError:
                field, kind, to_python = plan.field(name)
            if kind is _PLAIN:
                try:
                    data[field.name] = to_python(value)
                except Exception as error:
                    raise base.DeserializationError.WithData(
                        error, raw["model"], raw.get("pk"), value
                    ) from error
            elif kind is _M2M:
                try:
                    values = self.cache.m2m_values(field, value, defer=True)
                except DisketteError:
                    raise
                except base.M2MDeserializationError as error:
                    raise base.DeserializationError.WithData(
                        error.original_exc, raw["model"], raw.get("pk"), error.pk
                    ) from error
                if values is base.DEFER_FIELD:
                    deferred[field] = value
                else:
                    m2m_data[field.name] = values
            else:
                try:
                    converted = self.cache.fk_value(field, value, defer=True)
                except DisketteError:
                    raise
                except Exception as error:
                    raise base.DeserializationError.WithData(
                        error, raw["model"], raw.get("pk"), value
                    ) from error
                if converted is base.DEFER_FIELD:
                    deferred[field] = value
                else:
                    data[field.attname] = converted
        return m2m_data, deferred


def deserialize(
    stream: BinaryIO,
    format: str,  # noqa: A002
    *,
    using: str,
    ignorenonexistent: bool = False,
    cache: NaturalKeyCache | None = None,
    counts: dict[str, int] | None = None,
) -> Iterable[base.DeserializedObject]:
    """Deserialized objects of a fixture, with forward references allowed.

    ``json``/``jsonl`` stream; with a ``cache`` they are built by
    :class:`Deserializer`, without one by Django's own python deserializer; with
    ``counts``, their raw objects are counted per model into it as they are read
    (:func:`diskette.manifest.count_objects`). ``xml`` and ``yaml`` go to
    Django's deserializer for that format, natural keys through the ``cache``
    when there is one (:mod:`diskette.loading.formats`).
    """
    raw = read_objects(stream, format)
    if raw is not None and counts is not None:
        raw = count_objects(raw, counts)
    if raw is None:
        options = {"using": using, "ignorenonexistent": ignorenonexistent}
        return deserialize_other(
            stream,
            format,
            deserializer=None if cache is None else _cached(format, cache, options),
            handle_forward_references=True,
            **options,
        )
    if cache is None:
        return _wrap_errors(
            serializers.deserialize(
                "python",
                raw,
                using=using,
                ignorenonexistent=ignorenonexistent,
                handle_forward_references=True,
            )
        )
    return Deserializer(
        raw, using=using, ignorenonexistent=ignorenonexistent, cache=cache
    )


def _cached(format: str, cache: NaturalKeyCache, options: dict):  # noqa: A002
    """The deserializer of an ``xml`` or ``yaml`` stream through ``cache``."""
    if format == "xml":
        return lambda stream: CachedXmlDeserializer(
            stream, cache=cache, handle_forward_references=True, **options
        )
    return lambda stream: Deserializer(load_yaml(stream), cache=cache, **options)


def _wrap_errors(
    items: Iterable[base.DeserializedObject],
) -> Iterator[base.DeserializedObject]:
    """Turn any error of Django's python deserializer into a DeserializationError,
    as its json deserializer does."""
    try:
        yield from items
    except (GeneratorExit, base.DeserializationError):
        raise
    except Exception as error:
        raise base.DeserializationError(str(error)) from error
