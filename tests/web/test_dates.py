"""One date format per language (issue 15): every page and message says a date the same way, the
English "4 March 2026" and the Chinese "2026年3月4日" (config/formats, read by core.dates and by the
templates' DATE_FORMAT / DATETIME_FORMAT); no page shows 2026-03-04 beside them."""

from __future__ import annotations

import datetime as dt
import html
import re
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import translation

from admissions.services.applications import lookup_code_issue
from core.dates import shown_date, shown_datetime
from tests.factories import FacilityFactory, actor, add_beds, queued_application

ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
TAG = re.compile(r"<[^>]+>|<script.*?</script>", re.S)


@pytest.mark.parametrize(
    ("language", "date", "moment"),
    [("en", "4 March 2026", "4 March 2026, 09:05"), ("zh-hans", "2026年3月4日", "2026年3月4日 09:05")],
)
def test_a_date_and_a_moment_read_the_same_way_everywhere_in_each_language(language, date, moment):
    at = dt.datetime(2026, 3, 4, 9, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    with translation.override(language):
        assert shown_date(at.date()) == date and shown_date(at) == date
        assert shown_datetime(at) == moment


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_status_page_with_an_offer_says_each_date_in_the_one_format_of_its_language(language):
    cache.clear()
    add_beds(FacilityFactory(code="YX01"), nursing=1, status="vacant")
    application = queued_application(choices=["YX01"])
    code = lookup_code_issue(application=application, actor=actor("intake"))
    offer = application.offers.get()
    with translation.override(language):
        url = reverse("portal:status")
        deadline = shown_datetime(offer.respond_by)
    page = Client().post(url, {"reference": application.reference, "code": code}, follow=True).content.decode()
    text = html.unescape(TAG.sub(" ", page))
    assert text.count(deadline) >= 2, deadline  # the offer's facts and the next steps say it alike
    assert ISO_DATE.findall(text) == []


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_status_page_of_a_waiting_family_says_the_assessments_end_in_the_one_format(language):
    """R-ASM-5: the next steps name the day the assessment runs out (it said 2027-04-13)."""
    cache.clear()
    FacilityFactory(code="YX01")
    application = queued_application(choices=["YX01"])
    code = lookup_code_issue(application=application, actor=actor("intake"))
    with translation.override(language):
        url = reverse("portal:status")
        valid_until = shown_date(application.current_assessment.valid_until)
    page = Client().post(url, {"reference": application.reference, "code": code}, follow=True).content.decode()
    text = html.unescape(TAG.sub(" ", page))
    assert valid_until in text
    assert ISO_DATE.findall(text) == []
