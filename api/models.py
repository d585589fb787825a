"""What the API keeps of its own: the answers to POSTs sent with an Idempotency-Key (API.md)."""

from django.db import models


class IdempotencyRecord(models.Model):
    caller = models.CharField(max_length=64)  # "user:<id>": keys are scoped to the caller
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["caller", "key"], name="idempotency_key_once_per_caller")]

    def __str__(self) -> str:
        return f"{self.caller} {self.key} → {self.status}"
