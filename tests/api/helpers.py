"""What every API test module needs: a client for a role, and the check of a problem answer."""

from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from facilities.models import Facility
from facilities.roles import roles_assign

PROBLEM = "application/problem+json"


def client_as(*roles: str, facility: Facility | None = None, username: str | None = None) -> APIClient:
    """An authenticated client for a new user with these roles (a facility officer bound to `facility`)."""
    user = User.objects.create_user(username or f"{'-'.join(roles) or 'none'}-{User.objects.count()}")
    roles_assign(user=user, roles=list(roles), facility=facility)
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


def assert_problem(response, status: int, *fields: str) -> dict:
    """An RFC 9457 problem with this status, naming each of `fields` in its errors."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and "detail" in body
    for field in fields:
        assert field in body.get("errors", {}), body
    return body


def url(path: str) -> str:
    return f"/api/v1/{path}"
