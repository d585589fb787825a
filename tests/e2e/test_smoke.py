"""The start page and the staff login in a real browser, checked by axe (issue 4, R-PUB-5)."""

import pytest

from facilities.roles import roles_assign
from tests.e2e.conftest import check_page
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_staff_member_logs_in_from_the_start_page(live_server, page_factory):
    user = UserFactory(username="e2e-intake")
    user.set_password("a-long-test-password")
    user.save()
    roles_assign(user=user, roles=["intake"])
    page = page_factory()
    page.goto(live_server.url + "/")
    check_page(page, "home")
    page.goto(live_server.url + "/accounts/login/")
    check_page(page, "login")
    page.fill("#id_username", "e2e-intake")
    page.fill("#id_password", "a-long-test-password")
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url
