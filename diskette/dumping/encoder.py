"""The JSON encoder of ``json`` and ``jsonl`` fixtures: Django's, keeping microseconds.

Django's ``DjangoJSONEncoder`` follows ECMA-262 and cuts datetimes and times to
milliseconds (``12:30:58.604096`` becomes ``12:30:58.604``), so a value dumped
with ``dumpdata`` does not come back as it was. This encoder writes all six
digits of such a value, which Django's deserializer (``loaddata``) parses as
they are. A value that Django writes exactly (whole milliseconds) and every
other value is written by Django's encoder, byte for byte: a fixture differs
from ``dumpdata``'s only where ``dumpdata``'s would lose data.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from uuid import UUID

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.timezone import is_aware

#: Exact types that Django's encoder writes as ``str(value)``: answered first.
_AS_TEXT = frozenset({Decimal, UUID})


class ExactJSONEncoder(DjangoJSONEncoder):
    """``DjangoJSONEncoder``, with six digits where it would cut microseconds off."""

    def default(self, o):
        if type(o) in _AS_TEXT:
            return str(o)
        if isinstance(o, datetime.datetime):
            text = o.isoformat()
            if o.microsecond and not o.microsecond % 1000:
                text = text[:23] + text[26:]  # whole milliseconds: Django's digits
            if text.endswith("+00:00"):
                text = text[:-6] + "Z"
            return text
        if isinstance(o, datetime.time) and o.microsecond % 1000:
            if is_aware(o):
                raise ValueError("JSON can't represent timezone-aware times.")
            return o.isoformat()
        return super().default(o)


def exact_encoder(cls: type | None) -> type:
    """The encoder class to write with when a serializer asks for ``cls``.

    Django's own encoder (the serializers' default) becomes :class:`ExactJSONEncoder`;
    any other is kept, and none is ``json``'s own.
    """
    if cls is DjangoJSONEncoder:
        return ExactJSONEncoder
    return cls or json.JSONEncoder
