"""Webhooks (API.md): an outbox written with the change, sent by Celery tasks with retries.

`webhooks_enqueue` writes one delivery per active subscription in the caller's transaction, so a
delivery exists exactly when the change it reports was committed (SPEC §10: nothing accepted is
lost), and hands it to a task after commit. `webhook_deliver` POSTs the signed body; a receiver
that does not answer 2xx is tried again with exponential backoff until a day has passed.
Delivery is at-least-once: receivers dedupe on the body's `id`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from admissions.models import (
    ApplicationEvent,
    Offer,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEventType,
    WebhookSubscription,
)
from admissions.webhook_hosts import HostRefused, post_pinned, vet
from core.actor import Actor
from core.errors import InvalidInput, NotFound
from facilities.models import AuditEntry, Bed

from .outbox import outbox_dispatch

logger = logging.getLogger(__name__)

URL_MAX_LENGTH = WebhookSubscription._meta.get_field("url").max_length
SECRET_LENGTH = range(16, 201)
TIMEOUT_SECONDS = 5
BACKOFF_FIRST = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=1)
GIVE_UP_AFTER = dt.timedelta(days=1)
# While one worker sends, others leave the delivery alone for this long (a crashed worker's
# delivery is picked up again by the sweep afterwards).
SENDING_LEASE = dt.timedelta(seconds=TIMEOUT_SECONDS * 4)
DUE_BATCH = 500

D = WebhookDeliveryStatus


# --- subscriptions ------------------------------------------------------------------------------
def webhook_subscribe(*, url: str, events: list[str], secret: str, actor: Actor) -> WebhookSubscription:
    """A system asks to be told of `events` at `url`; bodies are signed with `secret`."""
    errors: dict[str, list[str]] = {}
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > URL_MAX_LENGTH:
        errors["url"] = [_("must be an http or https URL of at most %(max)s characters") % {"max": URL_MAX_LENGTH}]
    else:
        try:
            vet(url)  # R-SEC-5: a listed host, resolving only to addresses it may reach
        except HostRefused as refused:
            errors["url"] = [str(refused.reason)]
    unknown = [e for e in events if e not in WebhookEventType.values]
    if not events or unknown:
        errors["events"] = [
            _("must name one or more of %(types)s") % {"types": ", ".join(WebhookEventType.values)},
        ]
    if not isinstance(secret, str) or len(secret) not in SECRET_LENGTH:
        errors["secret"] = [_("must be %(low)s to %(high)s characters") % {"low": 16, "high": 200}]
    if errors:
        raise InvalidInput(_("The webhook was not created."), errors=errors)
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            url=url, events=list(dict.fromkeys(events)), secret=secret, created_by=actor.user
        )
        _audit(actor, "webhook_subscribe", subscription, {"url": url, "events": subscription.events})
    return subscription


def webhook_unsubscribe(*, subscription_id: int, actor: Actor) -> None:
    """Deactivate: nothing more is sent to it, and its deliveries stay on record."""
    with transaction.atomic():
        subscription = WebhookSubscription.objects.select_for_update().filter(pk=subscription_id, active=True).first()
        if subscription is None:
            raise NotFound(_("No such webhook."))
        subscription.active = False
        subscription.save(update_fields=["active"])
        _audit(actor, "webhook_unsubscribe", subscription, {"url": subscription.url})


def _audit(actor: Actor, action: str, subscription: WebhookSubscription, changes: dict) -> None:
    AuditEntry.objects.create(
        user=actor.user,
        actor_name=actor.name,
        action=action,
        object_type="WebhookSubscription",
        object_key=str(subscription.pk),
        changes=changes,
    )


# --- the outbox ---------------------------------------------------------------------------------
def webhooks_enqueue(*, type: str, data: dict) -> list[WebhookDelivery]:
    """One delivery per active subscription to `type`, in the caller's transaction; each is sent
    by a task once that transaction commits. `data` must be JSON as it is (strings for times)."""
    subscriptions = [s for s in WebhookSubscription.objects.filter(active=True) if type in s.events]
    if not subscriptions:
        return []
    now = timezone.now()
    event_id = uuid.uuid4()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(subscription=s, event_id=event_id, type=type, payload=data, created_at=now, next_attempt_at=now)
        for s in subscriptions
    )
    ids = [d.pk for d in deliveries]  # bulk_create sets them on PostgreSQL and SQLite
    transaction.on_commit(lambda: outbox_dispatch("webhook", ids))
    return deliveries


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """The exact bytes sent (and signed): the same on every attempt."""
    body = {
        "id": str(delivery.event_id),
        "type": delivery.type,
        "created_at": timezone.localtime(delivery.created_at).isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def webhook_signature(body: bytes, secret: str) -> str:
    """The X-Signature header: sha256=<hex HMAC-SHA256 of the body with the secret>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> dt.timedelta:
    """30 s (settings.WEBHOOK_BACKOFF_SECONDS) after the first failure, then doubling, at most an
    hour apart. Shared by notifications."""
    first = dt.timedelta(seconds=getattr(settings, "WEBHOOK_BACKOFF_SECONDS", BACKOFF_FIRST.total_seconds()))
    return min(first * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """(status code or None, error text) — never raises. R-SEC-5: the host is checked again now,
    after name resolution, and the request goes to the address that was checked; a redirect is
    recorded as its status, not followed; the error text never says why a connection failed."""
    return post_pinned(url, body, headers, timeout=TIMEOUT_SECONDS)


def _claim(delivery_id: int, now: dt.datetime) -> WebhookDelivery | None:
    """Lock the row and take a short lease on it, so two workers never send it at once; None when
    it is delivered, failed, or not yet due."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("subscription")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != D.PENDING:
            return None
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return None
        if not delivery.subscription.active:
            delivery.status = D.FAILED
            delivery.last_error = "The subscription was deleted."
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
            return None
        if now - delivery.created_at > GIVE_UP_AFTER:  # the last attempts never finished
            delivery.status = D.FAILED
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "next_attempt_at"])
            return None
        # The attempt counts from here, so one cut short (a worker killed mid-send) is on record;
        # its outcome replaces this note.
        delivery.attempts += 1
        delivery.next_attempt_at = now + SENDING_LEASE
        started = timezone.localtime(now).isoformat(timespec="seconds")
        delivery.last_error = f"attempt {delivery.attempts} started at {started} and has recorded no outcome"
        delivery.save(update_fields=["attempts", "next_attempt_at", "last_error"])
    return delivery


def webhook_deliver(*, delivery_id: int) -> str | None:
    """Send one delivery if it is pending and due; record the outcome. Returns the new status, or
    None when there was nothing to send. A delivered one is never sent again.

    The lease keeps live workers from sending one delivery together (it outlasts TIMEOUT_SECONDS).
    A worker killed after the receiver got the body but before "delivered" was committed leaves
    the delivery pending, and it is sent again after the lease with the same body and `id`: the
    receiver sees it at least once and dedupes on `id` (API.md), so it acts on it exactly once."""
    now = timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return None
    body = webhook_body(delivery)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "care-home-waiting-list-webhooks/1",
        "X-Signature": webhook_signature(body, delivery.subscription.secret),
        "X-Webhook-Id": str(delivery.event_id),
        "X-Webhook-Type": delivery.type,
    }
    status_code, error = _post(delivery.subscription.url, body, headers)
    finished = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.status != D.PENDING:
            return delivery.status
        delivery.last_status_code = status_code
        if status_code is not None and 200 <= status_code < 300:
            delivery.status = D.DELIVERED
            delivery.delivered_at = finished
            delivery.last_error = ""
            delivery.next_attempt_at = None
        else:
            delivery.last_error = error or f"HTTP {status_code}"
            retry_at = finished + backoff(delivery.attempts)
            if retry_at - delivery.created_at > GIVE_UP_AFTER:
                delivery.status = D.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = retry_at
        delivery.save()
    return delivery.status


def webhook_deliveries_due(*, now: dt.datetime | None = None, limit: int = DUE_BATCH) -> list[int]:
    """Pending deliveries whose next attempt is due, oldest first (for the retry sweep)."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=D.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


# --- what the events say -------------------------------------------------------------------------
def offer_webhook_data(offer: Offer) -> dict:
    """The `data` of offer.made and offer.expired: the offer as the API shows it."""
    return {
        "id": offer.pk,
        "application": offer.application.reference,
        "facility": offer.facility.code,
        "bed": offer.bed_id,
        "bed_code": offer.bed.code,
        "state": offer.state,
        "made_at": timezone.localtime(offer.made_at).isoformat(),
        "respond_by": timezone.localtime(offer.respond_by).isoformat(),
        "decision": offer.decision_id,
    }


def state_changed_webhook_data(event: ApplicationEvent) -> dict:
    """The `data` of application.state_changed."""
    return {
        "event": event.pk,
        "reference": event.application.reference,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "transition": event.transition,
        "at": timezone.localtime(event.at).isoformat(),
    }


def bed_vacated_webhook_data(bed: Bed, *, reason: str, on: dt.date) -> dict:
    """The `data` of bed.vacated (a discharge, R-BED-2)."""
    return {
        "bed": bed.pk,
        "bed_code": bed.code,
        "facility": bed.facility.code,
        "bed_type": bed.bed_type,
        "reason": reason,
        "date": on.isoformat(),
    }
