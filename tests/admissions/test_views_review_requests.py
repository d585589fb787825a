"""Staff pages of re-review (复核, R-ASM-6): ask from the application page, assign, decide, each with
a check-your-answers step; the overdue list on the reviewers' dashboard."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from admissions.models import Notification, ReviewRequest
from admissions.services import applications as app_services
from admissions.services import assessments as asm_services
from admissions.services.review_requests import review_request_assign, review_request_create, review_request_decide
from facilities.roles import roles_assign
from tests.factories import GRADE_TOTALS, FacilityFactory, actor, items_with_total, queued_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def login(*roles: str, username: str | None = None) -> tuple[Client, User]:
    user = User.objects.create_user(username or f"{'-'.join(roles)}-{User.objects.count()}")
    roles_assign(user=user, roles=list(roles))
    client = Client()
    client.force_login(user)
    return client, user


@pytest.fixture
def application():
    FacilityFactory(code="YX01")
    return queued_application(grade=2, choices=["YX01"])


def test_intake_asks_for_a_re_review_from_the_application_page_after_checking_the_answers(application):
    """R-ASM-6: the request is recorded only after the check-your-answers step, with its reason."""
    client, _ = login("intake")
    page = client.get(reverse("staff:application", args=[application.reference])).content.decode()
    url = reverse("staff:review_request_new", args=[application.reference])
    assert url in page
    check = client.post(url, {"reason": "She cannot dress alone"})
    assert check.status_code == 200 and "Check your answers" in check.content.decode()
    assert not ReviewRequest.objects.exists()
    token = check.context["token"]
    done = client.post(url, {"reason": "She cannot dress alone", "confirm": "yes", "form_token": token})
    review = ReviewRequest.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("staff:review_request", args=[review.pk])
    assert review.reason == "She cannot dress alone"
    page = client.get(reverse("staff:application", args=[application.reference])).content.decode()
    assert url not in page  # one re-review per assessment: the link is gone
    assert "re-review asked for" in page


def test_a_second_request_shows_the_refusal_in_plain_words_and_records_nothing(application):
    """R-ASM-6: one re-review per assessment; the error names the field, not the rule code."""
    review_request_create(application=application, reason="first", actor=actor("intake"))
    client, _ = login("intake")
    url = reverse("staff:review_request_new", args=[application.reference])
    answer = client.post(url, {"reason": "again", "confirm": "yes", "form_token": "t-1"})
    body = answer.content.decode()
    assert answer.status_code == 200 and "already been re-reviewed" in body
    assert "R-ASM" not in body
    assert ReviewRequest.objects.count() == 1


def test_the_reviewer_assigns_an_eligible_assessor_after_checking_the_answers(application):
    """R-ASM-6: the first assessor is not offered; the assignment follows a check-your-answers step."""
    review = review_request_create(application=application, reason="first", actor=actor("intake"))
    first = review.assessment.assessor
    roles_assign(user=first, roles=["assessor"])
    _, second = login("assessor", username="second-assessor")
    client, _ = login("reviewer")
    url = reverse("staff:review_request_assign", args=[review.pk])
    form = client.get(url)
    choices = dict(form.context["form"].fields["assessor"].choices)
    assert str(second.pk) in choices and str(first.pk) not in choices
    check = client.post(url, {"assessor": second.pk})
    assert "Check your answers" in check.content.decode()
    client.post(url, {"assessor": second.pk, "confirm": "yes", "form_token": check.context["token"]})
    review.refresh_from_db()
    assert review.state == "assigned" and review.assessor == second


def test_the_reviewer_decides_changed_and_the_application_takes_the_new_grade(application):
    """R-ASM-6: the decision page compares the two assessments; confirmed, changed applies at once."""
    review = review_request_create(application=application, reason="first", actor=actor("intake"))
    _, second = login("assessor", username="second-assessor")
    review_request_assign(review_request=review, assessor=second, actor=actor("lead"))
    asm_services.assessment_create(
        application=application,
        assessed_on=timezone.localdate(),
        items=items_with_total(GRADE_TOTALS[4]),
        complete=True,
        actor=actor("second-assessor"),
    )
    client, _ = login("reviewer")
    url = reverse("staff:review_request_decide", args=[review.pk])
    form = client.get(url)
    assert form.context["form"].initial["outcome"] == "changed"
    check = client.post(url, {"outcome": "changed"})
    assert "Check your answers" in check.content.decode()
    client.post(url, {"outcome": "changed", "confirm": "yes", "form_token": check.context["token"]})
    review.refresh_from_db()
    application.refresh_from_db()
    assert review.outcome == "changed"
    assert application.current_assessment.grade == 4


def test_overdue_re_reviews_are_listed_on_the_reviewers_dashboard():
    """R-ASM-6: overdue ones are listed on the reviewers' dashboard (due 30 Nov 2026 for 2 Nov)."""
    FacilityFactory(code="YX01")
    with time_machine.travel(dt.datetime(2026, 10, 20, 10, 0, tzinfo=SHANGHAI)):
        application = queued_application(grade=2, choices=["YX01"])
    with time_machine.travel(dt.datetime(2026, 11, 2, 15, 0, tzinfo=SHANGHAI)):
        review = review_request_create(application=application, reason="first", actor=actor("intake"))
    client, _ = login("reviewer")
    detail = reverse("staff:review_request", args=[review.pk])
    with time_machine.travel(dt.datetime(2026, 11, 30, 12, 0, tzinfo=SHANGHAI)):
        assert detail not in client.get(reverse("staff:dashboard")).content.decode()
    with time_machine.travel(dt.datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)):
        page = client.get(reverse("staff:dashboard")).content.decode()
    assert "Overdue re-reviews" in page and detail in page


def test_the_family_sees_the_re_review_and_its_outcome_on_the_status_page(application):
    """R-ASM-6: the family sees the re-review and its outcome on the status page, and is notified."""
    cache.clear()
    code = app_services.lookup_code_issue(application=application, actor=actor("intake"))
    review = review_request_create(application=application, reason="first", actor=actor("intake"))
    status = Client().post(
        reverse("portal:status"), {"reference": application.reference, "code": code}, HTTP_ACCEPT_LANGUAGE="en"
    )
    page = status.content.decode()
    assert 'id="re-review-heading"' in page and "Being re-reviewed" in page
    _, second = login("assessor", username="second-assessor")
    review_request_assign(review_request=review, assessor=second, actor=actor("lead"))
    asm_services.assessment_create(
        application=application,
        assessed_on=timezone.localdate(),
        items=items_with_total(GRADE_TOTALS[2]),
        complete=True,
        actor=actor("second-assessor"),
    )
    review_request_decide(review_request=review, outcome="upheld", reason="Same needs", actor=actor("reviewer-2"))
    page = (
        Client()
        .post(reverse("portal:status"), {"reference": application.reference, "code": code}, HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )
    assert "Upheld: the first assessment stands." in page
    assert Notification.objects.filter(application=application, kind="review_requested").exists()
    assert Notification.objects.filter(application=application, kind="review_decided").exists()
    cache.clear()
