"""Reminders: one working day before the response deadline (R-OFF-6), 30 days before an
assessment expires (R-ASM-5); each sent once."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from admissions.models import Notification, Offer
from admissions.services.reminders import assessment_reminders_send, offer_reminders_send, working_day_before
from tests.factories import FacilityFactory, add_beds, queued_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_working_day_before_skips_weekends_and_holidays():
    """R-OFF-2: the day before Thursday 8 October 2026 that is worked is Wednesday 30 September."""
    assert working_day_before(dt.date(2026, 10, 8)) == dt.date(2026, 9, 30)
    assert working_day_before(dt.date(2026, 11, 30)) == dt.date(2026, 11, 27)


def test_an_offer_reminder_goes_out_once_on_the_working_day_before_the_deadline():
    """R-OFF-6: made Monday 2 Nov 2026, due Monday 9 Nov; reminded on Friday 6 Nov, once."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, tzinfo=SHANGHAI)):
        application = queued_application(grade=3, choices=["YX01"])
    offer = Offer.objects.get(application=application)
    assert offer.respond_by.astimezone(SHANGHAI).date() == dt.date(2026, 11, 9)
    with time_machine.travel(dt.datetime(2026, 11, 5, 18, tzinfo=SHANGHAI)):
        assert offer_reminders_send() == 0
    with time_machine.travel(dt.datetime(2026, 11, 6, 8, tzinfo=SHANGHAI)):
        assert offer_reminders_send() == 1
        assert offer_reminders_send() == 0
    assert Notification.objects.filter(application=application, kind="offer_reminder").count() == 1


def test_an_assessment_reminder_goes_out_once_within_thirty_days_of_expiry():
    """R-ASM-5: reassessment_reminder_days (30) before valid_until."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=3)
    with time_machine.travel(dt.datetime(2026, 1, 5, 10, tzinfo=SHANGHAI)):
        application = queued_application(grade=3, choices=["YX01"])
    valid_until = application.current_assessment.valid_until
    assert assessment_reminders_send(today=valid_until - dt.timedelta(days=31)) == 0
    assessment_reminders_send(today=valid_until - dt.timedelta(days=30))
    assessment_reminders_send(today=valid_until - dt.timedelta(days=29))
    assert Notification.objects.filter(application=application, kind="assessment_reminder").count() == 1
