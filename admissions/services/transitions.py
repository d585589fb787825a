"""The one way an application takes a state-machine edge (SPEC §5), and the one table of which
roles may ask for each transition.

Every service that moves an application calls `transition_apply`: it checks the edge is possible from
the current state (R-FSM-3: WrongState names the state and what is possible), takes it, bumps the
version, saves, appends the event (R-FSM-2) and tells the family of the change. It imports no other
service that moves an application, so offers, assessments, allocation and applications all sit above it
and none needs a lazy import of another.

`ROLES_BY_TRANSITION` is the role column of API.md (an admin may take any); `transition_apply`
checks the caller against it before anything changes, so a page or endpoint that forgot to check
still cannot let the wrong role through. The API's permission
classes (api/permissions.py `transition_permission`), the staff pages' decorators and each
application's "what can I do now" list (`transitions_for`) all read it.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext
from django_fsm import can_proceed

from admissions.models import FINAL_STATES, Application, ApplicationState
from admissions.models.applications import TRANSITION_NAMES
from core.actor import Actor
from core.errors import InvalidInput, NotPermitted, WrongState
from facilities.models import Role
from facilities.roles import roles_of

from .events import event_record
from .notifications import notify

# What a caller can ask for, in the order of SPEC §5. Offers are made and expired by the
# allocation, and an assessment's completion or approval moves the application
# (complete-assessment, reassess): no caller requests those, so R-FSM-3 does not list them.
REQUESTABLE_TRANSITIONS = (
    "submit",
    "accept-for-assessment",
    "reject",
    "return-for-assessment",
    "approve",
    "suspend",
    "resume",
    "accept-offer",
    "decline-offer",
    "admit",
    "fail-check",
    "withdraw",
    "remove",
)

# Which roles may ask for each transition (API.md; an admin may take any).
ROLES_BY_TRANSITION: dict[str, frozenset[str]] = {
    "submit": frozenset({Role.INTAKE}),
    "accept-for-assessment": frozenset({Role.INTAKE}),
    "reject": frozenset({Role.INTAKE, Role.REVIEWER}),
    "return-for-assessment": frozenset({Role.REVIEWER}),
    "approve": frozenset({Role.REVIEWER}),
    "suspend": frozenset({Role.INTAKE, Role.REVIEWER}),
    "resume": frozenset({Role.INTAKE, Role.REVIEWER}),
    "accept-offer": frozenset({Role.FACILITY, Role.INTAKE}),
    "decline-offer": frozenset({Role.FACILITY, Role.INTAKE}),
    "admit": frozenset({Role.FACILITY}),
    "fail-check": frozenset({Role.FACILITY}),
    "withdraw": frozenset({Role.INTAKE, Role.REVIEWER}),
    "remove": frozenset({Role.REVIEWER}),
    # Acts that move no application state by themselves. Re-confirmation on the family's word (R-CHG-3).
    "reconfirm": frozenset({Role.INTAKE}),
    # Acts on an offer that move no application state (R-OFF-7): a facility officer of that home.
    "extend-admission": frozenset({Role.FACILITY}),
    # R-CHG-1: correcting the intake (PATCH /applications/{reference}/, the staff correction page);
    # which of these roles may in which state is CORRECTION_ROLES_BY_STATE below.
    "correct": frozenset({Role.INTAKE, Role.REVIEWER}),
}

# R-CHG-1 Corrections before approval: who may correct what was entered at intake, by the
# application's state (an admin in each). No other state allows a correction (changes after approval
# are other acts, §12 of SPEC). The service, the API's permission and the staff pages all read this table.
CORRECTION_ROLES_BY_STATE: dict[str, frozenset[str]] = {
    ApplicationState.DRAFT: frozenset({Role.INTAKE}),
    ApplicationState.SUBMITTED: frozenset({Role.INTAKE}),
    ApplicationState.ASSESSMENT_PENDING: frozenset({Role.INTAKE}),
    ApplicationState.REVIEW: frozenset({Role.INTAKE, Role.REVIEWER}),
}

# The event names the transition of SPEC §5; these model methods are variants of one transition.
EVENT_TRANSITION_NAMES = {
    "accept_for_assessment_with_valid_assessment": "accept_for_assessment",
    "fail_admission_check_care_need_changed": "fail_admission_check",
}


def roles_for_transition(name: str) -> frozenset[str]:
    """The roles that may ask for transition `name` (the admin's is implied everywhere)."""
    return ROLES_BY_TRANSITION.get(name, frozenset())


def may_correct(user, state: str) -> bool:
    """R-CHG-1: whether this user's roles may correct an application's intake in `state`."""
    roles = roles_of(user)
    if state not in CORRECTION_ROLES_BY_STATE:
        return False
    return Role.ADMIN in roles or bool(CORRECTION_ROLES_BY_STATE[state] & roles)


def transitions_for(user, names: list[str]) -> list[str]:
    """The transitions of `names` that this user's roles may take."""
    roles = roles_of(user)
    if Role.ADMIN in roles:
        return list(names)
    return [name for name in names if roles_for_transition(name) & roles]


def available_transitions(application: Application) -> list[str]:
    """The URL names of the transitions a caller may request from the current state (R-FSM-3)."""
    possible = {TRANSITION_NAMES[t.name] for t in application.get_available_state_transitions()}
    return [name for name in REQUESTABLE_TRANSITIONS if name in possible]


def transition_guard(application: Application, method_name: str) -> None:
    """Refuse, changing nothing, an edge the current state does not allow (R-FSM-3)."""
    if not can_proceed(getattr(application, method_name)):
        name = TRANSITION_NAMES[method_name]
        raise WrongState(
            gettext("'%(transition)s' is not possible while the application is %(state)s.")
            % {"transition": name, "state": ApplicationState(application.state).label},
            current_state=application.state,
            available_transitions=available_transitions(application),
        )


def transition_permitted(actor: Actor, name: str) -> None:
    """Refuse a person whose roles may not ask for transition `name` (ROLES_BY_TRANSITION; an admin
    may take any). The system (sweeps, the allocation) and transitions no caller requests
    (complete-assessment, make-offer, expire-offer, reassess) are not in the table and pass: the
    service that takes them has checked its own caller."""
    if actor.user is None or name not in ROLES_BY_TRANSITION:
        return
    roles = roles_of(actor.user)
    if Role.ADMIN in roles or roles & ROLES_BY_TRANSITION[name]:
        return
    raise NotPermitted(
        gettext("Your role may not do '%(transition)s'.") % {"transition": name},
        errors={"role": [gettext("may not take this step")]},
    )


def transition_apply(
    application: Application,
    method_name: str,
    *,
    actor: Actor,
    reason: str = "",
    data: dict | None = None,
    notify_family: bool = True,
) -> Application:
    """Take one state-machine edge, save, and append its event (R-FSM-2). The caller holds the
    application's lock. `notify_family=False` when the caller sends its own, more telling, message
    (the allocation's offer_made)."""
    transition_permitted(actor, TRANSITION_NAMES[method_name])
    transition_guard(application, method_name)
    from_state = application.state
    getattr(application, method_name)()
    application.version += 1
    if application.state in FINAL_STATES and application.closed_at is None:
        application.closed_at = timezone.now()
    application.save()
    event_record(
        application=application,
        transition=EVENT_TRANSITION_NAMES.get(method_name, method_name),
        from_state=from_state,
        actor=actor,
        reason=reason,
        data=data,
    )
    if notify_family and from_state != application.state:
        notify(application=application, kind="state_changed")
    return application


def reason_required(reason: str | None, field: str = "reason") -> str:
    """A transition that needs a reason (R-FSM-2): present, and at most 2,000 characters."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            gettext("A reason is required."),
            errors={field: [gettext("is required for this transition")]},
            rule="R-FSM-2",
        )
    if len(reason) > 2000:
        raise InvalidInput(
            gettext("The reason is too long."),
            errors={field: [gettext("must be at most %(max)s characters") % {"max": 2000}]},
        )
    return reason
