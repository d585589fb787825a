"""Staff pages of R-CHG-1: "Correct this application" and "Finish this draft", linked from the
application's page and the dashboard's drafts; the timeline shows what a correction changed, masked."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from admissions.models import Application, ApplicationEvent
from admissions.services import applications as app_services
from facilities.models import Facility
from facilities.roles import roles_assign
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

BORN = dt.date(1941, 3, 2)


def client_as(*roles: str, facility: Facility | None = None) -> Client:
    user = User.objects.create_user(f"{'-'.join(roles) or 'none'}-{User.objects.count()}")
    roles_assign(user=user, roles=list(roles), facility=facility)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def homes():
    return {
        "YX01": FacilityFactory(code="YX01", name="越秀区福利院", level="district", district=district("yuexiu")),
        "YX02": FacilityFactory(code="YX02", name="越秀区第二院", level="district", district=district("yuexiu")),
        "GZ01": FacilityFactory(code="GZ01", name="广州市老人院", level="city", district=district("tianhe")),
    }


def correct_url(application) -> str:
    return reverse("staff:application_correct", args=[application.reference])


def form_fields(response) -> dict:
    """What the browser would send back from the page as it stands (text, hidden, checked boxes, selects)."""
    page = response.content.decode()
    data = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        kind = kind.group(1) if kind else "text"
        if kind == "file":
            continue
        if kind == "checkbox":
            if "checked" in tag:
                data[name.group(1)] = "on"
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        selected = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        data[name] = selected.group(1) if selected else ""
    for name, body in re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        data[name] = body.strip()
    return data


def draft():
    application, _ = app_services.application_create(data=intake(choices=["YX01"]), submit=False, actor=actor("intake"))
    return application


def test_the_correction_page_is_prefilled_from_the_stored_intake_r_chg_1():
    application = submitted_application(choices=["YX01"], contact_name="女儿", address="越秀区 1 号")
    response = client_as("intake").get(correct_url(application))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Correct this application" in page
    data = form_fields(response)
    assert data["name"] == "陈秀英"
    assert data["id_number"] == application.applicant.id_number
    assert data["contact_name"] == "女儿"
    assert data["address"] == "越秀区 1 号"
    assert data["hukou_district"] == "yuexiu"
    assert data["choice_1"] == "YX01"
    assert data["no_infectious_disease"] == "on"
    assert data["version"] == str(application.version)
    assert "Reason for changing the ID number" in page


def test_a_correction_is_saved_and_redirects_to_the_application_with_the_timeline_r_chg_1():
    application = submitted_application(choices=["YX01"])
    officer = client_as("intake")
    data = form_fields(officer.get(correct_url(application)))
    data.update(contact_name="儿子", phone="13812345678", action="save")
    response = officer.post(correct_url(application), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:application", args=[application.reference])
    changed = Application.objects.get(pk=application.pk)
    assert changed.contact_name == "儿子"
    assert changed.state == "submitted"
    page = officer.get(response["Location"]).content.decode()
    assert "intake corrected" in page
    assert "Contact name: 女儿 → 儿子" in page
    assert "138****5678" in page
    assert "13812345678" not in page.split("Timeline")[1]


def test_a_refused_correction_shows_the_error_summary_and_changes_nothing_r_chg_1():
    application = submitted_application(choices=["YX01"])
    officer = client_as("intake")
    data = form_fields(officer.get(correct_url(application)))
    data.update(choice_1="", action="save", contact_name="儿子")
    response = officer.post(correct_url(application), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "error-summary" in page
    assert "Home choice 1" in page
    assert Application.objects.get(pk=application.pk).contact_name == "女儿"
    assert not ApplicationEvent.objects.filter(application=application, transition="corrected").exists()


def test_an_id_number_change_asks_for_the_reason_on_the_same_form_r_chg_1():
    application = submitted_application(choices=["YX01"])
    officer = client_as("intake")
    new_number = id_number(BORN, sex="F")
    data = form_fields(officer.get(correct_url(application)))
    data.update(id_number=new_number, action="save")
    refused = officer.post(correct_url(application), data)
    assert refused.status_code == 200
    page = refused.content.decode()
    assert "error-summary" in page
    assert 'href="#id_reason"' in page
    assert "R-" not in re.search(r'<p class="error" id="id_reason_error">(.*?)</p>', page, re.S).group(1)
    data = form_fields(refused)
    data.update(reason="misread the card", action="save")
    assert officer.post(correct_url(application), data).status_code == 302
    assert Application.objects.get(pk=application.pk).applicant.id_number == new_number


def test_a_stale_form_is_refused_and_changes_nothing_r_chg_1_r_fsm_4():
    application = submitted_application(choices=["YX01"])
    officer = client_as("intake")
    data = form_fields(officer.get(correct_url(application)))
    other = form_fields(officer.get(correct_url(application)))
    data.update(contact_name="儿子", action="save")
    assert officer.post(correct_url(application), data).status_code == 302
    other.update(contact_name="孙女", action="save")
    response = officer.post(correct_url(application), other)
    assert response.status_code == 200
    assert "changed by someone else" in response.content.decode()
    assert Application.objects.get(pk=application.pk).contact_name == "儿子"


def test_a_draft_is_finished_and_submitted_from_the_page_r_chg_1():
    application = draft()
    officer = client_as("intake")
    response = officer.get(correct_url(application))
    page = response.content.decode()
    assert "Finish this draft" in page
    assert "Save as a draft" in page and "Submit the application" in page
    data = form_fields(response)
    data.update(hukou_district="", choice_1="", action="draft")
    assert officer.post(correct_url(application), data).status_code == 302
    assert Application.objects.get(pk=application.pk).state == "draft"

    data = form_fields(officer.get(correct_url(application)))
    assert data["hukou_district"] == ""
    data.update(action="submit")
    refused = officer.post(correct_url(application), data)
    assert refused.status_code == 200
    page = refused.content.decode()
    assert 'href="#id_hukou_district"' in page
    assert 'href="#id_choice_1"' in page
    assert Application.objects.get(pk=application.pk).state == "draft"

    data = form_fields(refused)
    data.update(hukou_district="yuexiu", choice_1="YX01", action="submit")
    response = officer.post(correct_url(application), data)
    assert response.status_code == 302
    assert Application.objects.get(pk=application.pk).state == "submitted"


def test_the_application_page_links_the_correction_for_the_roles_of_the_table_r_chg_1():
    application = submitted_application(choices=["YX01"])
    detail = reverse("staff:application", args=[application.reference])
    assert correct_url(application) in client_as("intake").get(detail).content.decode()
    assert correct_url(application) not in client_as("reviewer").get(detail).content.decode()
    assert client_as("reviewer").get(correct_url(application)).status_code == 403
    assert client_as("assessor").get(correct_url(application)).status_code == 403
    in_review = reviewed_application(choices=["YX01"], id_number=id_number(BORN, sex="F"))
    page = client_as("reviewer").get(reverse("staff:application", args=[in_review.reference])).content.decode()
    assert correct_url(in_review) in page


def test_after_approval_the_page_is_not_offered_and_says_why_r_chg_1():
    application = queued_application(choices=["YX01"])
    officer = client_as("intake")
    detail = reverse("staff:application", args=[application.reference])
    assert correct_url(application) not in officer.get(detail).content.decode()
    response = officer.get(correct_url(application))
    assert response.status_code == 302
    assert response["Location"] == detail
    assert "can no longer be corrected" in officer.get(detail).content.decode()


def test_the_dashboard_lists_drafts_with_a_link_to_finish_each_r_chg_1():
    application = draft()
    page = client_as("intake").get(reverse("staff:dashboard")).content.decode()
    assert "Drafts to finish" in page
    assert correct_url(application) in page
    assert correct_url(application) not in client_as("assessor").get(reverse("staff:dashboard")).content.decode()


def test_the_correction_page_reads_in_chinese_r_chg_1():
    application = draft()
    with translation.override("zh-hans"):
        url = correct_url(application)
    page = client_as("intake").get(url).content.decode()
    assert 'lang="zh-hans"' in page
    assert "完成此草稿" in page
    assert "更正身份证号码的原因" in page


def test_the_live_check_on_the_correction_page_does_not_show_the_application_as_its_own_duplicate_r_chg_1():
    """The same live checks as the new-application page (R-APP-1, R-APP-10), for the roles that correct."""
    application = reviewed_application(choices=["YX01"])
    page = client_as("reviewer").get(correct_url(application)).content.decode()
    check = re.search(r'hx-post="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert f"exclude={application.reference}" in check
    typed = {"name": "陈秀英", "id_number": application.applicant.id_number, "phone": application.applicant.phone}
    answer = client_as("reviewer").post(check, typed)
    assert answer.status_code == 200
    assert application.reference not in answer.content.decode()
    without = client_as("intake").post(reverse("staff:check_identity"), typed).content.decode()
    assert application.reference in without
