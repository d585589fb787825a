"""The schema class of every API view (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS). Apart from api/schema.py,
which config/settings.py imports while Django's settings are still loading: drf-spectacular's
AutoSchema reads DRF's settings on import, and would read them half-made."""

from __future__ import annotations

from drf_spectacular import openapi


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, but a DELETE whose view says it takes a body (`delete_takes_body = True`, e.g.
    unlinking a couple takes `{reason}`, API.md) has that body in the document: drf-spectacular
    documents a body only for PUT, PATCH and POST, so the document said nothing of a reason the API
    refuses to go without, and generated requests never sent one (issue 16)."""

    def _map_basic_serializer(self, serializer, direction):
        """A request serializer's `openapi_request_rule` (a JSON Schema fragment, e.g. an `anyOf` of
        required fields) is added to its component: a rule across fields that no single field's schema
        can say, so that the document does not call valid a body the API refuses (issue 16)."""
        schema = super()._map_basic_serializer(serializer, direction)
        rule = getattr(serializer, "openapi_request_rule", None)
        if rule and direction == "request":
            schema.update(rule)
        return schema

    def _get_request_for_media_type(self, serializer, direction="request"):
        """A body with an `openapi_request_rule` is required even when no single field is: the rule
        needs something of it, and the API refuses a request without a body."""
        schema, required = super()._get_request_for_media_type(serializer, direction)
        return schema, required or bool(getattr(serializer, "openapi_request_rule", None))

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE" or not getattr(self.view, "delete_takes_body", False):
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"
