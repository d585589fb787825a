"""The one role table of API.md, checked by the transition helper itself (ROLES_BY_TRANSITION in
admissions/services/transitions.py): a service called for a person whose roles may not take the
step refuses it and changes nothing, whichever page or endpoint called it (issue 12)."""

import pytest
from django.contrib.auth.models import User

from admissions.models import ApplicationEvent, ApplicationState
from admissions.services import applications as services
from admissions.services.transitions import may_correct, roles_for_transition, transitions_for
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


def test_the_table_gives_each_transition_its_roles_and_nobody_the_ones_no_caller_asks_for():
    """API.md's role column as the pages and the API read it: approve is the reviewer's, admit the home's;
    make-offer and complete-assessment are taken by the system and services only, so no role has them."""
    assert roles_for_transition("approve") == {"reviewer"}
    assert roles_for_transition("admit") == {"facility"}
    assert roles_for_transition("reject") == {"intake", "reviewer"}
    assert roles_for_transition("make-offer") == frozenset()
    assert roles_for_transition("complete-assessment") == frozenset()


NAMES = ["submit", "approve", "admit", "withdraw", "make-offer"]


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        (("intake",), ["submit", "withdraw"]),
        (("reviewer",), ["approve", "withdraw"]),
        (("assessor",), []),
        ((), []),
        (("admin",), NAMES),
    ],
)
def test_what_a_person_may_do_now_lists_only_the_steps_of_their_roles(home, roles, allowed):
    """Each application's "what can I do now" list (transitions_for): an admin every step, in the order
    given, even one no role holds; anyone else only the steps of their roles; nobody without a role any."""
    facility = home if "facility" in roles else None
    assert transitions_for(person("p", *roles, facility=facility).user, NAMES) == allowed


@pytest.mark.parametrize(
    ("roles", "state", "allowed"),
    [
        (("intake",), ApplicationState.DRAFT, True),
        (("intake",), ApplicationState.REVIEW, True),
        (("reviewer",), ApplicationState.REVIEW, True),
        (("reviewer",), ApplicationState.DRAFT, False),
        (("reviewer",), ApplicationState.SUBMITTED, False),
        (("assessor",), ApplicationState.REVIEW, False),
        (("admin",), ApplicationState.DRAFT, True),
        (("admin",), ApplicationState.WAITING, False),
        (("intake",), ApplicationState.WAITING, False),
        (("intake",), ApplicationState.WITHDRAWN, False),
    ],
)
def test_who_may_correct_the_intake_in_which_state_r_chg_1(roles, state, allowed):
    """R-CHG-1: intake while draft, submitted, assessment_pending or review, a reviewer in review only, an
    admin in each of these; nobody once the application is approved (changes after it are other acts)."""
    assert may_correct(person("p", *roles).user, state) is allowed
