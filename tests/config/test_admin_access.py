"""R-SEC-6: the Django admin is for administrators only."""

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from facilities.models import Role
from facilities.roles import roles_assign
from tests.factories import FacilityFactory

pytestmark = pytest.mark.django_db

PAGES = ["/en/admin/", "/en/admin/facilities/bed/", "/en/admin/admissions/application/"]


def client_for(username: str, roles: list[str], **flags) -> Client:
    user = User.objects.create_user(username, is_staff=True, **flags)
    facility = FacilityFactory() if Role.FACILITY in roles else None
    roles_assign(user=user, roles=roles, facility=facility)
    user.user_permissions.add(*Permission.objects.all())
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", [Role.INTAKE, Role.ASSESSOR, Role.REVIEWER, Role.FACILITY])
def test_staff_who_are_not_administrators_are_kept_out_of_the_admin(role):
    # Even marked is_staff and holding every model permission, as the demo users are.
    client = client_for(f"{role}-officer", [role])
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], page


def test_an_administrator_uses_the_admin():
    client = client_for("administrator", [Role.ADMIN])
    for page in PAGES:
        assert client.get(page).status_code == 200, page


def test_a_superuser_is_an_administrator():
    client = client_for("root", [], is_superuser=True)
    assert client.get("/en/admin/").status_code == 200


def test_the_favicon_is_served_from_our_own_static_files(client):
    """Browsers ask for /favicon.ico; it is answered from the product's static files, never a 404
    and never an outside address (issue 15: the intranet has no internet)."""
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301
    assert answer["Location"] == "/static/img/favicon.ico"
