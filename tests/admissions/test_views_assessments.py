"""The assessment form and the review page (issue 4; SPEC §4 R-ASM-1…5, §3 R-APP-3/R-APP-8, §5).

Data is made through the real services; pages are driven with Django's test client, in English
unless a test chooses Chinese.
"""

from __future__ import annotations

import re

import pytest
from django.urls import resolve, reverse
from django.utils import timezone, translation

from admissions.models import Application, ApplicationEvent, CategoryClaim
from admissions.services import applications as app_services
from admissions.services import assessments as asm_services
from assessments.instrument import ITEMS
from assessments.models import Assessment
from facilities.roles import roles_assign
from tests.factories import (
    FacilityFactory,
    UserFactory,
    actor,
    add_beds,
    items_with_total,
    queued_application,
    reviewed_application,
    submitted_application,
)
from web.views import assessments as views

pytestmark = pytest.mark.django_db

# STORIES.md story 2: help bathing and dressing, walks 50 m with a stick, no stairs, knows the year
# but not the date — 58 points, grade 2 (moderate), nursing care.
STORY_2 = {
    **{"B1.1": 4, "B1.2": 4, "B1.3": 2, "B1.4": 2, "B1.5": 2, "B1.6": 4, "B1.7": 4, "B1.8": 4},  # 26
    **{"B2.1": 4, "B2.2": 4, "B2.3": 3, "B2.4": 0},  # 11
    **{"B3.1": 2, "B3.2": 2, "B3.3": 3, "B3.4": 1, "B3.5": 2, "B3.6": 2, "B3.7": 1, "B3.8": 1, "B3.9": 2},  # 16
    **{"B4.1": 1, "B4.2": 1, "B4.3": 1, "B4.4": 1, "B4.5": 1},  # 5
}


def staff(username: str, *roles: str, facility=None):
    user = UserFactory(username=username)
    roles_assign(user=user, roles=list(roles), facility=facility)
    return user


@pytest.fixture
def home():
    facility = FacilityFactory(code="YX01")
    add_beds(facility, nursing=5)  # all occupied: approval queues without an offer
    return facility


@pytest.fixture
def pending(home):
    """An application waiting for its assessment."""
    application = submitted_application(choices=["YX01"])
    return app_services.application_accept_for_assessment(application=application, actor=actor("intake"))


@pytest.fixture
def assessor():
    return staff("assessor", "assessor")


@pytest.fixture
def reviewer():
    return staff("reviewer2", "reviewer")


def form_data(items: dict[str, int], *, action: str = "draft", token: str = "", **extra) -> dict:
    data = {"item_" + code.replace(".", "_"): str(points) for code, points in items.items()}
    data.update(assessed_on=timezone.localdate().isoformat(), notes="", action=action, form_token=token)
    data.update(extra)
    return data


def token_of(response) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', response.content.decode())
    assert match, "the form carries a one-time token"
    return match.group(1)


def completed_assessment(application, *, by: str = "assessor", items=None) -> Assessment:
    return asm_services.assessment_create(
        application=application,
        assessed_on=timezone.localdate(),
        items=items or STORY_2,
        complete=True,
        actor=actor(by),
    )


# --- the URL names resolve to these pages -------------------------------------------------------
def test_every_url_name_of_the_task_resolves_to_its_page():
    assert resolve(reverse("staff:assessment_new", args=["2026-000001"])).func is views.assessment_new
    assert resolve(reverse("staff:assessment", args=[1])).func is views.assessment_detail
    assert resolve(reverse("staff:assessment_preview")).func is views.assessment_preview
    assert resolve(reverse("staff:review", args=["2026-000001"])).func is views.review


# --- permissions --------------------------------------------------------------------------------------
def test_the_new_assessment_form_opens_for_an_assessor(client, pending, assessor):
    client.force_login(assessor)
    response = client.get(reverse("staff:assessment_new", args=[pending.reference]))
    assert response.status_code == 200
    assert response.content.decode().count("<h1>") == 1


def test_the_new_assessment_form_is_forbidden_to_an_intake_officer(client, pending):
    client.force_login(staff("clerk", "intake"))
    assert client.get(reverse("staff:assessment_new", args=[pending.reference])).status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in(client, pending):
    for url in (
        reverse("staff:assessment_new", args=[pending.reference]),
        reverse("staff:review", args=[pending.reference]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("login") in response["Location"]


def test_an_unknown_reference_is_a_404(client, assessor):
    client.force_login(assessor)
    assert client.get(reverse("staff:assessment_new", args=["2026-999999"])).status_code == 404


def test_a_facility_officer_cannot_open_an_assessment_of_an_application_that_did_not_choose_their_home(
    client, pending, assessor
):
    assessment = completed_assessment(pending)
    other_home = FacilityFactory(code="HZ09")
    client.force_login(staff("warden", "facility", facility=other_home))
    assert client.get(reverse("staff:assessment", args=[assessment.pk])).status_code == 403
    client.force_login(staff("own-warden", "facility", facility=pending.choices.get().facility))
    assert client.get(reverse("staff:assessment", args=[assessment.pk])).status_code == 200


def test_the_review_page_opens_for_a_reviewer_and_is_forbidden_to_an_assessor(client, pending, assessor, reviewer):
    url = reverse("staff:review", args=[pending.reference])
    client.force_login(reviewer)
    assert client.get(url).status_code == 200
    client.force_login(assessor)
    assert client.get(url).status_code == 403


# --- the form ---------------------------------------------------------------------------------------------
def test_the_form_shows_the_26_items_by_domain_with_every_level_described(client, pending, assessor):
    client.force_login(assessor)
    page = client.get(reverse("staff:assessment_new", args=[pending.reference])).content.decode()
    assert page.count('<fieldset class="item') == 26
    for domain in ("B1 Self-care", "B2 Basic mobility", "B3 Mental state", "B4 Perception and social participation"):
        assert domain in page
    assert "Eats alone with ordinary utensils" in page
    assert "Stupor or coma; cannot be roused, or only briefly" in page
    levels = sum(len(item.levels) for item in ITEMS)
    assert page.count('type="radio"') == levels


def test_the_form_is_in_chinese_by_default(client, pending, assessor):
    client.force_login(assessor)
    with translation.override("zh-hans"):
        url = reverse("staff:assessment_new", args=[pending.reference])
    assert not url.startswith("/en/")
    page = client.get(url).content.decode()
    assert '<html lang="zh-hans">' in page
    assert "自理能力" in page and "独立使用餐具进食，无需帮助" in page
    assert "Eats alone with ordinary utensils" not in page


def test_saving_a_draft_records_the_scores_so_far_and_the_event(client, pending, assessor):
    client.force_login(assessor)
    url = reverse("staff:assessment_new", args=[pending.reference])
    token = token_of(client.get(url))
    response = client.post(url, form_data({"B1.1": 4, "B1.2": 3}, token=token, notes="home visit"))
    assessment = Assessment.objects.get(application=pending)
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:assessment", args=[assessment.pk])
    assert assessment.state == "draft"
    assert assessment.items == {"B1.1": 4, "B1.2": 3}
    assert assessment.notes == "home visit"
    assert assessment.assessor == assessor
    assert pending.events.filter(transition="assessment_recorded").exists()


def test_story_2_completing_at_once_freezes_58_grade_2_and_moves_the_application_to_review(client, pending, assessor):
    client.force_login(assessor)
    url = reverse("staff:assessment_new", args=[pending.reference])
    response = client.post(url, form_data(STORY_2, action="complete", token=token_of(client.get(url))), follow=True)
    assessment = Assessment.objects.get(application=pending)
    assert (assessment.state, assessment.total, assessment.grade) == ("completed", 58, 2)
    assert assessment.domain_totals == {"B1": 26, "B2": 11, "B3": 16, "B4": 5}
    pending.refresh_from_db()
    assert pending.state == "review"
    assert pending.events.filter(transition="complete_assessment").exists()
    page = response.content.decode()
    assert "nursing care" in page and "moderate" in page
    assert 'type="radio"' not in page  # R-ASM-4: shown read-only


def test_the_running_totals_come_back_from_the_server_as_the_form_fills(client, assessor):
    client.force_login(assessor)
    url = reverse("staff:assessment_preview")
    partial = client.post(url, form_data({"B1.1": 4, "B1.2": 3, "B2.1": 2}))
    assert partial.status_code == 200
    text = partial.content.decode()
    assert "<html" not in text
    assert 'id="domain-total-B1" hx-swap-oob="innerHTML">7 of 32 points' in text
    assert "3 of 26 items scored" in text
    assert "shown once every item is scored" in text

    full = client.post(url, form_data(STORY_2)).content.decode()
    assert "Total 58 of 90" in full
    assert "grade 2 (moderate)" in full
    assert "nursing care" in full


def test_the_running_totals_name_a_coma_box_ticked_without_consciousness_0(client, assessor):
    client.force_login(assessor)
    text = client.post(reverse("staff:assessment_preview"), form_data(STORY_2, coma="on")).content.decode()
    assert "coma: allowed only when B3.9 (consciousness) is 0" in text


def test_the_running_totals_are_not_for_other_roles_nor_for_a_get(client, assessor):
    client.force_login(staff("clerk", "intake"))
    assert client.post(reverse("staff:assessment_preview"), form_data(STORY_2)).status_code == 403
    client.force_login(assessor)
    assert client.get(reverse("staff:assessment_preview")).status_code == 405


def test_completion_with_items_missing_is_refused_naming_them_and_keeps_what_was_entered_r_asm_3(
    client, pending, assessor
):
    client.force_login(assessor)
    url = reverse("staff:assessment_new", args=[pending.reference])
    items = {code: points for code, points in STORY_2.items() if code not in ("B2.4", "B3.9")}
    response = client.post(url, form_data(items, action="complete", token=token_of(client.get(url)), notes="kept"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "B2.4, B3.9" in page  # the service's message names them
    assert 'href="#fieldset-item_B2_4"' in page and "B2.4 Stairs" in page
    assert 'id="id_item_B3_9_error"' in page
    assert re.search(r'name="item_B1_3" value="2"[^>]*checked', page)
    assert re.search(r">\s*kept</textarea>", page)
    assert not Assessment.objects.filter(application=pending).exists()
    pending.refresh_from_db()
    assert pending.state == "assessment_pending"


def test_a_date_in_the_future_is_refused_on_its_field_and_nothing_is_saved(client, pending, assessor):
    client.force_login(assessor)
    url = reverse("staff:assessment_new", args=[pending.reference])
    tomorrow = (timezone.localdate() + timezone.timedelta(days=1)).isoformat()
    response = client.post(url, form_data(STORY_2, token=token_of(client.get(url)), assessed_on=tomorrow))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_assessed_on_error"' in page and "must not be in the future" in page
    assert 'aria-describedby="id_assessed_on_error"' in page
    assert not Assessment.objects.exists()


def test_a_score_outside_the_levels_is_refused_on_its_item(client, pending, assessor):
    client.force_login(assessor)
    url = reverse("staff:assessment_new", args=[pending.reference])
    response = client.post(url, form_data({"B2.4": 4}, token=token_of(client.get(url))))
    assert response.status_code == 200
    assert 'id="id_item_B2_4_error"' in response.content.decode()
    assert not Assessment.objects.exists()


def test_a_double_post_with_the_same_token_records_one_assessment(client, pending, assessor):
    client.force_login(assessor)
    url = reverse("staff:assessment_new", args=[pending.reference])
    data = form_data(STORY_2, token=token_of(client.get(url)))
    first = client.post(url, data)
    second = client.post(url, data)
    assert Assessment.objects.filter(application=pending).count() == 1
    assert second.status_code == 302 and second["Location"] == first["Location"]


def test_the_assessor_continues_a_draft_and_completes_it(client, pending, assessor):
    draft = asm_services.assessment_create(
        application=pending, assessed_on=timezone.localdate(), items={"B1.1": 4}, actor=actor("assessor")
    )
    client.force_login(assessor)
    url = reverse("staff:assessment", args=[draft.pk])
    page = client.get(url)
    assert re.search(r'name="item_B1_1" value="4"[^>]*checked', page.content.decode())
    response = client.post(url, form_data(STORY_2, action="complete", token=token_of(page)))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.state, draft.total, draft.grade) == ("completed", 58, 2)


def test_a_refused_completion_of_a_draft_changes_nothing_in_the_draft(client, pending, assessor):
    draft = asm_services.assessment_create(
        application=pending, assessed_on=timezone.localdate(), items={"B1.1": 4}, actor=actor("assessor")
    )
    client.force_login(assessor)
    url = reverse("staff:assessment", args=[draft.pk])
    response = client.post(url, form_data({"B1.1": 2, "B1.2": 1}, action="complete", token=token_of(client.get(url))))
    assert response.status_code == 200
    assert "cannot be completed" in response.content.decode()
    draft.refresh_from_db()
    assert (draft.state, draft.items) == ("draft", {"B1.1": 4})


def test_another_assessor_sees_a_draft_read_only_and_cannot_change_it(client, pending):
    draft = asm_services.assessment_create(
        application=pending, assessed_on=timezone.localdate(), items={"B1.1": 4}, actor=actor("assessor")
    )
    client.force_login(staff("assessor-b", "assessor"))
    url = reverse("staff:assessment", args=[draft.pk])
    page = client.get(url).content.decode()
    assert 'type="radio"' not in page and "only they can change or complete it" in page
    assert client.post(url, form_data(STORY_2, action="complete")).status_code == 403
    draft.refresh_from_db()
    assert (draft.state, draft.items) == ("draft", {"B1.1": 4})


def test_a_completed_assessment_is_read_only_and_a_post_to_it_changes_nothing_r_asm_4(client, pending, assessor):
    assessment = completed_assessment(pending)
    client.force_login(assessor)
    url = reverse("staff:assessment", args=[assessment.pk])
    page = client.get(url).content.decode()
    assert "<form" not in page.split('<main id="content"')[1]
    assert "B1.1 Eating" in page and '<td class="num total-points">58</td>' in page
    response = client.post(url, form_data(items_with_total(20), action="draft", token="t-1"))
    assert response.status_code == 200
    assert "never edited" in response.content.decode()
    assessment.refresh_from_db()
    assert (assessment.total, assessment.items) == (58, STORY_2)


def test_no_assessment_form_while_the_application_cannot_be_assessed(client, home, assessor):
    application = submitted_application(choices=["YX01"])
    client.force_login(assessor)
    page = client.get(reverse("staff:assessment_new", args=[application.reference])).content.decode()
    assert "cannot be recorded while the application is submitted" in page
    assert 'type="radio"' not in page


# --- the review page: four eyes ----------------------------------------------------------------------------
def review_token(client, application, action: str) -> str:
    page = client.get(reverse("staff:review", args=[application.reference])).content.decode()
    form = next(chunk for chunk in page.split("<form")[1:] if f'name="action" value="{action}"' in chunk)
    return re.search(r'name="form_token" value="([^"]+)"', form).group(1)


def test_a_reviewer_approves_the_completed_assessment(client, pending, reviewer):
    assessment = completed_assessment(pending)
    client.force_login(reviewer)
    url = reverse("staff:review", args=[pending.reference])
    token = review_token(client, pending, "approve_assessment")
    response = client.post(url, {"action": "approve_assessment", "assessment": assessment.pk, "form_token": token})
    assert response.status_code == 302
    assessment.refresh_from_db()
    assert (assessment.state, assessment.reviewer, assessment.care_level) == ("approved", reviewer, "nursing")
    assert pending.events.filter(transition="assessment_approved").exists()


def test_the_assessor_cannot_approve_their_own_assessment_four_eyes_r_asm_4(client, pending):
    both = staff("both", "assessor", "reviewer")
    assessment = completed_assessment(pending, by="both")
    client.force_login(both)
    url = reverse("staff:review", args=[pending.reference])
    token = review_token(client, pending, "approve_assessment")
    response = client.post(url, {"action": "approve_assessment", "assessment": assessment.pk, "form_token": token})
    assert response.status_code == 200
    assert "The reviewer must not be the assessor" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.state == "completed"


def test_rejecting_the_assessment_with_a_reason_sends_the_application_back(client, pending, reviewer):
    assessment = completed_assessment(pending)
    client.force_login(reviewer)
    url = reverse("staff:review", args=[pending.reference])
    token = review_token(client, pending, "reject_assessment")
    data = {
        "action": "reject_assessment",
        "assessment": assessment.pk,
        "reason": "Stairs not observed.",
        "form_token": token,
    }
    assert client.post(url, data).status_code == 302
    assessment.refresh_from_db()
    pending.refresh_from_db()
    assert (assessment.state, assessment.rejection_reason) == ("rejected", "Stairs not observed.")
    assert pending.state == "assessment_pending"
    assert pending.events.filter(transition="return_for_assessment", reason="Stairs not observed.").exists()


def test_rejecting_without_a_reason_is_refused_on_the_reason_field(client, pending, reviewer):
    assessment = completed_assessment(pending)
    client.force_login(reviewer)
    url = reverse("staff:review", args=[pending.reference])
    token = review_token(client, pending, "reject_assessment")
    response = client.post(url, {"action": "reject_assessment", "assessment": assessment.pk, "form_token": token})
    assert response.status_code == 200
    assert 'id="reject-assessment-reason_error"' in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.state == "completed"


def test_an_unknown_action_changes_nothing(client, pending, reviewer):
    client.force_login(reviewer)
    response = client.post(reverse("staff:review", args=[pending.reference]), {"action": "<script>x</script>"})
    assert response.status_code == 400
    assert "<script>x" not in response.content.decode()


# --- the review page: categories, exemption, approval into the queue --------------------------------------
def test_story_2_the_reviewer_verifies_dibao_and_approves_into_the_queue_with_the_special_channel(
    client, home, reviewer
):
    application = reviewed_application(
        choices=["YX01"], lives_alone=True, categories=[{"code": "dibao", "evidence": "低保证 2024-001"}]
    )
    claim = CategoryClaim.objects.get(application=application)
    client.force_login(reviewer)
    url = reverse("staff:review", args=[application.reference])
    page = client.get(url).content.decode()
    assert "低保证 2024-001" in page
    token = review_token(client, application, "approve_application")
    data = {
        "action": "approve_application",
        "form_token": token,
        f"claim_{claim.pk}_decision": "verified",
        f"claim_{claim.pk}_note": "certificate seen",
    }
    response = client.post(url, data, follow=True)
    application.refresh_from_db()
    claim.refresh_from_db()
    assert application.state == "waiting" and application.channel_code == "special"
    assert (claim.status, claim.note, claim.verified_by) == ("verified", "certificate seen", reviewer)
    assert application.events.filter(transition="approve").exists()
    page = response.content.decode()
    assert "special safeguard" in page
    assert "Position in each chosen home" in page and "Home YX01" in page
    assert "care need 20, age 5, family 3, waiting time 0" in page  # 28 as in the story


def test_approval_needs_a_decision_for_every_claimed_category(client, home, reviewer):
    application = reviewed_application(choices=["YX01"], categories=[{"code": "dibao", "evidence": "doc"}])
    claim = CategoryClaim.objects.get(application=application)
    client.force_login(reviewer)
    url = reverse("staff:review", args=[application.reference])
    token = review_token(client, application, "approve_application")
    response = client.post(url, {"action": "approve_application", "form_token": token})
    assert response.status_code == 200
    assert f'id="id_claim_{claim.pk}_decision_error"' in response.content.decode()
    application.refresh_from_db()
    assert application.state == "review"


def test_a_double_post_of_the_approval_approves_once(client, home, reviewer):
    application = reviewed_application(choices=["YX01"])
    client.force_login(reviewer)
    url = reverse("staff:review", args=[application.reference])
    data = {"action": "approve_application", "form_token": review_token(client, application, "approve_application")}
    first = client.post(url, data)
    second = client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"]
    assert ApplicationEvent.objects.filter(application=application, transition="approve").count() == 1


EXEMPT = dict(hukou_district="other", residence_district="yuexiu", contributor_exemption_requested=True)


def test_the_contributor_exemption_must_be_decided_with_a_note_r_app_3(client, home, reviewer):
    application = reviewed_application(choices=["YX01"], **EXEMPT)
    client.force_login(reviewer)
    url = reverse("staff:review", args=[application.reference])
    token = review_token(client, application, "approve_application")
    response = client.post(url, {"action": "approve_application", "form_token": token, "exemption_decision": "granted"})
    assert response.status_code == 200
    assert 'id="id_exemption_decision_error"' in response.content.decode()
    application.refresh_from_db()
    assert application.state == "review"

    data = {
        "action": "approve_application",
        "form_token": token,
        "exemption_decision": "granted",
        "exemption_note": "City model worker 1988.",
    }
    assert client.post(url, data).status_code == 302
    application.refresh_from_db()
    assert (application.state, application.contributor_exemption_granted) == ("waiting", True)


def test_refusing_the_contributor_exemption_rejects_the_application_r_app_3(client, home, reviewer):
    application = reviewed_application(choices=["YX01"], **EXEMPT)
    client.force_login(reviewer)
    url = reverse("staff:review", args=[application.reference])
    token = review_token(client, application, "approve_application")
    data = {
        "action": "approve_application",
        "form_token": token,
        "exemption_decision": "refused",
        "exemption_note": "No record.",
    }
    response = client.post(url, data, follow=True)
    application.refresh_from_db()
    assert (application.state, application.closing_reason) == ("rejected", "exemption_refused")
    assert "The application is rejected" in response.content.decode()


def test_returning_for_assessment_needs_a_reason_and_then_sends_it_back(client, home, reviewer):
    application = reviewed_application(choices=["YX01"])
    client.force_login(reviewer)
    url = reverse("staff:review", args=[application.reference])
    token = review_token(client, application, "return_for_assessment")
    refused = client.post(url, {"action": "return_for_assessment", "form_token": token, "reason": "  "})
    assert refused.status_code == 200 and 'id="return-reason_error"' in refused.content.decode()
    application.refresh_from_db()
    assert application.state == "review"

    data = {"action": "return_for_assessment", "form_token": token, "reason": "Fell last week."}
    assert client.post(url, data).status_code == 302
    application.refresh_from_db()
    assert application.state == "assessment_pending"
    assert application.events.filter(transition="return_for_assessment", reason="Fell last week.").exists()


def test_the_evidence_file_is_linked_only_when_the_evidence_page_exists(client, home, reviewer, monkeypatch):
    application = reviewed_application(choices=["YX01"], categories=[{"code": "dibao", "evidence": "doc"}])
    CategoryClaim.objects.filter(application=application).update(evidence_file="evidence/0123abcd.pdf")
    client.force_login(reviewer)
    url = reverse("staff:review", args=[application.reference])

    monkeypatch.setattr(views, "_url", lambda name, *args: None)
    page = client.get(url).content.decode()
    assert "a file was uploaded" in page and "view the file" not in page

    monkeypatch.setattr(
        views, "_url", lambda name, *args: f"/staff/evidence/{args[0]}/" if name == "staff:evidence" else None
    )
    page = client.get(url).content.decode()
    claim = CategoryClaim.objects.get(application=application)
    assert f'href="/staff/evidence/{claim.pk}/"' in page


# --- reassessment of a queued application ------------------------------------------------------------
def test_a_queued_application_is_reassessed_through_the_same_pages(client, home, assessor, reviewer):
    application = queued_application(grade=2, choices=["YX01"])
    old = application.current_assessment
    client.force_login(assessor)
    url = reverse("staff:assessment_new", args=[application.reference])
    response = client.post(url, form_data(items_with_total(40), action="complete", token=token_of(client.get(url))))
    assert response.status_code == 302
    new = Assessment.objects.filter(application=application).exclude(pk=old.pk).get()
    assert (new.state, new.grade) == ("completed", 3)

    client.force_login(reviewer)
    review_url = reverse("staff:review", args=[application.reference])
    token = review_token(client, application, "approve_assessment")
    response = client.post(review_url, {"action": "approve_assessment", "assessment": new.pk, "form_token": token})
    assert response.status_code == 302
    application = Application.objects.get(pk=application.pk)
    assert application.state == "waiting"
    assert application.current_assessment_id == new.pk
    assert application.events.filter(transition="reassess").exists()
    page = client.get(review_url).content.decode()
    assert "Position in each chosen home" in page


def test_odd_ids_in_the_url_and_the_form_are_not_found_rather_than_an_error(client, pending, reviewer):
    client.force_login(reviewer)
    assert client.get("/en/staff/assessments/99999999999999999999999999/").status_code == 404
    assert client.get(reverse("staff:review", args=["x" * 500])).status_code == 404
    data = {"action": "approve_assessment", "assessment": "99999999999999999999999999", "form_token": "t-odd"}
    response = client.post(reverse("staff:review", args=[pending.reference]), data)
    assert response.status_code == 200
    assert "No such assessment on this application." in response.content.decode()
