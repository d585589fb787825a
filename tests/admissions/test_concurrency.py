"""R-NQ-3 and R-FSM-4 under real concurrency: ≥ 20 threads against PostgreSQL, asserting only on
the final state. SQLite serialises every writer (IMMEDIATE transactions), so there is nothing to
race there; these run in the PostgreSQL pass of .ci/run."""

import datetime as dt
import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.db.models import Count, Q

from admissions.models import Application, Offer
from admissions.selectors import facility_quota
from admissions.services import applications as app_services
from admissions.services.allocation import allocation_run
from admissions.services.offers import offer_accept, offer_expire
from core.errors import DomainError
from facilities.models import Bed, Facility
from tests.factories import FacilityFactory, actor, add_beds, queued_application

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(
        transaction=True, serialized_rollback=True
    ),  # keeps the seeded districts, policy and calendar
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite serialises all writers"),
]
RACERS = 20


def race(*calls):
    """Run each callable in its own thread, released together; return (results, unexpected errors)."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except DomainError as exc:  # a refusal (409, 422) is a correct answer to a lost race
            results[i] = exc
        except Exception as exc:  # anything else (deadlock, integrity error) is a failure
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def assert_invariants():
    """R-NQ-1, R-BED-1, R-OFF-3 over the whole database."""
    for facility in Facility.objects.all():
        quota = facility_quota(facility)
        assert quota.self_care_held <= quota.self_care_cap, f"{facility.code} passed the self-care cap"
    live = Q(state__in=["pending", "accepted"])
    assert not Offer.objects.filter(live).values("bed").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert not Offer.objects.filter(live).values("application").annotate(n=Count("id")).filter(n__gt=1).exists()
    for bed in Bed.objects.all():
        holds = Offer.objects.filter(live, bed=bed).exists()
        assert (bed.status == "reserved") == holds, f"bed {bed.code} is {bed.status} with live offer={holds}"
    for application in Application.objects.filter(state__in=["offered", "admission_check"]):
        assert application.offers.filter(live).count() == 1
    for application in Application.objects.filter(state="waiting"):
        assert not application.offers.filter(live).exists()


def test_racing_allocations_never_pass_the_self_care_cap():
    """R-NQ-3 (a), STORIES 7: headroom 2, 20 racers, 10 vacant general beds, 20 self-care applicants."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=70, holder="nursing")
    add_beds(home, general=20, holder="self_care")
    applicants = [queued_application(grade=0, choices=["YX01"], name=f"甲{i}") for i in range(20)]
    add_beds(home, general=10, status="vacant")  # straight into the table: nobody allocated yet
    assert facility_quota(home).headroom == 2

    results, errors = race(*[lambda: allocation_run(facility=home, trigger="staff_request")] * RACERS)

    assert errors == []
    quota = facility_quota(home)
    assert quota.self_care_held == 22
    assert Offer.objects.filter(state="pending").count() == 2
    assert Application.objects.filter(pk__in=[a.pk for a in applicants], state="offered").count() == 2
    assert_invariants()


def test_accept_racing_expire_has_exactly_one_winner():
    """R-NQ-3 (b), R-FSM-4: accept versus expire of one offer."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(grade=3, choices=["YX01"])
    queued_application(grade=2, choices=["YX01"], name="下一位")
    offer = Offer.objects.get(application=application)
    after_deadline = offer.respond_by + dt.timedelta(seconds=1)
    facility_officer = actor("facility")

    calls = []
    for i in range(RACERS):
        if i % 2:
            calls.append(lambda: offer_accept(offer=offer, actor=facility_officer))
        else:
            calls.append(lambda: offer_expire(offer=offer, now=after_deadline))
    results, errors = race(*calls)

    assert errors == []
    offer.refresh_from_db()
    accepted = [r for r in results if isinstance(r, Offer)]
    expired = [r for r in results if r is True]
    assert offer.state in ("accepted", "expired")
    if offer.state == "accepted":
        assert (len(accepted), len(expired)) == (1, 0)
        assert Application.objects.get(pk=application.pk).state == "admission_check"
    else:
        assert (len(accepted), len(expired)) == (0, 1)
        assert Application.objects.get(pk=application.pk).state == "waiting"
    transitions = Counter(application.events.values_list("transition", flat=True))
    assert transitions["accept_offer"] + transitions["expire_offer"] == 1
    assert_invariants()


def test_two_homes_allocating_at_once_never_give_one_applicant_two_offers():
    """R-NQ-3 (c), R-OFF-3: ten applicants chose both homes; both homes allocate at once."""
    city = FacilityFactory(code="GZC01", level="city")
    district = FacilityFactory(code="YX01")
    applicants = [queued_application(grade=3, choices=["GZC01", "YX01"], name=f"乙{i}") for i in range(10)]
    add_beds(city, nursing=10, status="vacant")
    add_beds(district, nursing=10, status="vacant")

    calls = [
        lambda f=(city if i % 2 else district): allocation_run(facility=f, trigger="staff_request")
        for i in range(RACERS)
    ]
    results, errors = race(*calls)

    assert errors == []
    assert_invariants()
    offers = Offer.objects.filter(state="pending")
    assert offers.count() == 10  # every applicant got exactly one of the twenty beds
    assert set(offers.values_list("application", flat=True)) == {a.pk for a in applicants}


def test_concurrent_transitions_on_one_application_have_one_winner():
    """R-FSM-4: twenty officers suspend or withdraw one application at once: one wins, the others get 409."""
    FacilityFactory(code="YX01")
    add_beds(Facility.objects.get(code="YX01"), nursing=5)
    application = queued_application(grade=3, choices=["YX01"])
    intake = actor("intake")
    calls = [
        (lambda: app_services.application_suspend(application=application, reason="hospital", actor=intake))
        if i % 2
        else (lambda: app_services.application_withdraw(application=application, reason="family", actor=intake))
        for i in range(RACERS)
    ]
    results, errors = race(*calls)

    assert errors == []
    winners = [r for r in results if isinstance(r, Application)]
    refusals = [r for r in results if isinstance(r, DomainError)]
    final = Application.objects.get(pk=application.pk)
    # A suspension may be followed by a withdrawal (both legal in order); never two of the same.
    kinds = Counter(application.events.values_list("transition", flat=True))
    assert kinds["suspend"] <= 1 and kinds["withdraw"] <= 1
    assert len(winners) == kinds["suspend"] + kinds["withdraw"]
    assert len(refusals) == RACERS - len(winners)
    assert final.state in ("suspended", "withdrawn")
    assert all(r.status == 409 for r in refusals)
