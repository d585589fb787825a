"""Signed checkpoints of the decision log (R-VER-3): append-only, published under /public/checkpoints/."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .append_only import AppendOnlyModel


def city_time(moment) -> str:
    """ISO 8601 in the city's zone (settings.TIME_ZONE), whatever zone a request has activated: the
    text is hashed or signed (SPEC §15), so it must not depend on who asks."""
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).isoformat()


class Checkpoint(AppendOnlyModel):
    """For each home, the sequence number and public hash of its newest decision, signed (Ed25519)
    over the RFC 8785 form of {id, made_at, heads}. The id is numbered by admissions.chain before
    signing, since the signature covers it."""

    id = models.PositiveIntegerField(primary_key=True)
    made_at = models.DateTimeField()  # whole seconds: the signed text is made_at_text
    heads = models.JSONField()  # [{facility: code, seq, public_hash}], by facility code
    key_id = models.CharField(max_length=40)
    signature = models.CharField(max_length=120)  # base64
    made_by = models.CharField(max_length=150)  # "system" (the daily task) or the administrator

    class Meta:
        ordering = ["-id"]
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")

    def __str__(self) -> str:
        return f"checkpoint {self.pk}"

    @property
    def made_at_text(self) -> str:
        """The time as signed and published: ISO 8601 in the city's zone, whole seconds."""
        return city_time(self.made_at)

    @property
    def public(self) -> dict:
        return {"id": self.pk, "made_at": self.made_at_text, "heads": self.heads}
