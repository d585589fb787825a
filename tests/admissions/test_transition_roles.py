"""The one role table of API.md, checked by the transition helper itself (ROLES_BY_TRANSITION in
admissions/services/transitions.py): a service called for a person whose roles may not take the
step refuses it and changes nothing, whichever page or endpoint called it (issue 12)."""

import pytest
from django.contrib.auth.models import User

from admissions.models import ApplicationEvent, ApplicationState
from admissions.services import applications as services
from core.actor import SYSTEM, Actor
from core.errors import NotPermitted
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, add_beds, reviewed_application, submitted_application

pytestmark = pytest.mark.django_db


def person(username: str, *roles: str, facility=None) -> Actor:
    user = User.objects.create_user(username=username)
    roles_assign(user=user, roles=list(roles), facility=facility)
    return Actor.for_user(user)


@pytest.fixture
def home():
    facility = FacilityFactory(code="H1")
    add_beds(facility, nursing=2, general=0)
    return facility


def test_an_intake_officer_may_not_approve_and_nothing_changes(home):
    application = reviewed_application(choices=["H1"])
    version, events = application.version, ApplicationEvent.objects.filter(application=application).count()
    with pytest.raises(NotPermitted) as refused:
        services.application_approve(
            application=application, categories=[], exemption=None, actor=person("li", "intake")
        )
    assert refused.value.errors == {"role": ["may not take this step"]}
    application.refresh_from_db()
    assert application.state == ApplicationState.REVIEW
    assert application.version == version
    assert ApplicationEvent.objects.filter(application=application).count() == events


def test_a_reviewer_may_approve(home):
    application = reviewed_application(choices=["H1"])
    approved = services.application_approve(
        application=application, categories=[], exemption=None, actor=person("wang", "reviewer")
    )
    assert approved.state == ApplicationState.WAITING


@pytest.mark.parametrize("roles", [("assessor",), ("facility",), ()])
def test_only_intake_may_accept_for_assessment(home, roles):
    application = submitted_application(choices=["H1"])
    facility = home if "facility" in roles else None
    with pytest.raises(NotPermitted):
        services.application_accept_for_assessment(
            application=application, actor=person("x", *roles, facility=facility)
        )
    application.refresh_from_db()
    assert application.state == ApplicationState.SUBMITTED


def test_an_administrator_may_take_any_step(home):
    application = submitted_application(choices=["H1"])
    accepted = services.application_accept_for_assessment(application=application, actor=person("root", "admin"))
    assert accepted.state == ApplicationState.ASSESSMENT_PENDING


def test_the_system_is_not_held_to_the_table(home):
    """The sweeps and the allocation act as the system; a suspension by the system still goes through."""
    application = reviewed_application(choices=["H1"])
    application = services.application_approve(
        application=application, categories=[], exemption=None, actor=person("zhao", "reviewer")
    )
    suspended = services.application_suspend(application=application, reason="unreachable", actor=SYSTEM)
    assert suspended.state == ApplicationState.SUSPENDED
