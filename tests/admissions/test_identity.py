"""R-APP-1: the resident ID number (GB 11643) checked part by part, and the birth date, sex and age
read from it (R-APP-2 judges age in whole years). Pure functions: no database."""

import datetime as dt

import pytest
from stdnum.cn import ric

from admissions.identity import (
    age_on,
    birth_date_from_id_number,
    id_number_errors,
    normalise_id_number,
    sex_from_id_number,
)

BORN = dt.date(1941, 3, 2)
FIELD = "applicant.id_number"


def number(place: str = "440104", born: dt.date = BORN, serial: str = "123") -> str:
    """A number with the right check character for its first 17 digits (digit 17 odd: a man)."""
    body = f"{place}{born:%Y%m%d}{serial}"
    return body + ric.calc_check_digit(body + "0")


def test_a_good_number_with_its_own_birth_date_and_sex_has_no_errors():
    """R-APP-1."""
    good = number(serial="123")
    assert id_number_errors(good, date_of_birth=BORN, sex="M") == {}
    assert id_number_errors(good, date_of_birth=None, sex=None) == {}


def test_the_number_is_read_without_spaces_and_with_a_capital_x():
    """R-APP-1: spaces anywhere are dropped, a lower-case x is read as X."""
    assert normalise_id_number(" 4401 0419 41\t0302 123x ") == "44010419410302123X"
    spaced = " ".join(number())
    assert id_number_errors(spaced.lower(), date_of_birth=BORN, sex="M") == {}


@pytest.mark.parametrize("length", [17, 19])
def test_a_number_of_any_length_but_18_is_refused(length):
    """R-APP-1: 18 characters."""
    good = number()
    given = good[:17] if length == 17 else good[:17] + "0" + good[17]
    assert list(id_number_errors(given, date_of_birth=BORN, sex="M")) == [FIELD]


@pytest.mark.parametrize(
    "bad",
    [
        "44010419410302１２３X",  # full-width digits: digits to str.isdigit, not ASCII
        "4401041941030212A5",  # a letter among the first 17
        "44010419410302123Y",  # a final character neither a digit nor X
        "X40104194103021235",  # X anywhere but last
    ],
)
def test_a_number_that_is_not_17_ascii_digits_and_a_digit_or_x_is_refused(bad):
    """R-APP-1."""
    assert list(id_number_errors(bad, date_of_birth=None, sex=None)) == [FIELD]


@pytest.mark.parametrize(
    "place",
    ["010104", "000000", "100104", "200104", "300104", "400104", "600104", "700104", "800104", "900104"]
    + ["990104", "190104", "470104", "720104"],  # issue 15: province 99 passed the live check
)
def test_a_place_code_no_province_has_is_refused(place):
    """R-APP-1: the first two digits name a province (11–82); 0x and x0 name none."""
    errors = id_number_errors(number(place=place), date_of_birth=None, sex=None)
    assert list(errors) == [FIELD] and "place code" in errors[FIELD][0]


@pytest.mark.parametrize("place", ["110101", "440104", "500101", "820000"])
def test_a_place_code_of_a_province_is_taken_for_its_shape(place):
    """R-APP-1: the place part is checked for shape only (a district code newer than the person is fine)."""
    assert id_number_errors(number(place=place), date_of_birth=BORN, sex=None) == {}


def test_a_wrong_check_character_is_refused_saying_so():
    """R-APP-1: the ISO 7064 check character over the first 17 digits."""
    good = number()
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    errors = id_number_errors(wrong, date_of_birth=BORN, sex="M")
    assert list(errors) == [FIELD] and "check character" in errors[FIELD][0]


def test_a_birth_date_in_the_future_is_refused_as_such(time_machine):
    """R-APP-1, issue 15: a number born in 2030 is a typing mistake, said as one (not "must be 60")."""
    time_machine.move_to(dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))), tick=False)
    errors = id_number_errors(number(born=dt.date(2030, 1, 1)), date_of_birth=None, sex=None)
    assert list(errors) == [FIELD] and "future" in errors[FIELD][0]
    assert id_number_errors(number(born=dt.date(2026, 12, 3)), date_of_birth=None, sex=None) == {}


def test_digits_that_are_not_a_date_are_refused_as_a_birth_date():
    """R-APP-1: digits 7–14 are the birth date."""
    body = "440104" + "19410230" + "123"  # 30 February
    errors = id_number_errors(body + ric.calc_check_digit(body + "0"), date_of_birth=None, sex=None)
    assert list(errors) == [FIELD] and "birth date" in errors[FIELD][0]


def test_a_birth_date_and_a_sex_that_disagree_are_each_named_on_their_own_field():
    """R-APP-1: the birth date and sex given must agree with the number; both errors at once."""
    errors = id_number_errors(number(serial="123"), date_of_birth=dt.date(1941, 3, 3), sex="F")
    assert sorted(errors) == ["applicant.date_of_birth", "applicant.sex"]
    assert "1941-03-02" in errors["applicant.date_of_birth"][0]
    assert list(id_number_errors(number(serial="124"), date_of_birth=BORN, sex="M")) == ["applicant.sex"]
    assert list(id_number_errors(number(serial="124"), date_of_birth=BORN, sex="F")) == []


@pytest.mark.parametrize(("digit", "sex"), [("0", "F"), ("1", "M"), ("2", "F"), ("3", "M"), ("8", "F"), ("9", "M")])
def test_the_seventeenth_digit_gives_the_sex_odd_for_men(digit, sex):
    """R-APP-1 (GB 11643): digit 17 odd for a man, even for a woman; the check character does not count."""
    body = f"44010419410302{digit}{digit}{digit}"
    assert sex_from_id_number(body + "X") == sex
    assert sex_from_id_number(" " + body.lower() + "x") == sex


def test_the_birth_date_is_read_from_digits_7_to_14():
    """R-APP-1."""
    assert birth_date_from_id_number(" " + number(born=dt.date(1926, 12, 31)).lower()) == dt.date(1926, 12, 31)


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (dt.date(1966, 3, 2), dt.date(2026, 3, 2), 60),  # the birthday itself
        (dt.date(1966, 3, 2), dt.date(2026, 3, 1), 59),  # the day before
        (dt.date(1966, 3, 3), dt.date(2026, 3, 2), 59),
        (dt.date(1966, 4, 1), dt.date(2026, 3, 31), 59),  # an earlier month, a later day
        (dt.date(1966, 2, 28), dt.date(2026, 3, 1), 60),  # a later month, an earlier day
        (dt.date(1964, 2, 29), dt.date(2026, 2, 28), 61),  # 29 February: a year older on 1 March
        (dt.date(1964, 2, 29), dt.date(2026, 3, 1), 62),
        (dt.date(1926, 1, 1), dt.date(2026, 1, 1), 100),
    ],
)
def test_age_is_counted_in_whole_years_up_to_the_birthday(born, on, age):
    """R-APP-2: aged 60 on the 60th birthday, not the day before; born 29 February, a year older on
    1 March in a common year."""
    assert age_on(born, on) == age
