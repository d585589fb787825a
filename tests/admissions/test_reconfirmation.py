"""R-CHG-3 re-confirmation: the yearly ask, the reminder 7 days before the grace runs out, the
suspension `not_reconfirmed`, confirming later (resumes with `queued_at` kept, or stays suspended
when the assessment has expired), a live offer as a confirmation, suspended applications not asked,
and the first asks spread over 30 days by reference. The numbers come from tests/spec.py."""

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.core.cache import cache

from admissions.models import Application, ApplicationEvent, Notification, Offer, Reconfirmation, WebhookDelivery
from admissions.policy import PolicyParameters
from admissions.services import applications as app_services
from admissions.services.allocation import allocation_run
from admissions.services.lookup import LookupLocked, LookupNotFound, public_lookup, public_reconfirm
from admissions.services.reconfirmation import (
    reconfirm,
    reconfirm_due,
    reconfirmation_ask_due,
    spread_days,
    unconfirmed_applications,
)
from admissions.services.webhooks import webhook_subscribe
from core.errors import WrongState
from facilities.models import Facility
from facilities.roles import roles_assign
from tests import spec
from tests.factories import FacilityFactory, actor, add_beds, queued_application, reassessed

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
QUEUED = dt.datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI)
DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)
# The first ask: a year (the interval) after queued_at, the rule having taken effect long before.
ASKED = QUEUED + spec.RECONFIRM_INTERVAL_DAYS * DAY
GRACE_ENDS = ASKED + spec.RECONFIRM_GRACE_DAYS * DAY
REMINDER = GRACE_ENDS - spec.RECONFIRM_REMINDER_DAYS_BEFORE * DAY


@pytest.fixture(autouse=True)
def _rule_in_force_long_before(settings):
    settings.RECONFIRMATION_IN_FORCE_FROM = "2025-06-01"
    cache.clear()
    yield
    cache.clear()


def at(moment: dt.datetime):
    return time_machine.travel(moment, tick=False)


def sweep(moment: dt.datetime) -> dict[str, int]:
    with at(moment):
        return reconfirmation_ask_due()


@pytest.fixture
def waiting() -> Application:
    with at(QUEUED):
        FacilityFactory(code="YX01")
        application = queued_application(choices=["YX01"], contact_email="daughter@example.org")
    assert application.state == "waiting" and application.queued_at == QUEUED
    return application


def lapsed(application: Application) -> Application:
    sweep(ASKED + MINUTE)
    assert sweep(GRACE_ENDS + MINUTE)["suspended"] == 1
    application.refresh_from_db()
    assert application.state == "suspended"
    return application


def test_the_spec_numbers_are_the_policy_defaults_and_the_rule_constants():
    """R-CHG-3: interval 365 days, grace 30 days, reminder 7 days before, spread over 30 days."""
    from admissions.services import reconfirmation

    params = PolicyParameters()
    assert params.reconfirm_interval_days == spec.RECONFIRM_INTERVAL_DAYS
    assert params.reconfirm_grace_days == spec.RECONFIRM_GRACE_DAYS
    assert reconfirmation.REMINDER_DAYS_BEFORE == spec.RECONFIRM_REMINDER_DAYS_BEFORE
    assert reconfirmation.SPREAD_DAYS == spec.RECONFIRM_SPREAD_DAYS


def test_the_family_is_asked_a_year_after_queued_at_by_sms_and_email_in_their_language(
    waiting, settings, django_capture_on_commit_callbacks
):
    """R-CHG-3: the ask is due reconfirm_interval_days after queued_at; once; SMS and email; event
    `reconfirmation_requested`; webhook `reconfirmation.requested`."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # R-SEC-5: a loopback receiver is listed explicitly
    webhook_subscribe(
        url="http://127.0.0.1:9/hook", events=["reconfirmation.requested"], secret="s" * 20, actor=actor("admin")
    )
    assert sweep(ASKED - MINUTE)["asked"] == 0
    with django_capture_on_commit_callbacks(execute=False):
        assert sweep(ASKED + MINUTE)["asked"] == 1
    assert sweep(ASKED + 2 * MINUTE)["asked"] == 0  # once
    ask = Reconfirmation.objects.get(application=waiting)
    assert ask.respond_by == ASKED + MINUTE + spec.RECONFIRM_GRACE_DAYS * DAY
    sent = Notification.objects.filter(application=waiting, kind="reconfirm_request")
    assert sorted(sent.values_list("channel", flat=True)) == ["email", "sms"]
    assert all(n.language == "zh-hans" and "确认" in n.body for n in sent)  # the family's language
    assert ApplicationEvent.objects.filter(application=waiting, transition="reconfirmation_requested").count() == 1
    assert WebhookDelivery.objects.filter(type="reconfirmation.requested").count() == 1
    with at(ASKED + MINUTE):
        assert reconfirm_due(waiting) == GRACE_ENDS.date()
        assert list(unconfirmed_applications()) == [waiting]


def test_one_reminder_goes_7_days_before_the_grace_runs_out(waiting):
    """R-CHG-3: the reminder, once, reconfirm_grace_days − 7 days after the ask."""
    sweep(ASKED)
    assert sweep(REMINDER - MINUTE)["reminded"] == 0
    assert sweep(REMINDER + MINUTE)["reminded"] == 1
    assert sweep(REMINDER + 2 * MINUTE)["reminded"] == 0
    assert Notification.objects.filter(application=waiting, kind="reconfirm_reminder", channel="sms").count() == 1


def test_without_a_confirmation_the_application_is_suspended_not_reconfirmed_when_the_grace_runs_out(
    waiting, settings, django_capture_on_commit_callbacks
):
    """R-CHG-3: suspended by the system with reason `not_reconfirmed`, queued_at kept; webhook
    `reconfirmation.lapsed`; still counted as unconfirmed."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    webhook_subscribe(
        url="http://127.0.0.1:9/hook", events=["reconfirmation.lapsed"], secret="s" * 20, actor=actor("admin")
    )
    sweep(ASKED)
    assert sweep(GRACE_ENDS - MINUTE)["suspended"] == 0
    with django_capture_on_commit_callbacks(execute=False):
        assert sweep(GRACE_ENDS + MINUTE)["suspended"] == 1
    waiting.refresh_from_db()
    assert waiting.state == "suspended" and waiting.queued_at == QUEUED
    event = ApplicationEvent.objects.filter(application=waiting, transition="suspend").get()
    assert event.reason == "not_reconfirmed" and event.actor_kind == "system"
    assert WebhookDelivery.objects.filter(type="reconfirmation.lapsed").count() == 1
    assert Notification.objects.filter(application=waiting, kind="reconfirm_lapsed").exists()
    assert list(unconfirmed_applications()) == [waiting]
    assert sweep(GRACE_ENDS + DAY) == dict.fromkeys(
        ("asked", "reminded", "suspended", "confirmed_by_offer", "cancelled"), 0
    )


def test_a_confirmation_in_time_keeps_it_waiting_and_the_next_ask_is_a_year_later(waiting):
    """R-CHG-3: asked again reconfirm_interval_days after each confirmation."""
    sweep(ASKED)
    confirmed_at = ASKED + 3 * DAY
    with at(confirmed_at):
        reconfirm(application=waiting, actor=actor("intake"))
    assert sweep(GRACE_ENDS + MINUTE)["suspended"] == 0
    waiting.refresh_from_db()
    assert waiting.state == "waiting"
    assert ApplicationEvent.objects.filter(application=waiting, transition="reconfirmed").count() == 1
    assert sweep(confirmed_at + spec.RECONFIRM_INTERVAL_DAYS * DAY - MINUTE)["asked"] == 0
    assert sweep(confirmed_at + spec.RECONFIRM_INTERVAL_DAYS * DAY + MINUTE)["asked"] == 1


def test_confirming_after_the_suspension_resumes_it_with_queued_at_kept(waiting):
    """R-CHG-3: confirming later resumes the application (its assessment renewed meanwhile)."""
    reassessed(waiting, QUEUED + 300 * DAY)
    application = lapsed(waiting)
    with at(GRACE_ENDS + 5 * DAY):
        reconfirm(application=application, actor=actor("intake"))
    application.refresh_from_db()
    assert application.state == "waiting" and application.queued_at == QUEUED
    transitions = list(ApplicationEvent.objects.filter(application=application).values_list("transition", flat=True))
    assert transitions[-2:] == ["reconfirmed", "resume"]
    assert list(unconfirmed_applications()) == []


def test_staff_resuming_an_application_suspended_not_reconfirmed_is_recorded_as_its_confirmation(waiting):
    """R-CHG-3: the ordinary Resume of an application paused for want of a confirmation is taken on
    the family's word: a staff confirmation is recorded before the resume, it is no longer
    unconfirmed, and the next ask falls reconfirm_interval_days after it (not a cancelled ask)."""
    reassessed(waiting, QUEUED + 300 * DAY)
    application = lapsed(waiting)
    resumed_at = GRACE_ENDS + 5 * DAY
    with at(resumed_at):
        app_services.application_resume(
            application=application, reason="The daughter called: they still want to wait.", actor=actor("intake")
        )
    application.refresh_from_db()
    assert application.state == "waiting" and application.queued_at == QUEUED
    ask = Reconfirmation.objects.get(application=application)
    assert ask.confirmed_at == resumed_at and ask.confirmed_via == "staff" and ask.cancelled_at is None
    transitions = list(ApplicationEvent.objects.filter(application=application).values_list("transition", flat=True))
    assert transitions[-2:] == ["reconfirmed", "resume"]
    assert list(unconfirmed_applications()) == []
    assert sweep(resumed_at + DAY)["cancelled"] == 0
    next_ask = resumed_at + spec.RECONFIRM_INTERVAL_DAYS * DAY
    assert sweep(next_ask - MINUTE)["asked"] == 0
    assert sweep(next_ask + MINUTE)["asked"] == 1


def test_resuming_an_application_suspended_for_another_reason_records_no_confirmation(waiting):
    """R-CHG-3: only a pause for want of a confirmation is confirmed by resuming it; a hospital stay
    is not: the open ask stays unanswered."""
    reassessed(waiting, QUEUED + 300 * DAY)
    sweep(ASKED)
    with at(ASKED + DAY):
        app_services.application_suspend(application=waiting, reason="in hospital", actor=actor("intake"))
    with at(ASKED + 2 * DAY):
        app_services.application_resume(application=waiting, reason="home again", actor=actor("intake"))
    assert not ApplicationEvent.objects.filter(application=waiting, transition="reconfirmed").exists()
    assert Reconfirmation.objects.get(application=waiting).confirmed_at is None


def test_confirming_after_the_assessment_expired_is_recorded_but_it_stays_suspended_and_staff_are_told(
    waiting, django_capture_on_commit_callbacks
):
    """R-CHG-3: the assessment (valid a year from QUEUED) expired meanwhile: recorded, stays
    suspended, the intake officers are emailed."""
    officer = User.objects.create_user("intake-li", email="li@intake.example")
    roles_assign(user=officer, roles=["intake"])
    application = lapsed(waiting)
    mail.outbox.clear()
    with at(GRACE_ENDS + 5 * DAY), django_capture_on_commit_callbacks(execute=True):
        reconfirm(application=application, actor=actor("intake"))
    application.refresh_from_db()
    assert application.state == "suspended"
    event = ApplicationEvent.objects.filter(application=application, transition="reconfirmed").get()
    assert event.data["assessment_expired"] is True
    assert [m.to for m in mail.outbox] == [["li@intake.example"]]
    assert application.reference in mail.outbox[0].subject
    assert list(unconfirmed_applications()) == []  # confirmed; what is missing now is the assessment


def test_a_live_offer_counts_as_a_confirmation(waiting):
    """R-CHG-3: an offer made during the grace confirms the open ask; no suspension follows."""
    reassessed(waiting, QUEUED + 300 * DAY)
    sweep(ASKED)
    with at(ASKED + 2 * DAY):
        home = Facility.objects.get(code="YX01")
        add_beds(home, nursing=1, status="vacant")
        allocation_run(facility=home, trigger="bed_added")
    assert Offer.objects.filter(application=waiting, state="pending").exists()
    assert sweep(ASKED + 3 * DAY)["confirmed_by_offer"] == 1
    ask = Reconfirmation.objects.get(application=waiting)
    assert ask.confirmed_via == "offer"
    assert sweep(GRACE_ENDS + MINUTE)["suspended"] == 0


def test_an_application_holding_an_offer_when_due_is_not_asked(waiting):
    """R-CHG-3: a live offer counts as a confirmation: recorded instead of an ask."""
    with at(ASKED - DAY):
        home = Facility.objects.get(code="YX01")
        add_beds(home, nursing=1, status="vacant")
        allocation_run(facility=home, trigger="bed_added")
    waiting.refresh_from_db()
    assert waiting.state == "offered"
    assert sweep(ASKED + MINUTE) == {
        "asked": 0,
        "reminded": 0,
        "suspended": 0,
        "confirmed_by_offer": 1,
        "cancelled": 0,
    }
    assert not Notification.objects.filter(kind="reconfirm_request").exists()


def test_suspended_applications_are_not_asked(waiting):
    """R-CHG-3: an application suspended by staff (in hospital) gets no ask."""
    with at(ASKED - DAY):
        app_services.application_suspend(application=waiting, reason="in hospital", actor=actor("intake"))
    assert sweep(ASKED + MINUTE)["asked"] == 0
    assert sweep(GRACE_ENDS + MINUTE)["suspended"] == 0
    assert not Reconfirmation.objects.exists()


def test_an_open_ask_is_cancelled_when_staff_suspend_the_application(waiting):
    """R-CHG-3: not asked while suspended: the open ask ends and no suspension `not_reconfirmed` follows."""
    sweep(ASKED)
    with at(ASKED + DAY):
        app_services.application_suspend(application=waiting, reason="in hospital", actor=actor("intake"))
    assert sweep(ASKED + 2 * DAY)["cancelled"] == 1
    assert list(unconfirmed_applications()) == []


def test_confirming_an_application_outside_the_queue_is_refused_and_changes_nothing():
    """R-CHG-3, R-FSM-3: only a queued application can be confirmed (409 names the state)."""
    from tests.factories import submitted_application

    FacilityFactory(code="YX01")
    application = submitted_application(choices=["YX01"])
    with pytest.raises(WrongState) as refused:
        reconfirm(application=application, actor=actor("intake"))
    assert "submitted" in refused.value.message
    assert not Reconfirmation.objects.exists()


def test_the_spread_by_reference_covers_the_30_days_evenly():
    """R-CHG-3: first asks spread over the following 30 days by reference, so no city-wide burst."""
    days = Counter(spread_days(f"2026-{n:06d}") for n in range(3000))
    assert set(days) == set(range(spec.RECONFIRM_SPREAD_DAYS))
    assert max(days.values()) < 2 * 3000 / spec.RECONFIRM_SPREAD_DAYS


def test_first_asks_fall_30_to_60_days_after_the_rule_takes_effect_spread_by_reference(settings):
    """R-CHG-3: applications queued long before the rule are asked at the later of queued_at + the
    interval and 30 days after the rule takes effect, spread over the following 30 days."""
    settings.RECONFIRMATION_IN_FORCE_FROM = "2026-12-07"
    in_force = dt.datetime(2026, 12, 7, tzinfo=SHANGHAI)
    with at(dt.datetime(2024, 6, 3, 10, 0, tzinfo=SHANGHAI)):
        FacilityFactory(code="YX01")
        old = [
            queued_application(choices=["YX01"], name=f"李{'一二三四五六'[i]}", date_of_birth=dt.date(1940, 1, 1 + i))
            for i in range(6)
        ]
    reassessed_on = in_force + 10 * DAY
    for application in old:
        reassessed(application, reassessed_on)
    with at(dt.datetime(2026, 11, 1, 10, 0, tzinfo=SHANGHAI)):  # queued_at + interval falls in the window
        late = queued_application(choices=["YX01"], name="王芳", date_of_birth=dt.date(1938, 1, 1))
    asked_on = {}
    moment = in_force
    while moment < in_force + 70 * DAY:
        sweep(moment)
        for ask in Reconfirmation.objects.exclude(application_id__in=asked_on):
            asked_on[ask.application_id] = (moment - in_force).days
        moment += DAY
    for application in old:
        day = asked_on[application.pk]
        assert spec.RECONFIRM_SPREAD_DAYS <= day < 2 * spec.RECONFIRM_SPREAD_DAYS  # day 30…59
    assert len({asked_on[a.pk] for a in old}) > 1  # not all on one day
    # Queued 1 Nov 2026: its year runs out on 1 Nov 2027, well after the window.
    assert late.pk not in asked_on


# --- the family confirms (public, under the lookup's limits) -----------------------------------------
def _code_for(application: Application) -> str:
    return app_services.lookup_code_issue(application=application, actor=actor("intake"))


def test_the_family_confirms_with_reference_and_code_and_it_resumes(waiting):
    """R-CHG-3: the family's confirmation (status page) resumes an application suspended `not_reconfirmed`."""
    reassessed(waiting, QUEUED + 300 * DAY)
    application = lapsed(waiting)
    code = _code_for(application)
    with at(GRACE_ENDS + DAY):
        public_reconfirm(reference=application.reference, code=code.lower(), client_address="203.0.113.9")
    application.refresh_from_db()
    assert application.state == "waiting"
    event = ApplicationEvent.objects.filter(application=application, transition="reconfirmed").get()
    assert event.actor_kind == "family" and event.data["via"] == "family"


def test_a_public_confirmation_is_rate_limited_like_the_lookup(waiting):
    """R-CHG-3 with R-PUB-2: wrong codes count as failed lookups; once the reference is locked even
    the right code is refused, and nothing is confirmed."""
    sweep(ASKED)
    code = _code_for(waiting)
    with at(ASKED + DAY):
        for n in range(spec.LOOKUP_FAILURES_PER_REFERENCE):
            with pytest.raises(LookupNotFound):
                public_reconfirm(reference=waiting.reference, code="ZZZZZZ", client_address=f"198.51.100.{n}")
        with pytest.raises(LookupLocked):
            public_reconfirm(reference=waiting.reference, code=code, client_address="203.0.113.50")
        with pytest.raises(LookupLocked):  # one set of limits: the lookup is locked too
            public_lookup(reference=waiting.reference, code=code, client_address="203.0.113.51")
    assert Reconfirmation.objects.get(application=waiting).confirmed_at is None
