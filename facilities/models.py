"""Homes (Facility), their beds, the city's districts, and the audit trail of administrative changes.

The bed *status* is changed only by the allocation side (admissions.services), which owns the
facility lock; this app holds the data and the constraints.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

FACILITY_CODE_VALIDATOR = RegexValidator(
    r"^[A-Z0-9-]{2,20}$", _("Facility codes are 2–20 characters of A–Z, 0–9 and '-'.")
)


def in_page_language(chinese: str, english: str) -> str:
    """A text kept in both languages, in the language being rendered (a page's, or a notification's
    under the applicant's): the English one where it is given, else the Chinese (issue 15)."""
    return english if english and (get_language() or "").startswith("en") else chinese


class InPageLanguage:
    """A home's name and address as a page or a message shows them (`name`, `name_en`, `address`,
    `address_en`): the model and the public board's rows."""

    @property
    def local_name(self) -> str:
        return in_page_language(self.name, self.name_en)

    @property
    def local_address(self) -> str:
        return in_page_language(self.address, self.address_en)


class District(models.Model):
    """A district of the city. Data, not code, so another city can run the product (SPEC §2)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=60)
    name_en = models.CharField(_("name (English)"), max_length=60)
    # The district's intake office, where families apply (issue 15: the public start page, the
    # receipt). Kept by administrators; an office not filled in is not listed.
    office_address = models.CharField(_("intake office address (Chinese)"), max_length=255, blank=True)
    office_address_en = models.CharField(_("intake office address (English)"), max_length=255, blank=True)
    office_phone = models.CharField(_("intake office phone"), max_length=40, blank=True)
    office_hours = models.CharField(_("intake office opening hours (Chinese)"), max_length=120, blank=True)
    office_hours_en = models.CharField(_("intake office opening hours (English)"), max_length=120, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        constraints = [models.CheckConstraint(condition=~Q(code="other"), name="district_code_not_other")]

    def __str__(self) -> str:
        return f"{self.name_zh} {self.name_en}"

    def name(self, language: str) -> str:
        return self.name_zh if language.startswith("zh") else self.name_en

    @property
    def local_name(self) -> str:
        return self.name(get_language() or "")

    @property
    def local_office_address(self) -> str:
        return in_page_language(self.office_address, self.office_address_en)

    @property
    def local_office_hours(self) -> str:
        return in_page_language(self.office_hours, self.office_hours_en)


class FacilityLevel(models.TextChoices):
    CITY = "city", _("city level")
    DISTRICT = "district", _("district level")


class Facility(InPageLanguage, models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True, validators=[FACILITY_CODE_VALIDATOR])
    name = models.CharField(_("name"), max_length=120)
    # Issue 15: English pages show the home's English name and address where one is given.
    name_en = models.CharField(_("name (English)"), max_length=120, blank=True)
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="facilities")
    level = models.CharField(_("level"), max_length=10, choices=FacilityLevel.choices)
    address = models.CharField(_("address"), max_length=255, blank=True)
    address_en = models.CharField(_("address (English)"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    accepting_applications = models.BooleanField(_("accepting applications"), default=True)
    # The facility's own nursing target (R-NQ-1); null means the policy's value is in force.
    nursing_target = models.DecimalField(
        _("own nursing target"),
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")
        constraints = [
            models.CheckConstraint(
                condition=Q(nursing_target__isnull=True) | Q(nursing_target__gte=0, nursing_target__lte=1),
                name="facility_nursing_target_between_0_and_1",
            ),
            models.CheckConstraint(condition=Q(level__in=["city", "district"]), name="facility_level_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class BedType(models.TextChoices):
    NURSING = "nursing", _("nursing-type bed")
    GENERAL = "general", _("general (self-care) bed")


class BedStatus(models.TextChoices):
    VACANT = "vacant", _("vacant")
    RESERVED = "reserved", _("reserved")
    OCCUPIED = "occupied", _("occupied")
    OUT_OF_SERVICE = "out_of_service", _("out of service")


class CareLevel(models.TextChoices):
    """R-CARE-1. Lives here because a bed records the care level of whoever holds it (R-NQ-1)."""

    NURSING = "nursing", _("nursing care")
    SELF_CARE = "self_care", _("self-care")


HELD_STATUSES = (BedStatus.RESERVED, BedStatus.OCCUPIED)


class Bed(models.Model):
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="beds")
    code = models.CharField(_("bed code"), max_length=40)
    bed_type = models.CharField(_("bed type"), max_length=10, choices=BedType.choices)
    status = models.CharField(_("status"), max_length=20, choices=BedStatus.choices, default=BedStatus.VACANT)
    # The care level, recorded when the offer was made, of whoever holds the bed (R-NQ-1 counts
    # these); set exactly when the bed is reserved or occupied.
    holder_care_level = models.CharField(max_length=10, choices=CareLevel.choices, null=True, blank=True)
    out_of_service_reason = models.CharField(max_length=255, blank=True)
    # Bumped whenever a new occupant moves in, so "refused this bed" (R-ALLOC-1) can be scoped to
    # the bed's current round without scanning history.
    occupancy_round = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # When `status` last changed: how long a bed has stood vacant or out of service (R-WATCH-1).
    # Set by save() whenever the status differs from the one loaded, so no service has to.
    status_since = models.DateTimeField(_("status since"), default=timezone.now)

    class Meta:
        ordering = ["facility", "code"]
        verbose_name = _("bed")
        verbose_name_plural = _("beds")
        constraints = [
            models.UniqueConstraint(fields=["facility", "code"], name="bed_code_unique_per_facility"),
            models.CheckConstraint(condition=Q(bed_type__in=["nursing", "general"]), name="bed_type_valid"),
            models.CheckConstraint(
                condition=(
                    # IS NOT NULL first: `NULL IN (…)` is NULL, which a CHECK lets through.
                    Q(
                        status__in=["reserved", "occupied"],
                        holder_care_level__isnull=False,
                        holder_care_level__in=["nursing", "self_care"],
                    )
                    | Q(status__in=["vacant", "out_of_service"], holder_care_level__isnull=True)
                ),
                name="bed_holder_care_level_iff_held",
            ),
        ]
        indexes = [models.Index(fields=["facility", "status"], name="bed_facility_status")]

    def __str__(self) -> str:
        return f"{self.facility.code}/{self.code}"

    def save(self, *args, **kwargs):
        loaded = getattr(self, "_loaded_status", None)
        if self.pk is not None and loaded is not None and self.status != loaded:
            self.status_since = timezone.now()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "status_since"}
        super().save(*args, **kwargs)
        self._loaded_status = self.status

    @classmethod
    def from_db(cls, db, field_names, values):
        bed = super().from_db(db, field_names, values)
        bed._loaded_status = bed.__dict__.get("status")
        return bed

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._loaded_status = self.__dict__.get("status")


class AuditEntry(models.Model):
    """Who changed what administrative setting, and when (policy, targets, calendar, facilities).

    Lives in the lowest app so every app can record into it. Append-only.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60)
    object_key = models.CharField(max_length=120)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_type} {self.object_key}"


class Role(models.TextChoices):
    """Staff roles (SPEC §1, API.md). Each is a Django group of the same name."""

    INTAKE = "intake", _("intake officer")
    ASSESSOR = "assessor", _("assessor")
    REVIEWER = "reviewer", _("reviewer")
    FACILITY = "facility", _("facility officer")
    ADMIN = "admin", _("administrator")


class StaffProfile(models.Model):
    """What a staff user is bound to: a facility officer works for one home (SPEC §10)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, null=True, blank=True, related_name="staff")

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self) -> str:
        return f"{self.user} @ {self.facility.code if self.facility else '—'}"
