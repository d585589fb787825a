"""Webhooks (API.md): subscriptions of other systems, and the outbox of deliveries to them.

A delivery row is written in the same transaction as the change it reports, so nothing accepted is
lost when the broker or the receiver is down (SPEC §10); Celery tasks send it and retry it.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WebhookEventType(models.TextChoices):
    APPLICATION_STATE_CHANGED = "application.state_changed", _("an application changed state")
    OFFER_MADE = "offer.made", _("an offer was made")
    OFFER_EXPIRED = "offer.expired", _("an offer expired")
    OFFER_OVERDUE = "offer.overdue", _("an accepted offer's admission deadline passed")
    BED_VACATED = "bed.vacated", _("a bed became vacant by a discharge")
    APPLICATION_CHANGED = "application.changed", _("an application's details changed while it waits")
    RECONFIRMATION_REQUESTED = "reconfirmation.requested", _("a family was asked to confirm they still want to wait")
    RECONFIRMATION_LAPSED = "reconfirmation.lapsed", _("suspended for want of a re-confirmation")
    REVIEW_REQUEST_DECIDED = "review_request.decided", _("a re-review of an assessment was decided")
    COUPLE_LINKED = "couple.linked", _("two applications were linked as a couple")
    COUPLE_UNLINKED = "couple.unlinked", _("a couple was unlinked")


class WebhookSubscription(models.Model):
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("event types"), default=list)  # a list of WebhookEventType values
    # Signs each body (HMAC-SHA256); shown to nobody after it is set.
    secret = models.CharField(_("secret"), max_length=200)
    # Deleting a subscription deactivates it, so its deliveries stay on record.
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self) -> str:
        return f"webhook #{self.pk} → {self.url}"


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")


class WebhookDelivery(models.Model):
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.PROTECT, related_name="deliveries")
    # The id receivers dedupe on: the same for every subscription told of one event, and for every retry.
    event_id = models.UUIDField(default=uuid.uuid4)
    type = models.CharField(max_length=60, choices=WebhookEventType.choices)
    payload = models.JSONField(default=dict)  # the `data` of the body
    status = models.CharField(max_length=10, choices=WebhookDeliveryStatus.choices, default="pending")
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id"], name="one_delivery_per_event_and_subscription"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id} → #{self.subscription_id} {self.status}"
