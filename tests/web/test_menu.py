"""The staff menu's Offers entry is shown to the roles that may answer an offer or admit (the table of
roles per transition, admissions/services/transitions.py), to no one else; pages check again."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory

from facilities.roles import roles_assign
from tests.factories import FacilityFactory
from web.context_processors import staff_menu

pytestmark = pytest.mark.django_db


def _menu_names(*roles: str) -> set[str]:
    facility = FacilityFactory() if "facility" in roles else None
    user = User.objects.create_user(f"{'-'.join(roles)}-{User.objects.count()}")
    roles_assign(user=user, roles=list(roles), facility=facility)
    request = RequestFactory().get("/staff/")
    request.user = User.objects.get(pk=user.pk)
    return {item["name"] for item in staff_menu(request)["staff_menu"]}


@pytest.mark.parametrize("role", ["intake", "facility"])
def test_the_roles_that_answer_offers_or_admit_see_the_offers_page_in_the_menu(role):
    assert "staff:offers" in _menu_names(role)


@pytest.mark.parametrize("role", ["assessor", "reviewer"])
def test_the_roles_that_take_no_offer_transition_do_not_see_the_offers_page(role):
    assert "staff:offers" not in _menu_names(role)
