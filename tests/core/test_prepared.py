"""`core.prepared.PreparedValues` (issue 18): a `.values()` queryset compiled once and run again
with new arguments gives exactly the rows the ORM gives for those arguments, converted the same
way (SQLite's booleans and dates), on SQLite and PostgreSQL."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db.models import Q

from admissions.models import Application
from admissions.services.lookup import _facts, _facts_query
from admissions.services.reconfirmation import reconfirmation_ask_due
from core.prepared import PreparedValues
from tests import spec
from tests.factories import FacilityFactory, queued_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_each_call_answers_for_its_own_arguments_with_the_values_converted():
    joined = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    alice = User.objects.create(username="alice", is_active=True, date_joined=joined)
    bob = User.objects.create(username="bob", is_active=False, date_joined=joined + dt.timedelta(days=1))
    by_pk = PreparedValues(lambda pk: User.objects.filter(pk=pk).values("username", "is_active", "date_joined"), int)

    assert by_pk.rows(alice.pk) == [{"username": "alice", "is_active": True, "date_joined": joined}]
    assert by_pk.rows(bob.pk) == [{"username": "bob", "is_active": False, "date_joined": joined + dt.timedelta(days=1)}]
    assert by_pk.rows(bob.pk + 1000) == []


def test_string_arguments_and_an_argument_used_twice():
    User.objects.create(username="alice", first_name="Ann")
    User.objects.create(username="ann", first_name="Bea")
    named = PreparedValues(
        lambda name: User.objects.filter(Q(username=name) | Q(first_name=name)).order_by("username").values("username"),
        str,
    )

    assert named.rows("Ann") == [{"username": "alice"}]
    assert named.rows("ann") == [{"username": "ann"}]
    assert named.rows("Bea") == [{"username": "ann"}]


def test_the_lookups_facts_are_the_orms_for_an_application_with_an_open_ask(settings):
    """The facts query of the public lookup (R-CHG-3's open ask, its respond-by date), prepared
    and as the ORM runs it, for an application asked to re-confirm and one that is not."""
    settings.RECONFIRMATION_IN_FORCE_FROM = "2025-06-01"
    queued = dt.datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(queued, tick=False):
        FacilityFactory(code="YX01")
        asked = queued_application(choices=["YX01"])
        not_asked = queued_application(choices=["YX01"])
    Application.objects.filter(pk=not_asked.pk).update(queued_at=queued + dt.timedelta(days=200))
    with time_machine.travel(queued + dt.timedelta(days=spec.RECONFIRM_INTERVAL_DAYS, minutes=1), tick=False):
        assert reconfirmation_ask_due()["asked"] == 1

    for application in (asked, not_asked):
        assert _facts.rows(application.pk) == list(_facts_query(application.pk))
    [row] = _facts.rows(asked.pk)
    assert row["reconfirm_open"] is True and row["reconfirm_open_respond_by"] is not None
    assert row["has_offer"] is False and row["in_couple"] is False
    [row] = _facts.rows(not_asked.pk)
    assert row["reconfirm_open"] is False and row["reconfirm_open_respond_by"] is None


def test_several_arguments_each_in_its_place():
    User.objects.create(username="alice", first_name="Ann", is_staff=True)
    ann = User.objects.create(username="ann", first_name="Ann")
    named = PreparedValues(
        lambda first_name, above: (
            User.objects.filter(first_name=first_name, pk__gt=above).order_by("username").values("username")
        ),
        str,
        int,
    )

    assert named.rows("Ann", 0) == [{"username": "alice"}, {"username": "ann"}]
    assert named.rows("Ann", ann.pk - 1) == [{"username": "ann"}]
    assert named.rows("Bea", 0) == []


def test_forget_compiles_the_builder_again():
    alice = User.objects.create(username="alice", first_name="Ann")
    fields = ["username"]
    prepared = PreparedValues(lambda pk: User.objects.filter(pk=pk).values(*fields), int)
    assert prepared.rows(alice.pk) == [{"username": "alice"}]
    fields[0] = "first_name"
    assert prepared.rows(alice.pk) == [{"username": "alice"}]  # compiled once: the builder is not called
    prepared.forget()
    assert prepared.rows(alice.pk) == [{"first_name": "Ann"}]


def test_a_builder_whose_argument_does_not_reach_the_parameters_is_refused():
    ignores = PreparedValues(lambda pk: User.objects.values("username"), int)
    with pytest.raises(TypeError, match="did not reach"):
        ignores.rows(1)


def test_a_builder_without_values_and_a_wrong_number_of_arguments_are_refused():
    with pytest.raises(TypeError, match="values"):
        PreparedValues(lambda pk: User.objects.filter(pk=pk), int).rows(1)
    with pytest.raises(TypeError, match="1 argument"):
        PreparedValues(lambda pk: User.objects.filter(pk=pk).values("pk"), int).rows(1, 2)
    with pytest.raises(TypeError, match="kind"):
        PreparedValues(lambda when: User.objects.filter(date_joined=when).values("pk"), dt.datetime)
