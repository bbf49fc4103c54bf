"""``xml`` and ``yaml`` fixtures on the fast path: natural keys through the cache.

Django's xml deserializer looks natural keys up itself, in the database: rows a
batched load has not inserted yet are not there, and the objects naming them were
built with empty foreign keys. :class:`CachedXmlDeserializer` is Django's reader
(same parser, same streaming, same values) whose natural key lookups go through
the load's :class:`~diskette.loading.natural_keys.NaturalKeyCache`, which writes the
pending rows a lookup needs first, exactly as for ``json``. A ``yaml`` file is read
whole by PyYAML, as Django reads it (:func:`diskette.readers.load_yaml`); its objects are then
built as ``json`` ones are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO

from django.core.serializers.xml_serializer import Deserializer as XmlDeserializer
from django.core.serializers.xml_serializer import getInnerText

from diskette.readers import load_yaml  # noqa: F401 - its former home

if TYPE_CHECKING:
    from diskette.loading.natural_keys import NaturalKeyCache


def _has_natural_keys(model) -> bool:
    return hasattr(model._default_manager, "get_by_natural_key")


class CachedXmlDeserializer(XmlDeserializer):
    """Django's xml deserializer, natural keys resolved by ``cache``."""

    def __init__(self, stream: BinaryIO, *, cache: NaturalKeyCache, **options: Any):
        super().__init__(stream, **options)
        self.cache = cache

    def _handle_object(self, node):
        if not node.hasAttribute("pk") and self.cache.before_lookup is not None:
            # A natural primary key: build_instance looks it up in the table.
            self.cache.before_lookup(self._get_model_from_node(node, "model"))
        return super()._handle_object(node)

    def _handle_fk_field_node(self, node, field):
        if node.getElementsByTagName("None"):
            return None
        keys = node.getElementsByTagName("natural")
        if not keys or not _has_natural_keys(field.remote_field.model):
            return super()._handle_fk_field_node(node, field)
        value = [getInnerText(key).strip() for key in keys]
        return self.cache.fk_value(field, value, defer=self.handle_forward_references)

    def _handle_m2m_field_node(self, node, field):
        if not _has_natural_keys(field.remote_field.model):
            return super()._handle_m2m_field_node(node, field)
        values = []
        for child in node.getElementsByTagName("object"):
            keys = child.getElementsByTagName("natural")
            values.append(
                [getInnerText(key).strip() for key in keys]
                if keys
                else child.getAttribute("pk")
            )
        return self.cache.m2m_values(
            field, values, defer=self.handle_forward_references
        )
