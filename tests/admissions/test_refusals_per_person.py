"""R-OFF-5 (amended): refusals are counted per person across their applications; withdrawing with a
live offer counts as a refusal, and a withdrawal that reaches the limit removes and bars."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from admissions.models import Application, Offer
from admissions.services import applications as app_services
from admissions.services.offers import offer_accept, offer_decline, offer_fail_check, refusals_in_window
from tests import spec
from tests.factories import FacilityFactory, actor, add_beds, id_number, queued_application, submitted_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
BORN = dt.date(1940, 5, 6)
PERSON = id_number(BORN)


def _offer_to_person(home, *, nursing_beds=1):
    """A new application by the same person, queued at `home`, offered one of its new beds."""
    add_beds(home, nursing=nursing_beds, status="vacant")
    application = _queued_again(home)
    return application, Offer.objects.get(application=application, state="pending")


def _queued_again(home):
    """The person's first application goes through the whole flow; a later one within the
    assessment's validity reuses it (accept-for-assessment goes straight to review)."""
    if not Application.objects.filter(applicant__id_number=PERSON).exists():
        return queued_application(grade=3, choices=[home.code], id_number=PERSON, date_of_birth=BORN)
    application = submitted_application(choices=[home.code], id_number=PERSON, date_of_birth=BORN)
    application = app_services.application_accept_for_assessment(application=application, actor=actor("intake"))
    assert application.state == "review"
    return app_services.application_approve(
        application=application, categories=[], exemption=None, actor=actor("reviewer")
    )


def _withdraw(application):
    return app_services.application_withdraw(
        application=Application.objects.get(pk=application.pk), reason="family changed plans", actor=actor("intake")
    )


def test_withdrawing_and_applying_again_does_not_reset_the_count_and_the_third_refusal_removes_and_bars():
    """R-OFF-5: 3 refusals within 365 days, counted per resident ID number; a withdrawal with a pending
    offer counts as declining it; a withdrawal that reaches the limit removes with refusal_limit and
    sets the bar (bar_days 365)."""
    home = FacilityFactory(code="YX01")
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start):
        first, offer = _offer_to_person(home)
        offer_decline(offer=offer, actor=actor("facility"))  # refusal 1
        _withdraw(first)
        assert refusals_in_window(first) == 1
    with time_machine.travel(start + dt.timedelta(days=30)):
        second, offer = _offer_to_person(home)
        assert refusals_in_window(second) == 1  # the new application starts from the person's count
        _withdraw(second)  # with a pending offer: refusal 2 (declined)
        offer.refresh_from_db()
        assert offer.state == "declined" and offer.is_refusal
        second.refresh_from_db()
        assert second.state == "withdrawn"
        assert second.events.get(transition="withdraw").data["counted_as"] == "declined"
    with time_machine.travel(start + dt.timedelta(days=60)):
        third, offer = _offer_to_person(home)
        assert refusals_in_window(third) == spec.REFUSAL_LIMIT - 1
        offer_accept(offer=offer, actor=actor("facility"))
        _withdraw(third)  # after accepting: a no-show, refusal 3 → the limit
        offer.refresh_from_db()
        assert offer.state == "failed_check" and offer.is_refusal and offer.reason == "no_show"
        third.refresh_from_db()
        assert third.state == "removed" and third.closing_reason == "refusal_limit"
        assert third.applicant.barred_until == (start + dt.timedelta(days=60)).date() + dt.timedelta(days=spec.BAR_DAYS)


def test_the_count_spans_the_window_of_365_days_across_applications():
    home = FacilityFactory(code="YX01")
    start = dt.datetime(2025, 3, 3, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start):
        first, offer = _offer_to_person(home)
        _withdraw(first)
    with time_machine.travel(start + dt.timedelta(days=spec.REFUSAL_WINDOW_DAYS - 1)):
        second, _ = _offer_to_person(home)
        assert refusals_in_window(second) == 1
    with time_machine.travel(start + dt.timedelta(days=spec.REFUSAL_WINDOW_DAYS + 1)):
        assert refusals_in_window(second) == 0


def test_withdrawing_without_an_offer_is_not_a_refusal():
    FacilityFactory(code="YX01")
    application = queued_application(grade=3, choices=["YX01"], id_number=PERSON, date_of_birth=BORN)
    _withdraw(application)
    assert refusals_in_window(application) == 0


def test_the_api_refusals_count_is_the_persons_count_in_the_window():
    """API.md: `refusals.count` is the person's count (R-OFF-5), on the list and the detail."""
    from tests.api.helpers import client_as, url

    home = FacilityFactory(code="YX01")
    first, offer = _offer_to_person(home)
    offer_decline(offer=offer, actor=actor("facility"))
    _withdraw(first)
    second, _ = _offer_to_person(home)
    client = client_as("intake")
    detail = client.get(url(f"applications/{second.reference}/")).json()
    assert detail["refusals"] == {"count": 1, "window_days": spec.REFUSAL_WINDOW_DAYS}
    listed = {r["reference"]: r["refusals"]["count"] for r in client.get(url("applications/")).json()["results"]}
    assert listed[second.reference] == 1 and listed[first.reference] == 1


def test_an_offer_closed_without_a_refusal_is_not_counted_r_off_5():
    """R-OFF-5 counts declines, expiries and no-shows only: an admission check failed for another
    reason closes the offer without counting."""
    home = FacilityFactory(code="YX01")
    first, offer = _offer_to_person(home)
    offer_decline(offer=offer, reason="too far", actor=actor("intake"))
    _withdraw(first)
    second, offer = _offer_to_person(home)
    offer_accept(offer=offer, actor=actor("facility"))
    offer_fail_check(offer=offer, reason="other", note="family moved away", actor=actor("facility"))
    assert Offer.objects.get(pk=offer.pk).closed_at is not None
    assert refusals_in_window(Application.objects.get(pk=second.pk)) == 1
