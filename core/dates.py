"""Dates and times as people read them (issue 15: one format per language, on every page and in every
message): the DATE_FORMAT and DATETIME_FORMAT of the language being rendered (config/formats), in
local time. Templates use the same names (`|date:"DATE_FORMAT"`); Python code that writes a date into
a sentence calls these, never strftime.

A notification's context is built before it is rendered in the applicant's language, so `*_later`
give a text that is formatted only when the message is (django.utils.functional.lazy)."""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone
from django.utils.functional import lazy


def shown_date(value: dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date()
    return formats.date_format(value, "DATE_FORMAT")


def shown_datetime(value: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


shown_date_later = lazy(shown_date, str)
shown_datetime_later = lazy(shown_datetime, str)
