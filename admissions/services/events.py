"""Appending to the event log (R-FSM-2). Every transition service calls `event_record` once."""

from __future__ import annotations

from django.utils import timezone

from admissions.models import Application, ApplicationEvent
from core.actor import Actor

from .webhooks import state_changed_webhook_data, webhooks_enqueue


def event_record(
    *,
    application: Application,
    transition: str,
    from_state: str,
    actor: Actor,
    reason: str = "",
    data: dict | None = None,
) -> ApplicationEvent:
    event = ApplicationEvent.objects.create(
        application=application,
        transition=transition,
        from_state=from_state,
        to_state=application.state,
        actor_kind=actor.kind,
        actor_name=actor.name,
        actor_user=actor.user,
        at=timezone.now(),
        reason=reason,
        data=data or {},
    )
    if event.from_state != event.to_state:
        webhooks_enqueue(type="application.state_changed", data=state_changed_webhook_data(event))
    return event
