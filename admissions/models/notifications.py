"""Messages to the family (R-OFF-6), written in the same transaction as the change that causes
them and sent afterwards, so a failed send is retried rather than lost."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class NotificationChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("email")


class Notification(models.Model):
    application = models.ForeignKey("admissions.Application", on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=40)  # offer_made, offer_reminder, state_changed, …
    channel = models.CharField(max_length=10, choices=NotificationChannel.choices, default=NotificationChannel.SMS)
    language = models.CharField(max_length=10)
    recipient = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # When the outbox sweep may (re)send it: set on creation, pushed back by each failure with
    # backoff and, while a worker sends, by a short lease; None once sent or failed.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Makes a reminder idempotent: one per offer and kind, on each channel.
    dedupe_key = models.CharField(max_length=120, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key", "channel"], name="notification_once_per_channel"),
        ]
        indexes = [
            models.Index(fields=["status"], name="notification_status"),
            models.Index(fields=["status", "next_attempt_at"], name="notification_due"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.application_id} ({self.status})"


class FormSubmission(models.Model):
    """A staff form's one-time token, claimed by its first submission (web/formtokens.py)."""

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    result_url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.token} → {self.result_url or '…'}"
