"""R-SEC-2: staff login throttled (5 failures per username or 20 per address within 15 minutes →
refused for 15 minutes, saying when to try again), sessions end after 8 hours or 30 idle minutes,
passwords at least 12 characters with Django's validators.

The numbers are the SPEC's, written here, not read from config/staff_login.py.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from facilities.roles import roles_assign

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
LOGIN = "/en/accounts/login/"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def staff():
    user = User.objects.create_user("intake-officer", password=PASSWORD)
    roles_assign(user=user, roles=["intake"], facility=None)
    return user


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def attempt(username: str, password: str, address: str = "198.51.100.1", path: str = LOGIN):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


def logged_in(response) -> bool:
    return response.status_code == 302 and "/staff/" in response["Location"]


def test_five_failures_for_one_username_lock_it_even_with_the_right_password(staff, clock):
    for n in range(4):
        assert attempt("intake-officer", "wrong password", address=f"198.51.100.{n}").status_code == 200
    assert attempt("intake-officer", "wrong password", address="198.51.100.4").status_code == 429  # the 5th
    response = attempt("intake-officer", PASSWORD, address="203.0.113.9")
    assert response.status_code == 429
    page = response.content.decode()
    # 15 minutes after the last failure at 09:00 UTC, which is 17:00 in Asia/Shanghai.
    assert "Try again after 17:15 (in 15 minutes)" in page
    assert int(response["Retry-After"]) == 15 * 60


def test_four_failures_do_not_lock(staff, clock):
    for _ in range(4):
        attempt("intake-officer", "wrong password")
    assert logged_in(attempt("intake-officer", PASSWORD))


def test_twenty_failures_from_one_address_lock_the_address_not_the_staff_member(staff, clock):
    for n in range(20):  # 20 usernames, one failure each: no username reaches its limit
        attempt(f"guess-{n}", "wrong password", address="192.0.2.66")
    assert attempt("intake-officer", PASSWORD, address="192.0.2.66").status_code == 429
    assert logged_in(attempt("intake-officer", PASSWORD, address="192.0.2.67"))


def test_nineteen_failures_from_one_address_do_not_lock_it(staff, clock):
    for n in range(19):
        attempt(f"guess-{n}", "wrong password", address="192.0.2.66")
    assert logged_in(attempt("intake-officer", PASSWORD, address="192.0.2.66"))


def test_the_lockout_lasts_fifteen_minutes(staff, clock):
    for _ in range(5):
        attempt("intake-officer", "wrong password")
    clock.shift(dt.timedelta(minutes=14, seconds=59))
    assert attempt("intake-officer", PASSWORD).status_code == 429
    clock.shift(dt.timedelta(seconds=2))
    assert logged_in(attempt("intake-officer", PASSWORD))


def test_failures_more_than_fifteen_minutes_apart_are_not_added_up(staff, clock):
    for _ in range(4):
        attempt("intake-officer", "wrong password")
    clock.shift(dt.timedelta(minutes=16))
    for _ in range(4):
        attempt("intake-officer", "wrong password")
    assert logged_in(attempt("intake-officer", PASSWORD))


def test_the_lockout_message_is_in_chinese_on_the_chinese_page(staff, clock):
    for _ in range(5):
        attempt("intake-officer", "wrong password", path="/accounts/login/")
    response = attempt("intake-officer", PASSWORD, path="/accounts/login/")
    assert response.status_code == 429
    assert "17:15" in response.content.decode() and "分钟" in response.content.decode()


def test_the_admin_login_is_throttled_too(staff, clock):
    User.objects.create_superuser("root", "root@example.org", PASSWORD)
    for _ in range(5):
        attempt("root", "wrong password", path="/en/admin/login/")
    assert attempt("root", PASSWORD, path="/en/admin/login/").status_code == 429


def test_behind_a_trusted_proxy_the_client_address_is_throttled_not_the_proxys(staff, clock, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    def via_proxy(username, password, client_address):
        client = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=client_address)
        return client.post(LOGIN, {"username": username, "password": password})

    for n in range(20):
        via_proxy(f"guess-{n}", "wrong password", "192.0.2.66")
    assert via_proxy("intake-officer", PASSWORD, "192.0.2.66").status_code == 429
    assert logged_in(via_proxy("intake-officer", PASSWORD, "192.0.2.67"))


# --- Sessions -----------------------------------------------------------------------------------------


def staff_page_open(client) -> bool:
    response = client.get("/en/staff/")
    return response.status_code == 200


@pytest.fixture
def session(staff, clock, settings):
    settings.STAFF_SESSION_LIMITS = True  # off for the rest of the suite (tests/settings.py)
    client = Client()
    assert logged_in(client.post(LOGIN, {"username": "intake-officer", "password": PASSWORD}))
    return client


def test_a_session_ends_after_thirty_idle_minutes(session, clock):
    assert staff_page_open(session)
    clock.shift(dt.timedelta(minutes=29, seconds=59))
    assert staff_page_open(session)
    clock.shift(dt.timedelta(minutes=30))
    assert not staff_page_open(session)


def test_a_session_ends_eight_hours_after_login_however_busy(session, clock):
    for _ in range(8 * 3 - 1):  # a request every 20 minutes: never idle
        clock.shift(dt.timedelta(minutes=20))
        assert staff_page_open(session)
    clock.shift(dt.timedelta(minutes=20))  # 8 hours since the login
    assert not staff_page_open(session)


# --- Passwords ----------------------------------------------------------------------------------------


def test_a_password_needs_twelve_characters(staff):
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("kq8!zr2#wm4", user=staff)  # 11
    validate_password("kq8!zr2#wm4v", user=staff)  # 12


@pytest.mark.parametrize(
    "password", ["password1234", "839201746352", "intake-officer1"], ids=["common", "numeric", "like-username"]
)
def test_djangos_other_password_validators_apply(staff, password):
    with pytest.raises(ValidationError):
        validate_password(password, user=staff)
