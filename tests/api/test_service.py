"""Service endpoints and the API's edges: health, the OpenAPI document and its offline docs page,
size limits (413), unknown paths and methods, the handler of last resort (SPEC §10, API.md)."""

import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from facilities.roles import roles_assign
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    user = UserFactory(username="svc-admin")
    roles_assign(user=user, roles=["admin"])
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_healthz_answers_without_credentials():
    response = APIClient().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_the_database():
    response = APIClient().get("/readyz")
    assert response.status_code == 200 and response.json()["checks"]["database"] == "ok"


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_readyz_is_503_when_the_configured_broker_is_unreachable():
    response = APIClient().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")


def test_the_openapi_document_is_served_without_credentials_as_json():
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.") and "/api/v1/applications/" in document["paths"]
    assert "Problem" in document["components"]["schemas"]


def test_the_docs_page_loads_nothing_from_outside_the_server():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "https://" not in page and "http://cdn" not in page


def test_a_json_body_over_one_mebibyte_is_refused_with_413(admin_client):
    response = admin_client.post(
        "/api/v1/facilities/", data="{" + " " * (1024 * 1024 + 1) + "}", content_type="application/json"
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/problem+json")


def test_an_upload_under_ten_mebibytes_passes_the_size_gate_and_one_over_does_not(admin_client):
    boundary = "x" * 10
    big = f"--{boundary}\r\nContent-Disposition: form-data; name=file; filename=a.pdf\r\n\r\n".encode()
    big += b"%PDF" + b"0" * (10 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    response = admin_client.generic(
        "POST",
        "/api/v1/applications/2026-000001/categories/dibao/evidence/",
        big,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 413


def test_unknown_paths_and_methods_answer_problems_not_pages(admin_client):
    missing = admin_client.get("/api/v1/no-such-thing/")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("application/problem+json")
    wrong_method = admin_client.put("/api/v1/facilities/", {}, format="json")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status"] == 405


@pytest.mark.parametrize("body", ["[]", "null", '"x"', "12", "{", "\x00", '{"code": ' + "9" * 5000 + "}"])
def test_a_body_that_is_not_an_object_is_400_never_500(admin_client, body):
    response = admin_client.post("/api/v1/facilities/", data=body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")


def test_the_handler_of_last_resort_answers_a_problem(admin_client, monkeypatch):
    from api.views import facilities as views

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.FacilityListView, "get", explode)
    response = admin_client.get("/api/v1/facilities/")
    assert response.status_code == 500
    assert response.json()["title"] and "boom" not in response.content.decode()


def test_problems_follow_the_callers_language(admin_client):
    response = admin_client.post(
        "/api/v1/facilities/", data="[]", content_type="application/json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.json()["title"] == "输入有误"
    english = admin_client.post(
        "/api/v1/facilities/", data="[]", content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert english.json()["title"] == "Invalid input"


@pytest.mark.parametrize("value", ["¹", "١٢", "１", "[-263]"])
def test_a_page_size_that_only_looks_like_a_number_is_400(admin_client, value):
    """Found by schemathesis: str.isdigit() accepts "¹", which int() refuses."""
    response = admin_client.get("/api/v1/events/", {"page_size": value})
    assert response.status_code == 400
    assert admin_client.get("/api/v1/applications/", {"page": value}).status_code == 400
