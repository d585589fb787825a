"""PATCH /applications/{reference}/ (API.md): corrections before approval, R-CHG-1."""

import datetime as dt

import pytest

from admissions.models import Application, ApplicationEvent
from admissions.services import applications as app_services
from tests.api.helpers import assert_problem, client_as, url
from tests.factories import (
    FacilityFactory,
    actor,
    district,
    id_number,
    intake,
    queued_application,
    reviewed_application,
    submitted_application,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def homes():
    return {
        "YX01": FacilityFactory(code="YX01", level="district", district=district("yuexiu")),
        "YX02": FacilityFactory(code="YX02", level="district", district=district("yuexiu")),
        "GZC01": FacilityFactory(code="GZC01", level="city", district=district("tianhe")),
    }


def draft():
    application, _ = app_services.application_create(data=intake(choices=["YX01"]), submit=False, actor=actor("intake"))
    return application


def in_assessment_pending():
    return app_services.application_accept_for_assessment(
        application=submitted_application(choices=["YX01"]), actor=actor("intake")
    )


IN_STATE = {
    "draft": draft,
    "submitted": lambda: submitted_application(choices=["YX01"]),
    "assessment_pending": in_assessment_pending,
    "review": lambda: reviewed_application(choices=["YX01"]),
}


def patch(client, application, body, **headers):
    return client.patch(url(f"applications/{application.reference}/"), body, format="json", **headers)


@pytest.mark.parametrize("state", list(IN_STATE))
def test_intake_patches_in_each_state_before_approval_r_chg_1(state):
    application = IN_STATE[state]()
    response = patch(client_as("intake"), application, {"contact": {"name": "儿子"}, "choices": ["YX02"]})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == state
    assert body["contact"]["name"] == "儿子"
    assert body["choices"] == ["YX02"]
    event = ApplicationEvent.objects.get(application=application, transition="corrected")
    assert set(event.data["changes"]) == {"contact.name", "choices"}


def test_a_reviewer_patches_in_review_r_chg_1():
    application = reviewed_application(choices=["YX01"])
    response = patch(client_as("reviewer"), application, {"applicant": {"address": "越秀区 9 号"}})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("state", ["draft", "submitted", "assessment_pending"])
def test_a_reviewer_gets_403_before_review_r_chg_1(state):
    application = IN_STATE[state]()
    problem = assert_problem(patch(client_as("reviewer"), application, {"contact": {"name": "儿子"}}), 403)
    assert "R-" not in problem["detail"]
    assert not ApplicationEvent.objects.filter(application=application, transition="corrected").exists()


def test_after_approval_a_patch_gets_409_naming_the_state_r_chg_1():
    application = queued_application(choices=["YX01"])
    response = patch(client_as("intake"), application, {"contact": {"name": "儿子"}}, HTTP_ACCEPT_LANGUAGE="en")
    problem = assert_problem(response, 409)
    assert problem["current_state"] == "waiting"
    assert "waiting in the queue" in problem["detail"]


def test_a_stale_version_gets_409_r_chg_1_r_fsm_4():
    application = submitted_application(choices=["YX01"])
    officer = client_as("intake")
    read = application.version
    assert patch(officer, application, {"contact": {"name": "儿子"}, "version": read}).status_code == 200
    problem = assert_problem(patch(officer, application, {"contact": {"name": "孙女"}, "version": read}), 409)
    assert problem["current_version"] == read + 1
    stale = patch(officer, application, {"contact": {"name": "孙女"}}, HTTP_IF_MATCH=f'"{read}"')
    assert_problem(stale, 409)
    assert Application.objects.get(pk=application.pk).contact_name == "儿子"


def test_an_id_number_change_without_a_reason_gets_400_naming_reason_r_chg_1():
    application = submitted_application(choices=["YX01"])
    new_number = id_number(dt.date(1941, 3, 2), sex="F")
    officer = client_as("intake")
    problem = assert_problem(patch(officer, application, {"applicant": {"id_number": new_number}}), 400, "reason")
    assert "R-" not in problem["errors"]["reason"][0]
    response = patch(officer, application, {"applicant": {"id_number": new_number}, "reason": "misread the card"})
    assert response.status_code == 200, response.content
    assert response.json()["applicant"]["id_number"] == new_number
    event = ApplicationEvent.objects.get(application=application, transition="corrected")
    assert event.reason == "misread the card"
    assert new_number not in str(event.data)


def test_an_id_number_of_a_person_with_an_open_application_gets_409_r_chg_1_r_app_5():
    other = submitted_application(choices=["YX01"])
    application = submitted_application(choices=["YX01"])
    body = {"applicant": {"id_number": other.applicant.id_number}, "reason": "typo"}
    problem = assert_problem(patch(client_as("intake"), application, body), 409, "applicant.id_number")
    assert problem["open_application"] == other.reference


def test_a_draft_saved_with_missing_fields_then_submit_names_them_r_chg_1():
    application = draft()
    officer = client_as("intake")
    body = {"applicant": {"hukou_district": ""}, "choices": [], "declarations": {"no_infectious_disease": False}}
    response = patch(officer, application, body)
    assert response.status_code == 200, response.content
    assert response.json()["applicant"]["hukou_district"] == ""
    submit = officer.post(url(f"applications/{application.reference}/submit/"), {}, format="json")
    assert_problem(submit, 400, "applicant.hukou_district", "declarations.no_infectious_disease")
    assert Application.objects.get(pk=application.pk).state == "draft"


def test_a_submitted_application_may_not_lose_a_required_field_r_chg_1():
    application = submitted_application(choices=["YX01"])
    assert_problem(patch(client_as("intake"), application, {"choices": []}), 422, "choices")
