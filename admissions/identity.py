"""R-APP-1: the resident ID number (GB 11643), checked with python-stdnum.

Only its check-digit and birth-date helpers are used. Its `validate` also checks the place code
against the birth date and wrongly rejects people born before their district's code existed
(越秀 440104 dates from 1983), so the place part is checked for shape only.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

# The provinces of GB/T 2260 (the first two digits of the place code): a number from any other
# "province" (99, say) is mistyped, whatever its check character says.
PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"}
    | {"71", "81", "82"}
)


def normalise_id_number(value: str) -> str:
    return "".join(str(value).split()).upper()


def id_number_errors(id_number: str, *, date_of_birth: dt.date | None, sex: str | None) -> dict[str, list[str]]:
    """Field errors, each saying which check failed; empty when the number is good."""
    number = normalise_id_number(id_number)
    if len(number) != 18:
        return {"applicant.id_number": [_("must be 18 characters, not %(length)s") % {"length": len(number)}]}
    # isascii: "¹" and "١" are digits to str.isdigit but not to int().
    if not number.isascii() or not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return {"applicant.id_number": [_("must be 17 digits and a final digit or X")]}
    if number[:2] not in PROVINCE_CODES:
        return {"applicant.id_number": [_("the first six digits are not a place code")]}
    if ric.calc_check_digit(number) != number[17]:
        return {"applicant.id_number": [_("the check character is wrong")]}
    try:
        born = ric.get_birth_date(number)
    except StdnumError:
        return {"applicant.id_number": [_("digits 7–14 are not a valid birth date")]}
    if born > timezone.localdate():
        return {"applicant.id_number": [_("digits 7–14 are a birth date in the future")]}
    errors: dict[str, list[str]] = {}
    if date_of_birth is not None and born != date_of_birth:
        errors["applicant.date_of_birth"] = [
            _("does not match the birth date in the ID number (%(date)s)") % {"date": born.isoformat()}
        ]
    if sex is not None and sex_from_id_number(number) != sex:
        errors["applicant.sex"] = [_("does not match the sex digit of the ID number")]
    return errors


def birth_date_from_id_number(id_number: str) -> dt.date:
    return ric.get_birth_date(normalise_id_number(id_number))


def sex_from_id_number(id_number: str) -> str:
    """The 17th digit: odd for men, even for women."""
    return "M" if int(normalise_id_number(id_number)[16]) % 2 == 1 else "F"


def age_on(date_of_birth: dt.date, on: dt.date) -> int:
    """Whole years; someone born on 29 February turns a year older on 1 March in common years."""
    years = on.year - date_of_birth.year
    if (on.month, on.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years
