"""`manage.py seed_demo` (issue 2): a Guangzhou-like demo city, idempotent, refused with DEBUG off."""

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.test import Client

from admissions.decisions import first_chain_break
from admissions.management.commands.seed_demo import DEMO_FACILITY_CODES
from admissions.models import (
    AllocationDecision,
    Applicant,
    Application,
    ApplicationEvent,
    ApplicationState,
    Occupancy,
    Offer,
    QueueEntry,
)
from admissions.selectors import facility_quota
from assessments.models import Assessment
from facilities.models import Bed, BedStatus, BedType, Facility

pytestmark = pytest.mark.django_db

PASSWORD = "demo-password-for-tests"
ROLES = ["intake", "assessor", "reviewer", "facility", "admin"]


@pytest.fixture
def demo_settings(settings):
    settings.DEBUG = True
    settings.DEMO_PASSWORD = PASSWORD
    # Five password hashes per run: a fast hasher keeps the test quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    models = [
        Facility,
        Bed,
        Occupancy,
        Applicant,
        Application,
        ApplicationEvent,
        Assessment,
        QueueEntry,
        Offer,
        AllocationDecision,
        User,
    ]
    return {model.__name__: model.objects.count() for model in models}


def test_the_demo_city_has_every_state_the_homes_and_beds_and_keeps_the_quota(demo_settings):
    output = seed(applications=60, seed=7)

    # Every state of SPEC §5, reached through the services (each application has its events).
    states = set(Application.objects.values_list("state", flat=True))
    assert states == set(ApplicationState.values)
    assert not Application.objects.filter(events__isnull=True).exists()
    assert Application.objects.count() == 60
    assert Offer.objects.filter(state="pending").exists()

    # 3 city-level and 13 district-level homes, 80–600 beds, at least 78 % nursing-type each.
    homes = Facility.objects.filter(code__in=DEMO_FACILITY_CODES)
    assert homes.filter(level="city").count() == 3
    assert homes.filter(level="district").count() == 13
    for home in homes:
        total = home.beds.count()
        nursing = home.beds.filter(bed_type=BedType.NURSING).count()
        assert 80 <= total <= 600, home.code
        assert nursing / total >= 0.78, home.code
        # R-NQ-1 holds at every home after all the offers the demo made.
        quota = facility_quota(home)
        assert quota.self_care_held <= quota.self_care_cap, home.code
    assert Bed.objects.filter(status=BedStatus.VACANT).exists()
    assert Bed.objects.filter(status=BedStatus.OUT_OF_SERVICE).exists()
    # Residents from before the product give the estimated waits a history (R-Q-5).
    assert Occupancy.objects.filter(application__isnull=True).count() > 1000
    # The allocation decisions are a real, intact chain (R-ALLOC-2).
    assert AllocationDecision.objects.exists()
    assert first_chain_break() is None

    # One user per role, each in its group, who can log in with DEMO_PASSWORD.
    for username in ROLES:
        user = User.objects.get(username=username)
        assert user.is_staff
        assert user.groups.filter(name=username).exists()
        assert Client().login(request=HttpRequest(), username=username, password=PASSWORD), username
        assert username in output
    assert User.objects.get(username="admin").is_superuser
    assert not User.objects.get(username="intake").is_superuser
    assert "http://127.0.0.1:8000/" in output
    assert "/admin/" in output
    assert "facility → GZC01" in output
    assert PASSWORD in output


def test_running_it_twice_duplicates_nothing_and_keeps_the_logins(demo_settings):
    seed(applications=30, seed=3)
    before = row_counts()

    output = seed(applications=30, seed=3)

    # The one thing a second run adds: the example's fresh lookup code, recorded as an event.
    after = row_counts()
    assert after.pop("ApplicationEvent") == before.pop("ApplicationEvent") + 1
    assert after == before
    assert ApplicationEvent.objects.latest("pk").transition == "lookup_code_issued"
    assert "already loaded" in output
    for username in ROLES:
        assert Client().login(request=HttpRequest(), username=username, password=PASSWORD), username


def test_a_second_run_resets_the_demo_passwords(demo_settings):
    seed(applications=0)
    user = User.objects.get(username="reviewer")
    user.set_password("something-else")
    user.save()

    seed(applications=0)

    assert Client().login(request=HttpRequest(), username="reviewer", password=PASSWORD)


def test_it_refuses_to_run_with_debug_off_unless_forced(demo_settings):
    demo_settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        seed(applications=0)
    assert not Facility.objects.filter(code__in=DEMO_FACILITY_CODES).exists()
    assert not User.objects.filter(username__in=ROLES).exists()

    seed(applications=0, force=True)
    assert Facility.objects.filter(code__in=DEMO_FACILITY_CODES).count() == 16


def test_the_default_password_is_printed_when_none_is_set(demo_settings):
    demo_settings.DEMO_PASSWORD = ""

    output = seed(applications=0)

    assert "demo-pass-2026" in output
    assert Client().login(request=HttpRequest(), username="admin", password="demo-pass-2026")


def test_too_few_applications_to_show_every_state_are_refused(demo_settings):
    with pytest.raises(CommandError, match="--applications"):
        seed(applications=5)


def test_it_prints_a_reference_and_lookup_code_that_the_family_lookup_accepts(demo_settings):
    """`make run` shows one family lookup to try (issue 15); the code printed is the live one (R-PUB-1)."""
    output = seed(applications=24)
    found = re.search(r"reference (\d{4}-\d{6}), code ([A-Z0-9]{6})", output)
    assert found, output
    answer = Client().post(
        "/api/v1/public/lookup/",
        {"reference": found[1], "code": found[2]},
        content_type="application/json",
    )
    assert answer.status_code == 200
    assert answer.json()["reference"] == found[1]
