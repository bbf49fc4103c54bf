"""Django's JSON and JSON Lines serializers, made fast and exact.

Django's serializers write each object with ``json.dump``, which always runs the
pure-Python encoder, and build a related-manager queryset for every M2M field of
every object even when the values were prefetched. The subclasses here write
``json.dumps(...)`` (the C encoder, when there is no indent: same output; one
call per chunk for ``json`` without indent) and read the M2M values that
:mod:`diskette.dumping.prefetch` fetched per chunk.

For a model whose serialized fields are all Django's own, read through Django's
own descriptors, with nothing running when an instance is built
(:func:`row_plan`), objects are written from ``values_list`` rows (the backend's
converters applied, as for instances): each value goes through what
``value_to_string`` would do with it. Any other model is written from instances
by Django's own handlers. They are used privately by the dumper, only where the
project did not replace the format in ``SERIALIZATION_MODULES``; any other
format runs Django's serializer as it is.

The output is Django's byte for byte, except that datetimes and times keep their
microseconds (:mod:`diskette.dumping.encoder`), where Django's encoder cuts them to
milliseconds; ``loaddata`` reads both.
"""

from __future__ import annotations

from django.core import serializers
from django.core.serializers import json as django_json
from django.core.serializers import jsonl as django_jsonl
from django.db.models import Field
from django.utils.encoding import is_protected_type

from diskette.dumping.encoder import exact_encoder
from diskette.dumping.prefetch import M2M_ATTRIBUTE
from diskette.dumping.rows import ABSENT, NATURAL, VALUE, RowChunk, RowPlan, row_plan

__all__ = [
    "JSONLSerializer",
    "JSONSerializer",
    "RowChunk",
    "RowPlan",
    "get_serializer",
    "is_fast",
    "row_plan",
]


#: Objects encoded by one call when writing ``json`` without indent.
ENCODE_BATCH = 250


class _PrefetchedM2M:
    """Serialize auto-created M2M fields from the values the dumper fetched per chunk."""

    def handle_m2m_field(self, obj, field) -> None:
        fetched = obj.__dict__.get(M2M_ATTRIBUTE)
        if fetched is None or field.name not in fetched:
            super().handle_m2m_field(obj, field)
            return
        if self.use_natural_foreign_keys and hasattr(
            field.remote_field.model, "natural_key"
        ):
            values = [value.natural_key() for value in fetched[field.name]]
        else:
            value_from_field = self._value_from_field
            values = [
                value_from_field(value, value._meta.pk) for value in fetched[field.name]
            ]
        self._current[field.name] = values


class _FastLoop(_PrefetchedM2M):
    """Django's ``Serializer.serialize`` loop with the per-field decisions made once.

    For each model, the fields and the handler of each are chosen once, in the
    order and with the conditions of Django's loop; a plain field whose
    ``value_from_object`` Django does not override is read with ``getattr``,
    which is what that method does. Values, natural keys and layout stay those
    of Django's handlers. A ``fields`` selection runs Django's loop unchanged.
    """

    def serialize(
        self,
        queryset,
        *,
        stream=None,
        fields=None,
        use_natural_foreign_keys=False,
        use_natural_primary_keys=False,
        progress_output=None,
        object_count=0,
        **options,
    ):
        if fields is not None or progress_output is not None:
            return super().serialize(
                queryset,
                stream=stream,
                fields=fields,
                use_natural_foreign_keys=use_natural_foreign_keys,
                use_natural_primary_keys=use_natural_primary_keys,
                progress_output=progress_output,
                object_count=object_count,
                **options,
            )
        self.options = options
        self.stream = stream if stream is not None else self.stream_class()
        self.selected_fields = None
        self.use_natural_foreign_keys = use_natural_foreign_keys
        self.use_natural_primary_keys = use_natural_primary_keys
        self.start_serialization()
        self.first = True
        plans: dict = {}
        for obj in queryset:
            if type(obj) is RowChunk:
                self._write_rows(obj)
                continue
            model = obj._meta.concrete_model
            plan = plans.get(model)
            if plan is None:
                plan = plans[model] = self._plan(model)
            self._current = current = {}
            for name, attname, field, handler in plan:
                if handler is None:
                    value = getattr(obj, attname)
                    current[name] = (
                        value
                        if is_protected_type(value)
                        else field.value_to_string(obj)
                    )
                else:
                    handler(obj, field)
            self.end_object(obj)
            self.first = False
        self.end_serialization()
        return self.getvalue()

    def _plan(self, model) -> list[tuple]:
        """``(name, attname, field, handler)`` per serialized field, in Django's order.

        ``handler`` is None for a plain field read by ``getattr``.
        """
        meta = model._meta
        pk_parent = None
        if self.use_natural_primary_keys:
            pk = meta.pk
            pk_parent = pk if pk.remote_field and pk.remote_field.parent_link else None
        plan = []
        for field in meta.local_fields:
            if not (field.serialize or field is pk_parent):
                continue
            if (
                field.remote_field is not None
                and self.use_natural_foreign_keys
                and hasattr(field.remote_field.model, "natural_key")
            ):
                plan.append((field.name, field.attname, field, self.handle_fk_field))
            elif type(field).value_from_object is Field.value_from_object:
                # A plain field, or a foreign key written as its value: what
                # handle_field and handle_fk_field do through _value_from_field.
                plan.append((field.name, field.attname, field, None))
            elif field.remote_field is not None:
                plan.append((field.name, field.attname, field, self.handle_fk_field))
            else:
                plan.append((field.name, field.attname, field, self.handle_field))
        for field in meta.local_many_to_many:
            if field.serialize:
                plan.append((field.name, field.attname, field, self.handle_m2m_field))
        return plan

    def _write_rows(self, chunk: RowChunk) -> None:
        """Write a chunk of rows: what Django's loop writes for their instances."""
        plan = chunk.plan
        label = plan.label
        pk_index, pk_convert, pk_kept = plan.pk
        foreign = chunk.foreign
        many = chunk.many
        objects = []
        for row in chunk.rows:
            current = {}
            for name, index, convert, kept, kind in plan.fields:
                value = row[index]
                if kind is VALUE:
                    # ``kept``: the value types that ``convert`` returns unchanged.
                    current[name] = value if type(value) in kept else convert(value)
                elif kind is NATURAL:
                    if value is not None:
                        keys = foreign[name]
                        key = keys.get(value, ABSENT)
                        if key is ABSENT:
                            # Not found: fetch it as the descriptor would (or raise).
                            key = keys[value] = chunk.fetch_one(name, value)
                        value = key
                    current[name] = value
                else:
                    values = many[name].get(value, ())
                    current[name] = [
                        item if type(item) in kept else convert(item) for item in values
                    ]
            pk = row[pk_index]
            objects.append(
                {
                    "model": label,
                    "pk": pk if type(pk) in pk_kept else pk_convert(pk),
                    "fields": current,
                }
            )
        self._write_many(objects)

    def _write_many(self, objects: list) -> None:
        for data in objects:
            self._write(data)
            self.first = False

    def _dumps(self, data) -> str:
        """``json.dumps(data, **self.json_kwargs)``, with one encoder for the file.

        Django's encoder is replaced by :class:`diskette.dumping.encoder.ExactJSONEncoder`,
        which keeps the microseconds of datetimes and times.
        """
        encoder = self.__dict__.get("_encoder")
        if encoder is None:
            kwargs = dict(self.json_kwargs)
            cls = exact_encoder(kwargs.pop("cls", None))
            encoder = self._encoder = cls(**kwargs)
        return encoder.encode(data)


class JSONSerializer(_FastLoop, django_json.Serializer):
    """``json`` fixtures, byte for byte those of ``django.core.serializers.json``."""

    def end_object(self, obj) -> None:
        self._write(self.get_dump_object(obj))
        self._current = None

    def _write(self, data) -> None:
        indent = self.options.get("indent")
        write = self.stream.write
        if not self.first:
            write("," if indent else ", ")
        if indent:
            write("\n")
        write(self._dumps(data))

    def _write_many(self, objects: list) -> None:
        if self.options.get("indent") is not None or not objects:
            super()._write_many(objects)
            return
        # Without indent, a list's items are joined by ", ", as the objects are:
        # one encoder call per batch writes the same characters. A batch, not
        # the whole chunk: the encoder's output for a few hundred objects stays
        # in the processor's caches, which makes encoding a quarter faster.
        write = self.stream.write
        for start in range(0, len(objects), ENCODE_BATCH):
            if not self.first:
                write(", ")
            write(self._dumps(objects[start : start + ENCODE_BATCH])[1:-1])
            self.first = False


class JSONLSerializer(_FastLoop, django_jsonl.Serializer):
    """``jsonl`` fixtures, byte for byte those of ``django.core.serializers.jsonl``."""

    def end_object(self, obj) -> None:
        self._write(self.get_dump_object(obj))
        self._current = None

    def _write(self, data) -> None:
        write = self.stream.write
        write(self._dumps(data))
        write("\n")


#: Our serializer for each format whose registered one is Django's own.
_FAST = {
    "json": (django_json.Serializer, JSONSerializer),
    "jsonl": (django_jsonl.Serializer, JSONLSerializer),
}


def get_serializer(fmt: str) -> type:
    """The serializer class to write ``fmt`` with: ours when it is a drop-in.

    A project that registered its own serializer for the format (in
    ``SERIALIZATION_MODULES``) gets it, as ``dumpdata`` would.
    Raises ``SerializerDoesNotExist`` for an unknown format.
    """
    registered = serializers.get_serializer(fmt)
    django_class, fast_class = _FAST.get(fmt, (None, None))
    if registered is django_class:
        return fast_class
    return registered


def is_fast(serializer_class: type) -> bool:
    """Whether ``serializer_class`` reads M2M values from :data:`M2M_ATTRIBUTE`."""
    return issubclass(serializer_class, _PrefetchedM2M)
