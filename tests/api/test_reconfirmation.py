"""R-CHG-3 through the API (API.md): `POST /applications/{reference}/reconfirm/` (intake),
`POST /public/reconfirm/` (the family, rate limited like the lookup), `reconfirm_due` on the
application."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache

from admissions.models import Application, Reconfirmation
from admissions.services import applications as app_services
from admissions.services.reconfirmation import reconfirmation_ask_due
from tests import spec
from tests.api.helpers import assert_problem, client_as, url
from tests.factories import FacilityFactory, actor, intake, queued_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
QUEUED = dt.datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI)
ASKED = QUEUED + dt.timedelta(days=spec.RECONFIRM_INTERVAL_DAYS, minutes=1)
GRACE_ENDS = ASKED + dt.timedelta(days=spec.RECONFIRM_GRACE_DAYS)


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.RECONFIRMATION_IN_FORCE_FROM = "2025-06-01"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def asked() -> Application:
    """Waiting since QUEUED, asked at ASKED (the sweep)."""
    with time_machine.travel(QUEUED, tick=False):
        FacilityFactory(code="YX01")
        application = queued_application(choices=["YX01"])
    with time_machine.travel(ASKED, tick=False):
        assert reconfirmation_ask_due()["asked"] == 1
    application.refresh_from_db()
    return application


def test_the_application_shows_when_the_next_ask_is_due_and_then_the_day_to_confirm_by(asked):
    """R-CHG-3, API.md `reconfirm_due`: while asked, the day the grace runs out."""
    with time_machine.travel(ASKED + dt.timedelta(days=1), tick=False):
        body = client_as("reviewer").get(url(f"applications/{asked.reference}/")).json()
    assert body["reconfirm_due"] == GRACE_ENDS.date().isoformat()


def test_a_waiting_application_not_yet_asked_shows_the_day_of_its_first_ask():
    """R-CHG-3: queued_at + reconfirm_interval_days."""
    with time_machine.travel(QUEUED, tick=False):
        FacilityFactory(code="YX01")
        application = queued_application(choices=["YX01"])
        body = client_as("intake").get(url(f"applications/{application.reference}/")).json()
    assert body["reconfirm_due"] == (QUEUED + dt.timedelta(days=spec.RECONFIRM_INTERVAL_DAYS)).date().isoformat()


def test_an_intake_officer_records_the_family_s_confirmation(asked):
    """R-CHG-3: `POST /applications/{reference}/reconfirm/` `{}` → the application; the ask is confirmed."""
    with time_machine.travel(ASKED + dt.timedelta(days=2), tick=False):
        response = client_as("intake").post(url(f"applications/{asked.reference}/reconfirm/"), {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "waiting"
    ask = Reconfirmation.objects.get(application=asked)
    assert ask.confirmed_via == "staff" and ask.confirmed_by is not None


def test_a_facility_officer_may_not_record_a_confirmation(asked):
    """R-CHG-3 (API.md: intake): 403, nothing changes."""
    response = client_as("facility", facility=FacilityFactory(code="HZ01")).post(
        url(f"applications/{asked.reference}/reconfirm/"), {}, format="json"
    )
    assert response.status_code in (403, 404)
    assert Reconfirmation.objects.get(application=asked).confirmed_at is None


def test_confirming_an_application_outside_the_queue_is_409_naming_the_state():
    """R-CHG-3, R-FSM-3."""
    FacilityFactory(code="YX01")
    application, _code = app_services.application_create(
        data=intake(choices=["YX01"]),
        submit=True,
        actor=actor("intake"),
    )
    response = client_as("intake").post(url(f"applications/{application.reference}/reconfirm/"), {}, format="json")
    body = assert_problem(response, 409)
    assert body["current_state"] == "submitted"
    assert "R-" not in body["detail"]


def test_the_family_confirms_with_reference_and_code_and_a_suspended_application_resumes(asked):
    """R-CHG-3: `POST /public/reconfirm/` `{reference, code}` after the suspension `not_reconfirmed`;
    with the assessment still valid (its validity set past the grace, as a renewal would), it
    resumes with queued_at kept."""
    application = Application.objects.get(pk=asked.pk)
    application.current_assessment.__class__.objects.filter(pk=application.current_assessment_id).update(
        valid_until=(GRACE_ENDS + dt.timedelta(days=60)).date()
    )
    with time_machine.travel(GRACE_ENDS + dt.timedelta(minutes=1), tick=False):
        assert reconfirmation_ask_due()["suspended"] == 1
    code = app_services.lookup_code_issue(application=application, actor=actor("intake"))
    with time_machine.travel(GRACE_ENDS + dt.timedelta(days=1), tick=False):
        response = client_as().post(
            url("public/reconfirm/"), {"reference": application.reference, "code": code}, format="json"
        )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "waiting"
    application.refresh_from_db()
    assert application.state == "waiting" and application.queued_at == QUEUED


def test_the_public_confirmation_is_rate_limited_like_the_lookup(asked):
    """R-CHG-3 with R-PUB-2: a wrong code is the lookup's 404; after the reference's limit of failed
    tries, 429 with Retry-After even with the right code, and nothing is confirmed."""
    code = app_services.lookup_code_issue(application=asked, actor=actor("intake"))
    public = client_as()
    for n in range(spec.LOOKUP_FAILURES_PER_REFERENCE):
        response = public.post(
            url("public/reconfirm/"),
            {"reference": asked.reference, "code": "ZZZZZZ"},
            format="json",
            REMOTE_ADDR=f"198.51.100.{n}",
        )
        assert_problem(response, 404)
    response = public.post(url("public/reconfirm/"), {"reference": asked.reference, "code": code}, format="json")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    lookup = public.post(url("public/lookup/"), {"reference": asked.reference, "code": code}, format="json")
    assert lookup.status_code == 429  # one set of limits for both
    assert Reconfirmation.objects.get(application=asked).confirmed_at is None


def test_the_public_lookup_shows_the_day_to_confirm_by_and_that_the_family_is_asked(asked):
    """R-CHG-3 on the family's lookup (API.md `reconfirm_due`, as on the application): while asked,
    the day the grace runs out and `reconfirm_requested`; once confirmed, the day of the next ask."""
    code = app_services.lookup_code_issue(application=asked, actor=actor("intake"))
    public = client_as()
    with time_machine.travel(ASKED + dt.timedelta(days=1), tick=False):
        body = public.post(url("public/lookup/"), {"reference": asked.reference, "code": code}, format="json").json()
    assert body["reconfirm_due"] == GRACE_ENDS.date().isoformat()
    assert body["reconfirm_requested"] is True
    confirmed_at = ASKED + dt.timedelta(days=2)
    with time_machine.travel(confirmed_at, tick=False):
        body = public.post(url("public/reconfirm/"), {"reference": asked.reference, "code": code}, format="json").json()
    assert body["reconfirm_requested"] is False
    next_ask = confirmed_at + dt.timedelta(days=spec.RECONFIRM_INTERVAL_DAYS)
    assert body["reconfirm_due"] == next_ask.date().isoformat()


def test_the_public_lookup_of_an_application_outside_the_queue_has_no_reconfirm_due():
    """R-CHG-3: nothing to confirm before the application is queued."""
    FacilityFactory(code="YX01")
    application, code = app_services.application_create(
        data=intake(choices=["YX01"]), submit=True, actor=actor("intake")
    )
    body = (
        client_as()
        .post(url("public/lookup/"), {"reference": application.reference, "code": code}, format="json")
        .json()
    )
    assert body["reconfirm_due"] is None and body["reconfirm_requested"] is False
