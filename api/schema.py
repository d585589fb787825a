"""OpenAPI additions made once for every operation, so the document says what the API answers:
the problem+json error responses (RFC 9457) that any operation may give."""

from __future__ import annotations

PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "current_state": {"type": "string"},
        "available_transitions": {"type": "array", "items": {"type": "string"}},
        "barred_until": {"type": "string", "format": "date"},
    },
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,
}
DESCRIPTIONS = {
    "400": "The request is wrong: not JSON, a missing or mistyped field, a bad format.",
    "401": "No or bad credentials.",
    "403": "The role, the object or the four-eyes rule forbids it.",
    "404": "Not found.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Wrong state, a concurrent change, or a duplicate.",
    "413": "The body is too large.",
    "414": "The URL is too long.",
    "415": "Unsupported media type.",
    "422": "Well-formed, but breaks a rule that depends on other data.",
    "429": "Rate limited; see Retry-After.",
    "500": "Internal error (the handler of last resort).",
}
PUBLIC_CODES = ("400", "404", "405", "406", "413", "414", "415", "422", "429", "500")


def add_problem_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            anonymous = operation.get("security") == [{}] or {} in operation.get("security", [])
            codes = PUBLIC_CODES if anonymous else tuple(DESCRIPTIONS)
            for code in codes:
                content = {"application/problem+json": {"schema": ref}}
                if code == "414":  # said by the HTTP server (gunicorn) before Django sees the request
                    content["text/html"] = {"schema": {"type": "string"}}
                responses.setdefault(code, {"description": DESCRIPTIONS[code], "content": content})
    return result
