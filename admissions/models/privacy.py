"""The access log of full ID numbers (R-PRIV-1): every time a page, the API, the Django admin or an
export shows a person's full resident ID number, one row says who saw it, when, for which
application and where. Append-only like events: nobody, administrators included, edits it."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .append_only import AppendOnlyModel


class IdAccess(AppendOnlyModel):
    applicant = models.ForeignKey(
        "admissions.Applicant", on_delete=models.PROTECT, related_name="id_accesses", verbose_name=_("applicant")
    )
    # The application whose page showed it; null where the page is the person's (the admin's applicant).
    application = models.ForeignKey(
        "admissions.Application",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="id_accesses",
        verbose_name=_("application"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    actor_name = models.CharField(_("who"), max_length=150)
    at = models.DateTimeField(_("when"), db_index=True)
    # Where it was shown: a page's or an API operation's name (staff:application, api:application, …).
    where = models.CharField(_("where"), max_length=80)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("ID number access")
        verbose_name_plural = _("ID number accesses")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} @ {self.where}"
