"""The API's personal-data endpoints (API.md): the export of one person (R-PRIV-4) and the access
log of full ID numbers (R-PRIV-1)."""

import pytest
from rest_framework.test import APIClient

from admissions.models import IdAccess
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, UserFactory, add_beds, queued_application

pytestmark = pytest.mark.django_db


def api_as(role: str, **kwargs) -> APIClient:
    user = UserFactory(username=f"api-{role}")
    roles_assign(user=user, roles=[role], **kwargs)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def application():
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=2)
    add_beds(home, nursing=1, status="vacant")
    return queued_application(choices=["YX01"])


def test_an_intake_officer_exports_the_person_of_an_application(application):
    """R-PRIV-4: GET /applicants/{reference}/export/, uncached, and recorded as a display (R-PRIV-1)."""
    response = api_as("intake").get(f"/api/v1/applicants/{application.reference}/export/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    data = response.json()
    assert data["applicant"]["id_number"] == application.applicant.id_number
    (record,) = data["applications"]
    assert {"events", "assessments", "offers", "notifications", "queue_entries"} <= set(record)
    assert record["offers"][0]["state"] == "pending"
    assert IdAccess.objects.get().where == "api:applicant-export"


def test_an_administrator_reads_the_access_log_of_an_application_newest_first(application):
    """R-PRIV-1: GET /applications/{reference}/access-log/."""
    api_as("reviewer").get(f"/api/v1/applications/{application.reference}/")
    api_as("intake").get(f"/api/v1/applicants/{application.reference}/export/")
    response = api_as("admin").get(f"/api/v1/applications/{application.reference}/access-log/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["who"], r["where"], r["application"]) for r in rows] == [
        ("api-intake", "api:applicant-export", application.reference),
        ("api-reviewer", "api:application-detail", application.reference),
    ]
    assert IdAccess.objects.count() == 2  # reading the log shows no number, so adds nothing
