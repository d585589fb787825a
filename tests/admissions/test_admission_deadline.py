"""R-OFF-7: the admission deadline — reminder, overdue, one extension, and the system's no_show after
the grace, in the same sweep as offer expiry (API.md `expire_offers --now`)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command

from admissions.models import Application, Notification, Offer, WebhookDelivery
from admissions.services.admission_deadline import admission_reminders_send, offer_extend_admission, offers_sweep
from admissions.services.offers import offer_accept, offer_admit
from admissions.services.webhooks import webhook_subscribe
from core.errors import RuleViolation
from facilities.roles import roles_assign
from tests import spec
from tests.api.helpers import assert_problem, client_as, url
from tests.factories import FacilityFactory, actor, add_beds, queued_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Accepted on Monday 2 March 2026 (no holiday near): admit_by is the end of the 5th working day after,
# Monday 9 March; the grace of 2 working days ends on Wednesday 11 March; an extension may reach
# 5 working days past 9 March, Monday 16 March.
ACCEPTED = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
ADMIT_BY = dt.datetime(2026, 3, 9, 23, 59, 59, tzinfo=SHANGHAI)
GRACE_ENDS = dt.datetime(2026, 3, 11, 23, 59, 59, tzinfo=SHANGHAI)
EXTENSION_LIMIT = dt.date(2026, 3, 16)


def at(*args):
    return time_machine.travel(dt.datetime(*args, tzinfo=SHANGHAI))


@pytest.fixture
def accepted():
    """An accepted offer of YX01's one nursing bed, a second candidate queued behind it, and a
    facility officer of YX01 with an email address."""
    with time_machine.travel(ACCEPTED):
        home = FacilityFactory(code="YX01")
        add_beds(home, nursing=1, status="vacant")
        first = queued_application(grade=4, choices=["YX01"])
        offer = Offer.objects.get(application=first, state="pending")
        queued_application(grade=2, choices=["YX01"], name="王芳", date_of_birth=dt.date(1938, 1, 1))
        offer_accept(offer=offer, actor=actor("facility"))
    officer = User.objects.create_user("yx01-officer", email="officer@yx01.example")
    roles_assign(user=officer, roles=["facility"], facility=home)
    offer.refresh_from_db()
    assert offer.admit_by == ADMIT_BY
    return offer


def test_spec_numbers_are_the_policy_defaults():
    from admissions.policy import PolicyParameters

    params = PolicyParameters()
    assert params.admission_extension_working_days == spec.ADMISSION_EXTENSION_WORKING_DAYS
    assert params.admission_grace_working_days == spec.ADMISSION_GRACE_WORKING_DAYS


def test_the_family_and_the_facility_are_reminded_one_working_day_before_admit_by(
    accepted, django_capture_on_commit_callbacks
):
    with at(2026, 3, 5, 9, 0):  # Thursday: two working days before
        assert admission_reminders_send() == 0
    with at(2026, 3, 6, 9, 0), django_capture_on_commit_callbacks(execute=True):  # Friday: the working day before
        assert admission_reminders_send() == 1
        assert admission_reminders_send() == 0  # once
    reminder = Notification.objects.get(application_id=accepted.application_id, kind="admission_reminder")
    assert "2026年3月9日 23:59" in reminder.body  # the one Chinese date format (issue 15)
    assert [m.to for m in mail.outbox] == [["officer@yx01.example"]]


def test_an_admission_past_admit_by_is_overdue_told_once_and_can_still_be_recorded(
    accepted, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # R-SEC-5: a loopback receiver is listed explicitly
    webhook_subscribe(url="http://127.0.0.1:9/hook", events=["offer.overdue"], secret="s" * 20, actor=actor("admin"))
    client = client_as("reviewer")
    with at(2026, 3, 9, 23, 0):
        assert client.get(url(f"offers/{accepted.pk}/")).json()["overdue"] is False
        assert offers_sweep()["overdue_told"] == 0
    with at(2026, 3, 10, 8, 0), django_capture_on_commit_callbacks(execute=True):
        assert offers_sweep() == {"expired": 0, "overdue_told": 1, "no_shows": 0}
        assert offers_sweep()["overdue_told"] == 0  # told once
        assert client.get(url(f"offers/{accepted.pk}/")).json()["overdue"] is True
    assert [m.to for m in mail.outbox] == [["officer@yx01.example"]]
    assert WebhookDelivery.objects.filter(type="offer.overdue").count() == 1
    with at(2026, 3, 11, 12, 0):  # late, within the grace: the admission is still recorded
        offer_admit(offer=accepted, actor=actor("facility"))
    accepted.refresh_from_db()
    assert accepted.state == "admitted"


def test_the_sweep_records_a_no_show_two_working_days_after_admit_by_and_offers_the_bed_to_the_next(accepted):
    out = []
    call_command("expire_offers", now=(GRACE_ENDS - dt.timedelta(minutes=1)).isoformat(), stdout=_Collect(out))
    accepted.refresh_from_db()
    assert accepted.state == "accepted"
    call_command("expire_offers", now=(GRACE_ENDS + dt.timedelta(seconds=2)).isoformat(), stdout=_Collect(out))
    accepted.refresh_from_db()
    assert (accepted.state, accepted.reason, accepted.is_refusal) == ("failed_check", "no_show", True)
    application = Application.objects.get(pk=accepted.application_id)
    assert application.state == "waiting"
    event = application.events.get(transition="fail_admission_check")
    assert event.actor_kind == "system" and event.data["reason"] == "no_show"
    nxt = Offer.objects.exclude(pk=accepted.pk).get(bed=accepted.bed)
    assert nxt.state == "pending" and nxt.application_id != accepted.application_id
    assert "1 no-show(s)" in out[-1]


def test_one_extension_by_the_homes_officer_with_a_reason_at_most_five_working_days(accepted):
    officer = client_as("facility", facility=accepted.facility)
    other_home = FacilityFactory(code="YX02")
    stranger = client_as("facility", facility=other_home)
    path = url(f"offers/{accepted.pk}/extend-admission/")
    with at(2026, 3, 9, 15, 0):
        assert stranger.post(path, {"reason": "hospital", "admit_by": "2026-03-12"}, format="json").status_code in (
            403,
            404,
        )
        assert_problem(officer.post(path, {"admit_by": "2026-03-12"}, format="json"), 400, "reason")
        too_far = EXTENSION_LIMIT + dt.timedelta(days=1)
        body = assert_problem(
            officer.post(path, {"reason": "hospital", "admit_by": too_far.isoformat()}, format="json"), 422, "admit_by"
        )
        assert "2026年3月16日 23:59" in body["errors"]["admit_by"][0] and body["type"] == "/problems/R-OFF-7"
        accepted.refresh_from_db()
        assert accepted.admit_by == ADMIT_BY and accepted.admit_by_extended_at is None
        answer = officer.post(
            path, {"reason": "in hospital until the 13th", "admit_by": EXTENSION_LIMIT.isoformat()}, format="json"
        )
        assert answer.status_code == 200, answer.content
        assert answer.json()["admit_by"].startswith("2026-03-16T23:59:59")
        assert_problem(
            officer.post(path, {"reason": "again", "admit_by": "2026-03-16"}, format="json"), 422, "admit_by"
        )
    event = Application.objects.get(pk=accepted.application_id).events.get(transition="extend_admission")
    assert event.reason == "in hospital until the 13th"
    assert event.data["old"]["admit_by"].startswith("2026-03-09")
    # The grace now counts from the extended deadline: no-show after Wednesday 18 March.
    assert offers_sweep(now=dt.datetime(2026, 3, 18, 23, 0, tzinfo=SHANGHAI))["no_shows"] == 0
    assert offers_sweep(now=dt.datetime(2026, 3, 19, 0, 0, 1, tzinfo=SHANGHAI))["no_shows"] == 1


def test_an_extension_that_is_not_later_or_of_a_pending_offer_is_refused_and_changes_nothing(accepted):
    with at(2026, 3, 9, 15, 0):
        with pytest.raises(RuleViolation) as refused:
            offer_extend_admission(offer=accepted, admit_by=dt.date(2026, 3, 9), reason="x", actor=actor("facility"))
    assert "admit_by" in refused.value.errors
    accepted.refresh_from_db()
    assert accepted.admit_by_extended_at is None and accepted.admit_by == ADMIT_BY


class _Collect:
    def __init__(self, out):
        self.out = out

    def write(self, text):
        self.out.append(text)

    def flush(self):
        pass


def _logged_in(*roles, facility=None):
    from django.test import Client

    user = User.objects.create_user(f"page-{'-'.join(roles)}-{User.objects.count()}")
    roles_assign(user=user, roles=list(roles), facility=facility)
    client = Client()
    client.force_login(user)
    return client


def test_the_staff_page_extends_once_after_checking_the_answers(accepted):
    """R-OFF-7 page: form → check your answers → recorded (post/redirect/get); refused inputs are shown."""
    from django.urls import reverse

    client = _logged_in("facility", facility=accepted.facility)
    page_url = reverse("staff:offer_extend_admission", args=[accepted.pk])
    with at(2026, 3, 10, 9, 0):
        detail = client.get(reverse("staff:offer", args=[accepted.pk])).content.decode()
        assert page_url in detail and "overdue" in detail
        assert "16" in client.get(page_url).content.decode()  # the limit, 16 March
        too_far = client.post(
            page_url, {"admit_by": "2026-03-17", "reason": "hospital", "confirm": "yes", "form_token": "t1"}
        )
        assert too_far.status_code == 200 and "5 working days" in too_far.content.decode()
        check = client.post(page_url, {"admit_by": "2026-03-13", "reason": "hospital"})
        assert "Check your answers" in check.content.decode()
        accepted.refresh_from_db()
        assert accepted.admit_by_extended_at is None  # nothing until confirmed
        done = client.post(
            page_url, {"admit_by": "2026-03-13", "reason": "hospital", "confirm": "yes", "form_token": "t2"}
        )
        assert done.status_code == 302 and done["Location"] == reverse("staff:offer", args=[accepted.pk])
    accepted.refresh_from_db()
    assert accepted.admit_by == dt.datetime(2026, 3, 13, 23, 59, 59, tzinfo=SHANGHAI)
    assert "already been extended" in client.get(page_url).content.decode()
    other = _logged_in("facility", facility=FacilityFactory(code="YX02"))
    assert other.get(page_url).status_code == 403
    assert _logged_in("intake").get(page_url).status_code == 403


def test_overdue_admissions_are_on_the_facilitys_and_the_reviewers_dashboards(accepted):
    from django.urls import reverse

    facility = _logged_in("facility", facility=accepted.facility)
    reviewer = _logged_in("reviewer")
    with at(2026, 3, 9, 12, 0):
        assert "Overdue admissions" in reviewer.get(reverse("staff:dashboard")).content.decode()
        assert accepted.application.reference not in _overdue_part(reviewer)
    with at(2026, 3, 10, 9, 0):
        assert accepted.application.reference in _overdue_part(reviewer)
        assert accepted.application.reference in _overdue_part(facility)
        other = _logged_in("facility", facility=FacilityFactory(code="YX02"))
        assert accepted.application.reference not in _overdue_part(other)
        assert "Overdue admissions" not in _logged_in("intake").get(reverse("staff:dashboard")).content.decode()


def _overdue_part(client) -> str:
    from django.urls import reverse

    page = client.get(reverse("staff:dashboard")).content.decode()
    start = page.index('id="overdue-heading"')
    return page[start : page.index("</section>", start)]
