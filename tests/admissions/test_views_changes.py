"""Staff pages of the changes after approval (R-CHG-2): form, check your answers with the before/after
scores and positions, confirm, redirect; a refusal shows the field and changes nothing."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from admissions.models import ApplicationEvent
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, add_beds, queued_application

pytestmark = pytest.mark.django_db


def client_as(*roles: str) -> Client:
    user = User.objects.create_user(f"{'-'.join(roles)}-{User.objects.count()}")
    roles_assign(user=user, roles=list(roles), facility=None)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def homes():
    homes = [FacilityFactory(code="YX01"), FacilityFactory(code="YX02"), FacilityFactory(code="CITY1", level="city")]
    for home in homes:
        add_beds(home, nursing=2)
    return homes


def change_url(application, slug):
    return reverse("staff:application_change", args=[application.reference, slug])


def token_of(response) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', response.content.decode()).group(1)


def test_the_application_page_links_the_changes_the_user_may_make(homes):
    """R-CHG-2: reachable from the application page, per role."""
    application = queued_application(choices=["YX01"])
    page = client_as("intake").get(reverse("staff:application", args=[application.reference])).content.decode()
    assert change_url(application, "family-situation") in page
    assert change_url(application, "contact") in page
    assert change_url(application, "choices") not in page  # a reviewer's change
    page = client_as("reviewer").get(reverse("staff:application", args=[application.reference])).content.decode()
    assert change_url(application, "choices") in page


def test_a_family_situation_change_shows_before_and_after_then_is_confirmed_and_redirects(homes):
    """R-CHG-2: check-your-answers with scores and positions before/after; then PRG."""
    queued_application(grade=2, choices=["YX01"], lives_alone=True)
    application = queued_application(grade=2, choices=["YX01"])
    client = client_as("intake")
    url = change_url(application, "family-situation")
    form = client.get(url)
    assert form.status_code == 200
    body = {
        "version": application.version,
        "lives_alone": "on",
        "no_spouse_no_children": "on",
        "reason": "her husband died",
    }
    check = client.post(url, body)
    assert check.status_code == 200
    html = check.content.decode()
    assert "Check your answers" in html
    row = re.search(
        r"YX01</span></th>\s*<td[^>]*>(\d+)</td>\s*<td[^>]*>(\d+)</td>\s*<td[^>]*>(\d+)</td>\s*<td[^>]*>(\d+)</td>",
        html,
    )
    score_now, score_after, position_now, position_after = map(int, row.groups())
    assert (score_after - score_now, position_now, position_after) == (8, 2, 1)
    assert not ApplicationEvent.objects.filter(application=application, transition="family_situation_changed").exists()
    done = client.post(url, {**body, "confirm": "yes", "form_token": token_of(check)})
    assert done.status_code == 302
    assert done["Location"] == reverse("staff:application", args=[application.reference])
    assert ApplicationEvent.objects.filter(application=application, transition="family_situation_changed").exists()


def test_a_family_situation_without_a_reason_is_refused_on_the_form(homes):
    """R-CHG-2: the reason is required; nothing changes."""
    application = queued_application(choices=["YX01"])
    response = client_as("intake").post(
        change_url(application, "family-situation"), {"version": application.version, "lives_alone": "on"}
    )
    assert response.status_code == 200
    assert 'id="id_reason_error"' in response.content.decode()
    assert application.events.count() == application.__class__.objects.get(pk=application.pk).events.count()
    assert not ApplicationEvent.objects.filter(application=application, transition="family_situation_changed").exists()


def test_a_choice_list_over_the_limits_is_refused_on_confirming_naming_the_choice(homes):
    """R-CHG-2 with R-APP-7: two city-level homes; the form shows the error at the second choice."""
    FacilityFactory(code="CITY2", level="city")
    application = queued_application(choices=["YX01"])
    client = client_as("reviewer")
    url = change_url(application, "choices")
    body = {"version": application.version, "choice_0": "CITY1", "choice_1": "CITY2", "reason": "closer"}
    check = client.post(url, body)
    done = client.post(url, {**body, "confirm": "yes", "form_token": token_of(check)})
    assert done.status_code == 200
    assert 'id="id_choice_1_error"' in done.content.decode()
    assert [c.facility.code for c in application.choices.all()] == ["YX01"]


def test_a_new_choice_is_shown_as_queued_from_now_before_it_is_confirmed(homes):
    """R-CHG-2: a new home's entry starts from the change."""
    application = queued_application(choices=["YX01"])
    client = client_as("reviewer")
    url = change_url(application, "choices")
    body = {"version": application.version, "choice_0": "YX01", "choice_1": "YX02", "reason": "her son moved"}
    check = client.post(url, body)
    assert "new: queued from now" in check.content.decode()
    done = client.post(url, {**body, "confirm": "yes", "form_token": token_of(check)})
    assert done.status_code == 302
    assert [c.facility.code for c in application.choices.all()] == ["YX01", "YX02"]


def test_a_stale_form_gets_the_conflict_and_changes_nothing(homes):
    """R-CHG-2 with R-FSM-4: the version read with the form."""
    application = queued_application(choices=["YX01"])
    client = client_as("intake")
    url = change_url(application, "contact")
    body = {"version": application.version, "language": "zh-hans", "contact_name": "A", "reason": ""}
    check = client.post(url, body)
    client.post(url, {**body, "confirm": "yes", "form_token": token_of(check)})
    again = client.post(url, {**body, "contact_name": "B", "confirm": "yes", "form_token": token_of(check) + "x"})
    assert again.status_code == 200
    application.refresh_from_db()
    assert application.contact_name == "A"


def test_an_intake_officer_may_not_open_a_reviewers_change(homes):
    """R-CHG-2: choices are a reviewer's change."""
    application = queued_application(choices=["YX01"])
    assert client_as("intake").get(change_url(application, "choices")).status_code == 403


def test_the_change_pages_render_in_chinese(homes):
    """Both languages complete: the page's own words are translated."""
    application = queued_application(choices=["YX01"])
    client = client_as("intake")
    with translation.override("zh-hans"):
        url = change_url(application, "family-situation")
    html = client.get(url).content.decode()
    assert "更改家庭情况" in html and "Change the family situation" not in html


def _timeline_changes(html: str, label: str) -> list[str]:
    """The lines under the timeline entry labelled `label`: what that event changed."""
    entry = re.search(rf"<strong>{re.escape(label)}</strong>.*?</li>\s*(?=<li>|</ol>)", html, re.S).group(0)
    return [re.sub(r"\s+", " ", line).strip() for line in re.findall(r"<li>(.*?)</li>", entry, re.S)]


def test_the_timeline_says_what_each_change_after_approval_changed(homes):
    """R-CHG-2 (STORIES 10): the application page's timeline shows each change's old and new values,
    masked as SPEC §12 masks them in the event (phones), as it does for corrections (R-CHG-1)."""
    from admissions.services import changes
    from tests.factories import actor

    application = queued_application(choices=["YX01"], lives_alone=True, phone="13800000007")
    changes.application_contact_change(
        application=application, changes={"applicant.phone": "13800000001"}, actor=actor("intake")
    )
    with_her_son = {"lives_alone": False, "no_spouse_no_children": False, "spouse_resident_in": []}
    changes.application_family_situation_change(
        application=application, **with_her_son, reason="moved in with her son", actor=actor("intake")
    )
    changes.application_choices_change(
        application=application, choices=["YX01", "YX02"], reason="a home near her son", actor=actor("reviewer")
    )
    changes.application_category_claim(
        application=application, code="dibao", evidence="低保证 2026-9", actor=actor("intake")
    )
    html = client_as("intake").get(reverse("staff:application", args=[application.reference])).content.decode()
    assert _timeline_changes(html, "contact details changed") == ["Phone: 138******07 → 138******01"]
    assert "13800000001" not in html.split('id="timeline-heading"')[1].split("</ol>")[0]
    assert _timeline_changes(html, "family situation changed") == ["Lives alone (独居): yes → no"]
    assert _timeline_changes(html, "chosen homes changed") == ["Homes chosen: YX01 → YX01, YX02"]
    assert _timeline_changes(html, "categories changed") == [
        "Category minimum living allowance household (低保): — → claimed"
    ]
