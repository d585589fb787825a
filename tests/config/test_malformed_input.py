"""R-SEC-1: any input, however malformed, gets a 4xx answer, never a 500.

The operations come from the OpenAPI document and the pages from the URL resolver, so an endpoint
added tomorrow is checked without anyone listing it here. Each malformed input is refused with a
400 that names where it was found (config/malformed_input.py), before any view, form or query.
"""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from admissions.models import Offer
from admissions.services.review_requests import review_request_create
from assessments.models import Assessment
from facilities.models import Bed
from tests.factories import FacilityFactory, actor, add_beds, queued_application

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in SCHEMA["paths"].items()
    for method, operation in item.items()
    if method in HTTP_METHODS
]
JSON_BODY_OPERATIONS = [
    (method, path, operation)
    for method, path, operation in OPERATIONS
    if "application/json" in operation.get("requestBody", {}).get("content", {})
]
PARAMETER = re.compile(r"\{([^}]+)\}")


def each(operations):
    return [pytest.param(method, path, operation, id=f"{method} {path}") for method, path, operation in operations]


def body_properties(operation) -> list[str]:
    """The top-level properties of an operation's JSON request body, from the OpenAPI document."""
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    while "$ref" in schema:
        schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("properties", {})) or ["value"]


@pytest.fixture
def world():
    """Real objects for every path parameter, so a request reaches the view's parsing on today's
    main rather than stopping at a 404."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=2, status="vacant")
    application = queued_application(
        choices=["YX01"], categories=[{"code": "dibao", "evidence": "低保证 穗民低字第1号"}], verify=("dibao",)
    )
    offer = Offer.objects.first()
    values = {
        ("applications", "reference"): application.reference,
        ("applicants", "reference"): application.reference,
        ("facilities", "code"): home.code,
        ("categories", "code"): "dibao",
        ("assessments", "id"): Assessment.objects.get(application=application).pk,
        ("beds", "id"): Bed.objects.filter(facility=home).first().pk,
        ("offers", "id"): offer.pk if offer else 1,
        ("webhooks", "id"): 1,
        ("review-requests", "id"): review_request_create(
            application=application, reason="The family disagrees", actor=actor("intake")
        ).pk,
        ("couples", "id"): 1,  # R-CPL-1: none; the query is refused before the couple is looked for
    }
    return values


def fill(path: str, values: dict, override: str | None = None) -> str:
    """The operation's path with each parameter given a real value (or `override`)."""
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if match := PARAMETER.fullmatch(segment):
            segments[index] = override if override is not None else str(values[(segments[index - 1], match[1])])
    return "/".join(segments)


@pytest.fixture
def client():
    return Client(headers={"Accept-Language": "en"})


@pytest.fixture
def admin_client():
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(User.objects.create(username="root", is_superuser=True, is_staff=True))
    return client


def call(client, method: str, path: str, body: str | None = None):
    kwargs = {"content_type": "application/json", "data": body} if body is not None else {}
    return client.generic(method, path, **kwargs)


def assert_refused(response, where: set[str] | str, words: str):
    """400 problem+json naming where the input was and why (never a 500)."""
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    fields = {where} if isinstance(where, str) else where
    assert set(body["errors"]) & fields, body
    assert words in body["detail"], body


# --- NUL characters (U+0000): PostgreSQL text cannot hold them --------------------------------------


@pytest.mark.parametrize(("method", "path", "operation"), each(op for op in OPERATIONS if PARAMETER.search(op[1])))
def test_a_nul_byte_in_a_path_segment_is_refused(admin_client, method, path, operation):
    response = call(admin_client, method, fill(path, {}, override="%00"))
    assert_refused(response, "path", "NUL")


@pytest.mark.parametrize(("method", "path", "operation"), each(OPERATIONS))
def test_a_nul_byte_in_a_query_parameter_is_refused(admin_client, world, method, path, operation):
    response = call(admin_client, method, fill(path, world) + "?status=%00")
    assert_refused(response, "status", "NUL")


def test_a_nul_byte_in_a_header_or_cookie_is_refused(client):
    response = client.get("/api/v1/public/facilities/", HTTP_X_REQUEST_NOTE="a\x00b")
    assert_refused(response, "X-Request-Note", "NUL")
    client.cookies["sessionid"] = "a\x00b"
    response = client.get("/api/v1/public/facilities/")
    assert_refused(response, "Cookie", "NUL")


def test_a_nul_byte_in_a_form_field_is_refused(admin_client):
    response = admin_client.post(
        "/en/staff/applications/", "name=a%00b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert b"NUL" in response.content


# --- JSON nested 1,000 deep: the recursion limit ---------------------------------------------------


@pytest.mark.parametrize(("method", "path", "operation"), each(JSON_BODY_OPERATIONS))
def test_a_json_body_with_a_nul_byte_a_lone_surrogate_or_nested_a_thousand_deep_is_refused(
    admin_client, world, method, path, operation
):
    """On today's main: a NUL failed in PostgreSQL, a lone surrogate echoed in an error message broke
    the renderer, and the deep body raised RecursionError: 500s, on every one of these operations."""
    path = fill(path, world)
    properties = body_properties(operation)
    body = json.dumps({name: "a\u0000b" for name in properties})
    assert_refused(call(admin_client, method, path, body), set(properties), "NUL")
    body = "{" + ", ".join(f'"{name}": "\\ud800"' for name in properties) + "}"
    assert_refused(call(admin_client, method, path, body), set(properties), "surrogate")
    for nested in ("[" * 1000 + "]" * 1000, '{"a":' * 1000 + "1" + "}" * 1000):
        body = f'{{"{properties[0]}": {nested}}}'
        assert_refused(call(admin_client, method, path, body), properties[0], "levels deep")
    assert_refused(call(admin_client, method, path, "[" * 1000 + "]" * 1000), "body", "levels deep")


def test_a_body_in_another_character_set_is_checked_in_it(client):
    nested = ('{"reference": ' + "[" * 1000 + "]" * 1000 + "}").encode("utf-16")
    response = client.generic("POST", "/api/v1/public/lookup/", nested, "application/json; charset=utf-16")
    assert_refused(response, "reference", "levels deep")
    response = client.generic("POST", "/api/v1/public/lookup/", b"{}", "application/json; charset=no-such-set")
    assert_refused(response, "body", "character set")
    response = client.post("/api/v1/public/lookup/", b'{"a": "\xff"}', content_type="application/json")
    assert_refused(response, "body", "character set")


def test_json_nested_just_within_the_limit_is_not_refused_for_its_depth(client):
    # 32 levels (the body object is the first): the lookup answers about its fields, not the depth.
    body = '{"reference": ' + "[" * 31 + "]" * 31 + ', "code": "ABCDEF"}'
    response = client.post("/api/v1/public/lookup/", body, content_type="application/json")
    assert response.status_code == 400
    assert "levels deep" not in response.json()["detail"]
    body = '{"reference": ' + "[" * 32 + "]" * 32 + ', "code": "ABCDEF"}'
    response = client.post("/api/v1/public/lookup/", body, content_type="application/json")
    assert_refused(response, "reference", "32 levels deep")


# --- Lone surrogates: not Unicode text, so not UTF-8 either ------------------------------------------


def test_a_lone_surrogate_in_a_nested_field_is_named_with_its_path(admin_client):
    body = '{"applicant": {"name": "ok", "sex": "\\udfff"}}'
    response = admin_client.post("/api/v1/applications/", body, content_type="application/json")
    assert_refused(response, "applicant.sex", "surrogate")


def test_the_refusal_is_in_the_callers_language(client):
    response = client.get("/api/v1/public/facilities/?q=%00", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"] and "请求" in response.json()["detail"]
    response = client.get("/homes/%00/")  # pages: Chinese by default, an HTML page
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
    assert "请求" in response.content.decode()
    response = client.get("/en/homes/%00/")
    assert response.status_code == 400 and "NUL" in response.content.decode()


# --- Pages, and any method on any URL ------------------------------------------------------------------


def routes(patterns=None, prefix=""):
    """Every route of the site (pages, staff, admin, API) from the URL resolver, as a path with each
    parameter marked `{}`; regular-expression routes (the admin's catch-alls) are left out."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        text = str(pattern.pattern)
        if text.startswith("^") or "(?P" in text:
            continue
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + text)
        elif isinstance(pattern, URLPattern):
            yield "/" + re.sub(r"<[^>]+>", "{}", prefix + text)


ROUTES = sorted(set(routes()))
PARAMETER_ROUTES = [route for route in ROUTES if "{}" in route]


@pytest.mark.parametrize("route", PARAMETER_ROUTES)
def test_a_nul_byte_in_any_routes_parameter_is_refused(admin_client, route):
    response = admin_client.get(route.replace("{}", "%00"))
    assert response.status_code == 400, (route, response.status_code)


@pytest.mark.parametrize("route", [route for route in ROUTES if "{}" not in route])
def test_a_nul_byte_in_any_pages_filter_is_refused(admin_client, route):
    # The Django admin's list filters included: /admin/admissions/application/?status=%00
    response = admin_client.get(route + "?status=%00&q=%00&page=%00")
    assert response.status_code == 400, (route, response.status_code)


@pytest.mark.parametrize("route", ROUTES)
def test_any_method_on_any_url_is_never_a_500(route):
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create(username="root", is_superuser=True, is_staff=True))
    path = route.replace("{}", "1")
    for method in ("GET", "POST", "PUT", "DELETE", "OPTIONS", "PROPFIND"):
        response = client.generic(method, path)
        assert response.status_code < 500, (method, path, response.status_code)


def test_options_on_the_api_docs_is_not_a_500(client):
    assert client.options("/api/docs/").status_code < 500


# --- On PostgreSQL, where a NUL reached the database and failed there --------------------------------


needs_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite stores a NUL")


@pytest.mark.postgres
@needs_postgresql
@pytest.mark.parametrize("route", ROUTES)
def test_on_postgresql_no_nul_byte_in_a_url_reaches_the_database(admin_client, route):
    path = route.replace("{}", "%00") if "{}" in route else route + "?status=%00&q=%00"
    response = admin_client.get(path)
    assert response.status_code == 400, (path, response.status_code)


@pytest.mark.postgres
@needs_postgresql
@pytest.mark.parametrize(("method", "path", "operation"), each(JSON_BODY_OPERATIONS))
def test_on_postgresql_no_nul_byte_in_a_json_body_reaches_the_database(admin_client, world, method, path, operation):
    properties = body_properties(operation)
    body = json.dumps({name: "a\u0000b" for name in properties})
    assert_refused(call(admin_client, method, fill(path, world), body), set(properties), "NUL")
