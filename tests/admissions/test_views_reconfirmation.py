"""R-CHG-3 on the pages: the family's status page asks "please confirm you still want to wait" after
the lookup and confirms through the lookup's limits (post/redirect/get); the staff application page
records a confirmation; the dashboard and each home's queue count the unconfirmed."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import translation

from admissions.models import Application, Reconfirmation
from admissions.services import applications as app_services
from admissions.services.reconfirmation import reconfirmation_ask_due
from facilities.models import Facility
from facilities.roles import roles_assign
from tests import spec
from tests.factories import FacilityFactory, actor, queued_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
QUEUED = dt.datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI)
ASKED = QUEUED + dt.timedelta(days=spec.RECONFIRM_INTERVAL_DAYS, minutes=1)
LATER = ASKED + dt.timedelta(days=2)
CONFIRM = "Please confirm you still want to wait"


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.RECONFIRMATION_IN_FORCE_FROM = "2025-06-01"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def asked() -> Application:
    with time_machine.travel(QUEUED, tick=False):
        FacilityFactory(code="YX01", name="越秀区老人院")
        application = queued_application(choices=["YX01"])
    with time_machine.travel(ASKED, tick=False):
        assert reconfirmation_ask_due()["asked"] == 1
    application.refresh_from_db()
    return application


def staff_client(*roles: str, facility: Facility | None = None) -> Client:
    user = User.objects.create_user(f"{'-'.join(roles)}-{User.objects.count()}")
    roles_assign(user=user, roles=list(roles), facility=facility)
    client = Client()
    client.force_login(user)
    return client


def looked_up(client: Client, application: Application, *, language: str = "en") -> tuple[str, str]:
    code = app_services.lookup_code_issue(application=application, actor=actor("intake"))
    with translation.override(language):
        status = reverse("portal:status")
    response = client.post(status, {"reference": application.reference, "code": code})
    assert response.status_code == 200
    return code, response.content.decode()


def test_after_the_lookup_the_status_page_asks_to_confirm_and_confirming_redirects_back(asked):
    """R-CHG-3: the card with the confirm button; the POST (code typed again) confirms and redirects
    to the status page (post/redirect/get), which thanks the family and no longer asks."""
    client = Client()
    with time_machine.travel(LATER, tick=False):
        code, page = looked_up(client, asked)
        assert CONFIRM in page and reverse("portal:status_reconfirm") in page
        response = client.post(reverse("portal:status_reconfirm"), {"reference": asked.reference, "code": code})
        assert response.status_code == 302 and response["Location"] == reverse("portal:status")
        after = client.get(response["Location"]).content.decode()
    assert "You still wait in the queue" in after and CONFIRM not in after
    assert Reconfirmation.objects.get(application=asked).confirmed_via == "family"


def test_the_status_page_asks_nothing_when_no_confirmation_is_awaited():
    """R-CHG-3: not asked yet: no card."""
    with time_machine.travel(QUEUED, tick=False):
        FacilityFactory(code="YX01")
        application = queued_application(choices=["YX01"])
        _code, page = looked_up(Client(), application)
    assert CONFIRM not in page


def test_a_wrong_code_on_the_confirm_form_is_refused_in_plain_words_and_counts_as_a_failed_lookup(asked):
    """R-CHG-3, R-PUB-2: the error names the lookup code, without a rule number; nothing confirmed;
    after the reference's limit, the locked page (429)."""
    client = Client()
    with time_machine.travel(LATER, tick=False):
        looked_up(client, asked)
        response = client.post(reverse("portal:status_reconfirm"), {"reference": asked.reference, "code": "ZZZZZZ"})
        page = response.content.decode()
        assert response.status_code == 404
        assert "The lookup code is not right." in page and 'aria-invalid="true"' in page
        assert not re.search(r"R-[A-Z]+-\d", page)
        for _ in range(spec.LOOKUP_FAILURES_PER_REFERENCE - 1):
            client.post(reverse("portal:status_reconfirm"), {"reference": asked.reference, "code": "ZZZZZZ"})
        locked = client.post(reverse("portal:status_reconfirm"), {"reference": asked.reference, "code": "ZZZZZZ"})
    assert locked.status_code == 429
    assert Reconfirmation.objects.get(application=asked).confirmed_at is None


def test_the_card_is_in_chinese_for_a_chinese_page(asked):
    """R-CHG-3, both languages complete."""
    with time_machine.travel(LATER, tick=False):
        _code, page = looked_up(Client(), asked, language="zh-hans")
    assert "请确认您仍希望继续轮候" in page


def test_an_intake_officer_records_the_confirmation_on_the_application_page(asked):
    """R-CHG-3: the staff button, shown while the family is asked; post/redirect/get."""
    page_url = reverse("staff:application", args=[asked.reference])
    action = reverse("staff:application_transition", args=[asked.reference, "reconfirm"])
    with time_machine.travel(LATER, tick=False):
        client = staff_client("intake")  # logged in now: a session from before the travel has expired
        page = client.get(page_url).content.decode()
        assert f'action="{action}"' in page
        response = client.post(action, {"form_token": "t-reconfirm"})
        assert response.status_code == 302 and response["Location"] == page_url
        assert f'action="{action}"' not in client.get(page_url).content.decode()
    ask = Reconfirmation.objects.get(application=asked)
    assert ask.confirmed_via == "staff"


def test_the_dashboard_and_the_home_s_queue_count_the_unconfirmed(asked):
    """R-CHG-3: "unconfirmed" counts on the dashboard and the queue board."""
    with time_machine.travel(LATER, tick=False):
        dashboard = staff_client("intake").get(reverse("staff:dashboard")).content.decode()
        queue = staff_client("reviewer").get(reverse("staff:facility", args=["YX01"])).content.decode()
    assert 'data-unconfirmed-count="1"' in dashboard and asked.reference in dashboard
    assert 'data-unconfirmed-count="1"' in queue
