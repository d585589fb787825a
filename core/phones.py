"""Phone numbers (R-SEC-9): validated and stored in one normal form, by Google's libphonenumber
(the `phonenumbers` package), shared by the staff forms, the API and the data migration. In core,
because applicants', contacts' and homes' phones (facilities) all follow it.

Accepted: a mainland mobile number (13812345678), a mainland landline with its area code
(020-12345678, (020) 1234 5678), or an international number starting with + or 00 (+852 9123 4567).
Stored: mainland numbers as their national digits (13812345678, 02012345678), so an SMS gateway and
a person read them as usual; any other country's as E.164 (+85291234567). Nothing but digits,
spaces, dots, dashes, brackets and one leading + is accepted, so `=1+1` or `<script>` never reach
the database, a page or an export.
"""

from __future__ import annotations

import re

import phonenumbers
from django.utils.translation import gettext_lazy as _

PHONE_MAX_LENGTH = 30
_CHARACTERS = re.compile(r"^\+?[0-9 ()\-.]+$")
_MAINLAND_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}
PHONE_RULE = _(
    "must be a phone number: a mainland mobile (13812345678), a landline with its area code "
    "(020-12345678) or an international number starting with +"
)


class InvalidPhone(ValueError):
    pass


def normalise_phone(value: str | None) -> str:
    """The stored form of `value` ("" for an empty one); InvalidPhone when it is not a phone number."""
    text = (value or "").strip()
    if not text:
        return ""
    if len(text) > PHONE_MAX_LENGTH or not _CHARACTERS.match(text):
        raise InvalidPhone(text)
    digits = re.sub(r"[^0-9+]", "", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    try:
        number = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(text) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(text)
    if number.country_code == 86:
        if phonenumbers.number_type(number) not in _MAINLAND_TYPES:
            raise InvalidPhone(text)
        national = phonenumbers.national_significant_number(number)
        return national if national.startswith("1") else "0" + national
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_errors(value: str | None, path: str) -> dict[str, list[str]]:
    """{path: [the rule]} when `value` is not a phone number; {} when it is (or is empty)."""
    try:
        normalise_phone(value)
    except InvalidPhone:
        return {path: [str(PHONE_RULE)]}
    return {}
