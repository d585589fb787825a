"""Every role against every endpoint (issue 3): the role column of API.md, checked on the server.

An allowed role may still get 400/404/409/422 (the bodies here are empty); what it must never get
is 401 or 403. A role not allowed gets 403; no credentials get 401 — except the public endpoints.
A new endpoint without a row here fails `test_every_endpoint_has_a_row`.
"""

import pytest
from django.urls import URLPattern
from rest_framework.test import APIClient

from admissions.models import Offer
from admissions.services.review_requests import review_request_create
from admissions.services.webhooks import webhook_subscribe
from api.urls import v1
from assessments.models import Assessment
from facilities.models import Bed
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, UserFactory, actor, add_beds, queued_application

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _webhook_hosts(settings):
    """R-SEC-5: webhooks go only to listed hosts; the local test receivers are listed explicitly."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]


ROLES = ("intake", "assessor", "reviewer", "facility", "admin")
STAFF = set(ROLES)
PUBLIC = "public"

# (method, route of api/urls.py, roles allowed) — API.md's tables; admin is always allowed.
MATRIX = [
    ("get", "facilities/", STAFF),
    ("get", "reports/watchdog/", {"reviewer", "admin"}),
    ("post", "facilities/", {"admin"}),
    ("get", "facilities/<str:code>/", STAFF),
    ("patch", "facilities/<str:code>/", {"admin"}),
    ("get", "facilities/<str:code>/beds/", {"facility", "admin"}),
    ("post", "facilities/<str:code>/beds/", {"facility", "admin"}),
    ("post", "facilities/<str:code>/beds/batch/", {"facility", "admin"}),
    ("post", "facilities/<str:code>/allocate/", {"facility", "admin"}),
    ("get", "facilities/<str:code>/queue/", {"reviewer", "facility", "admin"}),
    ("get", "facilities/<str:code>/decisions/", {"reviewer", "facility", "admin"}),
    ("post", "beds/<int:id>/discharge/", {"facility", "admin"}),
    ("post", "beds/<int:id>/out-of-service/", {"facility", "admin"}),
    ("post", "beds/<int:id>/return-to-service/", {"facility", "admin"}),
    ("get", "applications/", STAFF),
    ("post", "applications/", {"intake", "admin"}),
    ("get", "applications/<str:reference>/", STAFF),
    ("patch", "applications/<str:reference>/", {"intake", "reviewer", "admin"}),  # reviewer in review (R-CHG-1)
    ("post", "applications/<str:reference>/submit/", {"intake", "admin"}),
    ("post", "applications/<str:reference>/accept-for-assessment/", {"intake", "admin"}),
    ("post", "applications/<str:reference>/reject/", {"intake", "reviewer", "admin"}),
    ("post", "applications/<str:reference>/approve/", {"reviewer", "admin"}),
    ("post", "applications/<str:reference>/return-for-assessment/", {"reviewer", "admin"}),
    ("post", "applications/<str:reference>/suspend/", {"intake", "reviewer", "admin"}),
    ("post", "applications/<str:reference>/resume/", {"intake", "reviewer", "admin"}),
    ("post", "applications/<str:reference>/reconfirm/", {"intake", "admin"}),  # R-CHG-3
    ("post", "applications/<str:reference>/withdraw/", {"intake", "reviewer", "admin"}),
    ("post", "applications/<str:reference>/remove/", {"reviewer", "admin"}),
    ("post", "applications/<str:reference>/lookup-code/", {"intake", "admin"}),
    ("get", "applications/<str:reference>/events/", STAFF),
    ("get", "applications/<str:reference>/access-log/", {"admin"}),  # R-PRIV-1
    ("get", "applicants/<str:reference>/export/", {"intake", "admin"}),  # R-PRIV-4
    ("get", "applications/<str:reference>/positions/", STAFF),
    ("post", "applications/<str:reference>/categories/<str:code>/evidence/", {"intake", "admin"}),
    # R-CHG-2: changes after approval.
    ("post", "applications/<str:reference>/contact/", {"intake", "admin"}),
    ("post", "applications/<str:reference>/personal-details/", {"reviewer", "admin"}),
    ("post", "applications/<str:reference>/districts/", {"intake", "admin"}),
    ("post", "applications/<str:reference>/family-situation/", {"intake", "admin"}),
    ("post", "applications/<str:reference>/categories/", {"intake", "admin"}),
    ("post", "applications/<str:reference>/categories/<str:code>/verify/", {"reviewer", "admin"}),
    ("post", "applications/<str:reference>/categories/<str:code>/end/", {"reviewer", "admin"}),
    ("post", "applications/<str:reference>/choices/", {"reviewer", "admin"}),
    ("get", "assessment-instrument/", STAFF),
    ("get", "applications/<str:reference>/assessments/", STAFF),
    ("post", "applications/<str:reference>/assessments/", {"assessor", "admin"}),
    ("get", "assessments/<str:id>/", STAFF),
    ("patch", "assessments/<str:id>/", {"assessor", "admin"}),
    ("post", "assessments/<str:id>/complete/", {"assessor", "admin"}),
    ("post", "assessments/<str:id>/approve/", {"reviewer", "admin"}),
    ("post", "assessments/<str:id>/reject/", {"reviewer", "admin"}),
    ("post", "applications/<str:reference>/review-requests/", {"intake", "admin"}),  # R-ASM-6
    ("post", "review-requests/<str:id>/assign/", {"reviewer", "admin"}),
    ("post", "review-requests/<str:id>/decide/", {"reviewer", "admin"}),
    ("get", "offers/", STAFF),
    ("get", "offers/<int:id>/", STAFF),
    ("post", "offers/<int:id>/accept/", {"facility", "intake", "admin"}),
    ("post", "offers/<int:id>/decline/", {"facility", "intake", "admin"}),
    ("post", "offers/<int:id>/admit/", {"facility", "admin"}),
    ("post", "offers/<int:id>/fail-check/", {"facility", "admin"}),
    ("post", "offers/<int:id>/extend-admission/", {"facility", "admin"}),  # R-OFF-7
    ("post", "couples/", {"intake", "admin"}),  # R-CPL-1
    ("delete", "couples/<int:id>/", {"intake", "admin"}),
    ("get", "policy/", STAFF),
    ("post", "policy/", {"admin"}),
    ("get", "calendar/", {"admin"}),
    ("post", "calendar/", {"admin"}),
    ("get", "events/", {"admin"}),
    ("get", "webhooks/", {"admin"}),
    ("post", "webhooks/", {"admin"}),
    ("get", "webhooks/<int:id>/", {"admin"}),
    ("delete", "webhooks/<int:id>/", {"admin"}),
    ("get", "webhooks/<int:id>/deliveries/", {"admin"}),
    ("post", "public/lookup/", PUBLIC),
    ("post", "public/reconfirm/", PUBLIC),  # R-CHG-3
    ("get", "public/facilities/", PUBLIC),
    ("get", "public/facilities/<str:code>/board/", PUBLIC),
    ("get", "public/facilities/<str:code>/decisions/", PUBLIC),  # R-VER-2
    ("get", "public/checkpoints/", PUBLIC),  # R-VER-3
    ("get", "public/checkpoints/keys/", PUBLIC),
]


@pytest.fixture
def world():
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=5)
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(choices=["YX01"], categories=[{"code": "dibao", "evidence": "证明"}])
    offer = Offer.objects.get(application=application)
    subscription = webhook_subscribe(
        url="http://127.0.0.1:9/hook", events=["offer.made"], secret="s" * 20, actor=actor("admin")
    )
    users = {}
    for role in ROLES:
        user = UserFactory(username=f"matrix-{role}")
        roles_assign(user=user, roles=[role], facility=home if role == "facility" else None)
        users[role] = user
    values = {
        "code": "YX01",
        "id": None,
        "reference": application.reference,
    }
    ids = {
        "beds": Bed.objects.filter(facility=home, status="occupied").first().pk,
        "assessments": Assessment.objects.filter(application=application).first().pk,
        "offers": offer.pk,
        "webhooks": subscription.pk,
        "review-requests": review_request_create(
            application=application, reason="The family disagrees", actor=actor("intake")
        ).pk,
        "couples": 999_999,  # none: the roles' answers (403 or 404) are what is checked
    }
    return users, values, ids


def _url(route: str, values: dict, ids: dict) -> str:
    path = route
    for kind, pk in ids.items():
        path = path.replace(f"{kind}/<int:id>/", f"{kind}/{pk}/").replace(f"{kind}/<str:id>/", f"{kind}/{pk}/")
    path = path.replace("<str:code>/evidence", "dibao/evidence")
    path = path.replace("<str:code>", values["code"]).replace("<str:reference>", values["reference"])
    return "/api/v1/" + path


def test_every_endpoint_has_a_row():
    routes = set()
    for pattern in v1:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.cls
        for method in ("get", "post", "patch", "put", "delete"):
            if hasattr(view, method):
                routes.add((method, str(pattern.pattern)))
    assert routes == {(method, route) for method, route, _ in MATRIX}


@pytest.mark.parametrize(("method", "route", "allowed"), MATRIX, ids=[f"{m} {r}" for m, r, _ in MATRIX])
def test_each_role_is_admitted_or_refused_as_api_md_says(world, method, route, allowed):
    users, values, ids = world
    url = _url(route, values, ids)
    anonymous = getattr(APIClient(), method)(url, {}, format="json")
    if allowed == PUBLIC:
        assert anonymous.status_code not in (401, 403), anonymous.content
        return
    assert anonymous.status_code == 401, (url, anonymous.status_code)
    assert anonymous["Content-Type"].startswith("application/problem+json")
    for role in ROLES:
        client = APIClient()
        client.force_authenticate(users[role])
        response = getattr(client, method)(url, {}, format="json")
        if role in allowed:
            assert response.status_code not in (401, 403), (role, url, response.status_code, response.content)
            assert response.status_code < 500
        else:
            assert response.status_code == 403, (role, url, response.status_code)
            assert response["Content-Type"].startswith("application/problem+json")
