"""Applicants, applications and what they claim (SPEC §3), and the application state machine (§5)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from facilities.models import CareLevel, District, Facility


class Sex(models.TextChoices):
    FEMALE = "F", _("female")
    MALE = "M", _("male")


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", "简体中文"
    EN = "en", "English"


class Applicant(models.Model):
    """The elder, identified by the resident ID number (R-APP-1). One row per person."""

    # Null once the person is anonymised (R-PRIV-3): the number then lives on only as a keyed hash,
    # so the bar (R-APP-6) and the refusal count (R-OFF-5) still find this row if they apply again.
    id_number = models.CharField(_("resident ID number"), max_length=18, unique=True, null=True, blank=True)
    id_number_hash = models.CharField(max_length=64, blank=True, db_index=True)
    id_number_key_id = models.CharField(max_length=40, blank=True)
    anonymised_at = models.DateTimeField(_("anonymised at"), null=True, blank=True)
    name = models.CharField(_("name"), max_length=100)
    date_of_birth = models.DateField(_("date of birth"))
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    # R-CHG-2: the applicant's own email, a contact detail changed at any time before a final state.
    email = models.EmailField(_("email"), max_length=254, blank=True)
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS)
    # R-OFF-5 / R-APP-6: removed for refusals → cannot apply again until this date (exclusive).
    barred_until = models.DateField(_("barred until"), null=True, blank=True)

    class Meta:
        verbose_name = _("applicant")
        verbose_name_plural = _("applicants")
        indexes = [
            models.Index(fields=["name", "date_of_birth"], name="applicant_name_dob"),
            models.Index(fields=["phone"], name="applicant_phone"),
        ]

    def __str__(self) -> str:
        return self.masked_name

    @property
    def masked_name(self) -> str:
        """张*明 (R-PUB-3): first and last character kept, the middle masked."""
        name = self.name.strip()
        if len(name) <= 1:
            return name
        if len(name) == 2:
            return name[0] + "*"
        return name[0] + "*" * (len(name) - 2) + name[-1]

    @property
    def masked_id_number(self) -> str:
        """440102********123X (SPEC §10); all stars once anonymised (R-PRIV-3)."""
        if not self.id_number:
            return "*" * 18
        return self.id_number[:6] + "*" * 8 + self.id_number[-4:]


class ApplicationState(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    ASSESSMENT_PENDING = "assessment_pending", _("waiting for assessment")
    REVIEW = "review", _("under review")
    WAITING = "waiting", _("waiting in the queue")
    SUSPENDED = "suspended", _("suspended")
    OFFERED = "offered", _("bed offered")
    ADMISSION_CHECK = "admission_check", _("admission check")
    ADMITTED = "admitted", _("admitted")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")
    REMOVED = "removed", _("removed")


S = ApplicationState
FINAL_STATES = (S.ADMITTED, S.REJECTED, S.WITHDRAWN, S.REMOVED)
# R-Q-4 "on hold": queued, but not to be offered a bed now (suspended, or holding an offer).
ON_HOLD_STATES = (S.SUSPENDED, S.OFFERED, S.ADMISSION_CHECK)
NON_FINAL_STATES = tuple(s for s in S if s not in FINAL_STATES)
# R-Q-1: the states in which an application's queue entries are open.
QUEUED_STATES = (S.WAITING, S.SUSPENDED, S.OFFERED, S.ADMISSION_CHECK)


class Channel(models.TextChoices):
    """R-Q-2 orders channels special, priority, ordinary: `rank` gives that order."""

    SPECIAL = "special", _("special safeguard")
    PRIORITY = "priority", _("priority")
    ORDINARY = "ordinary", _("ordinary")

    @property
    def rank(self) -> int:
        return CHANNEL_RANK[self.value]


CHANNEL_RANK = {"special": 0, "priority": 1, "ordinary": 2}


class Application(ConcurrentTransitionMixin, models.Model):
    """One request to be admitted. `state` changes only through the transitions below (R-FSM-1),
    called only from admissions.services, which hold the lock and append the event (R-FSM-2)."""

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    applicant = models.ForeignKey(Applicant, on_delete=models.PROTECT, related_name="applications")
    state = FSMField(_("state"), default=S.DRAFT, choices=S.choices, protected=True)
    # Bumped on every change: a writer holding an older version gets a conflict (optimistic
    # concurrency), never a lost update; with ConcurrentTransitionMixin, one of two concurrent
    # transitions wins and the other gets 409 (R-FSM-4).
    version = models.PositiveIntegerField(default=1)

    # Residence (R-APP-3). hukou_district null means "other" (outside the city).
    hukou_district = models.ForeignKey(
        District, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("hukou district")
    )
    residence_district = models.ForeignKey(
        District,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("residence district"),
    )
    address = models.CharField(_("address"), max_length=255, blank=True)
    contributor_exemption_requested = models.BooleanField(_("contributor exemption requested"), default=False)
    contributor_exemption_granted = models.BooleanField(_("contributor exemption granted"), null=True, blank=True)
    contributor_exemption_note = models.TextField(blank=True)

    # Family situation at intake (R-APP-9); spousal reunification is per choice (FacilityChoice).
    lives_alone = models.BooleanField(_("lives alone"), default=False)
    no_spouse_no_children = models.BooleanField(_("no spouse and no living children"), default=False)

    # Health declarations (R-APP-4).
    declares_no_infectious_disease = models.BooleanField(_("free of infectious disease"), default=False)
    declares_no_serious_mental_disorder = models.BooleanField(_("no serious mental disorder"), default=False)

    contact_name = models.CharField(_("contact name"), max_length=100, blank=True)
    contact_relation = models.CharField(_("contact relation"), max_length=40, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True)
    # R-OFF-6: notifications go by SMS to a phone and by email to this address, when there is one.
    contact_email = models.EmailField(_("contact email"), max_length=254, blank=True)

    channel_code = models.CharField(_("channel"), max_length=10, choices=Channel.choices, null=True, blank=True)
    channel_reason = models.JSONField(default=dict, blank=True)  # which category or rule fixed it
    # R-POL-1, R-CARE-1: the care level under the policy in force (set at approval and by the act that
    # brings a new version into force); the assessment keeps its grade and is never rewritten.
    care_level = models.CharField(_("care level"), max_length=10, choices=CareLevel.choices, null=True, blank=True)
    current_assessment = models.ForeignKey(
        "assessments.Assessment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_via = models.CharField(max_length=20, default="web")  # web | api | demo
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closing_reason = models.CharField(max_length=40, blank=True)

    # R-PUB-1: only a keyed hash of the lookup code is kept.
    lookup_code_hash = models.CharField(max_length=64, blank=True)
    lookup_code_issued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        constraints = [
            # R-APP-5: at most one application per person that is not in a final state.
            models.UniqueConstraint(
                fields=["applicant"],
                condition=~Q(state__in=["admitted", "rejected", "withdrawn", "removed"]),
                name="one_open_application_per_applicant",
            ),
            models.CheckConstraint(
                condition=Q(channel_code__isnull=True) | Q(channel_code__in=["special", "priority", "ordinary"]),
                name="application_channel_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["state"], name="application_state"),
            # The ids of applications on hold, read whole by every queue position (R-Q-4): a small
            # partial index the database can answer from without reading the wide rows (issue 7
            # bench: a position at the largest home 18 → 3 ms on PostgreSQL, with queue_entry_counts).
            models.Index(fields=["id"], condition=Q(state__in=ON_HOLD_STATES), name="application_on_hold"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def channel(self) -> Channel | None:
        return Channel(self.channel_code) if self.channel_code else None

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def effective_district_id(self) -> int | None:
        """R-APP-3: the residence district stands in for an outside hukou under the exemption."""
        if self.hukou_district_id is None and self.contributor_exemption_requested:
            return self.residence_district_id
        return self.hukou_district_id

    # --- the state machine of SPEC §5. The edges only: services check conditions and write
    # events; nothing else calls these. -------------------------------------------------------
    @transition(field=state, source=S.DRAFT, target=S.SUBMITTED)
    def submit(self) -> None: ...

    @transition(field=state, source=S.SUBMITTED, target=S.ASSESSMENT_PENDING)
    def accept_for_assessment(self) -> None: ...

    @transition(field=state, source=S.SUBMITTED, target=S.REVIEW)
    def accept_for_assessment_with_valid_assessment(self) -> None: ...

    @transition(field=state, source=[S.SUBMITTED, S.REVIEW], target=S.REJECTED)
    def reject(self) -> None: ...

    @transition(field=state, source=S.ASSESSMENT_PENDING, target=S.REVIEW)
    def complete_assessment(self) -> None: ...

    @transition(field=state, source=S.REVIEW, target=S.ASSESSMENT_PENDING)
    def return_for_assessment(self) -> None: ...

    @transition(field=state, source=S.REVIEW, target=S.WAITING)
    def approve(self) -> None: ...

    @transition(field=state, source=S.WAITING, target=S.SUSPENDED)
    def suspend(self) -> None: ...

    @transition(field=state, source=S.SUSPENDED, target=S.WAITING)
    def resume(self) -> None: ...

    @transition(field=state, source=S.WAITING, target=S.OFFERED)
    def make_offer(self) -> None: ...

    @transition(field=state, source=S.OFFERED, target=S.ADMISSION_CHECK)
    def accept_offer(self) -> None: ...

    @transition(field=state, source=S.OFFERED, target=S.WAITING)
    def decline_offer(self) -> None: ...

    @transition(field=state, source=S.OFFERED, target=S.WAITING)
    def expire_offer(self) -> None: ...

    @transition(field=state, source=S.ADMISSION_CHECK, target=S.ADMITTED)
    def admit(self) -> None: ...

    @transition(field=state, source=S.ADMISSION_CHECK, target=S.WAITING)
    def fail_admission_check(self) -> None: ...

    @transition(field=state, source=S.ADMISSION_CHECK, target=S.ASSESSMENT_PENDING)
    def fail_admission_check_care_need_changed(self) -> None: ...

    @transition(field=state, source=[S.WAITING, S.SUSPENDED], target=None)
    def reassess(self) -> None:
        """Same state (target None): a new approved assessment while queued."""

    @transition(field=state, source=list(NON_FINAL_STATES), target=S.WITHDRAWN)
    def withdraw(self) -> None: ...

    @transition(field=state, source=list(NON_FINAL_STATES), target=S.REMOVED)
    def remove(self) -> None: ...


# The URL names of the transitions (API.md): each transition method above maps to one public
# name; the two variants of accept_for_assessment and fail_admission_check share theirs.
TRANSITION_NAMES = {
    "submit": "submit",
    "accept_for_assessment": "accept-for-assessment",
    "accept_for_assessment_with_valid_assessment": "accept-for-assessment",
    "reject": "reject",
    "complete_assessment": "complete-assessment",
    "return_for_assessment": "return-for-assessment",
    "approve": "approve",
    "suspend": "suspend",
    "resume": "resume",
    "make_offer": "make-offer",
    "accept_offer": "accept-offer",
    "decline_offer": "decline-offer",
    "expire_offer": "expire-offer",
    "admit": "admit",
    "fail_admission_check": "fail-check",
    "fail_admission_check_care_need_changed": "fail-check",
    "reassess": "reassess",
    "withdraw": "withdraw",
    "remove": "remove",
}


class ReferenceCounter(models.Model):
    """The last sequence number used per year for references like 2026-000123."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Category(models.TextChoices):
    """R-APP-8. The channel each gives is policy data (Policy.parameters['channel_mapping'])."""

    TEKUN = "tekun", _("extreme-poverty supported (特困供养)")
    DIBAO = "dibao", _("minimum living allowance household (低保)")
    LOW_INCOME = "low_income", _("low-income household (低收入)")
    YOUFU = "youfu", _("key entitled group (重点优抚对象)")
    FAMILY_PLANNING_SPECIAL = "family_planning_special", _("family-planning special family (计划生育特殊家庭)")
    MODEL_WORKER = "model_worker", _("model worker, city level or above (劳动模范)")
    HEROIC_DEED = "heroic_deed", _("person of heroic deeds (见义勇为)")


class CategoryStatus(models.TextChoices):
    CLAIMED = "claimed", _("claimed")
    VERIFIED = "verified", _("verified")
    REFUSED = "refused", _("refused")
    # R-CHG-2: a verified category that has ended (e.g. 低保 lifted), recorded by a reviewer.
    ENDED = "ended", _("ended")


# What an evidence file must start with (R-APP-8), and the extension it is stored under (R-SEC-7):
# checked on the content, never the name or the declared type. admissions/evidence.py reads these.
EVIDENCE_SIGNATURES = {b"%PDF-": "application/pdf", b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
EVIDENCE_EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


def evidence_sniffed_type(file) -> str | None:
    """The content type `file`'s first bytes show (a PDF, JPEG or PNG), or None. Reads from the
    start and leaves the file at its start."""
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    return next((kind for signature, kind in EVIDENCE_SIGNATURES.items() if head.startswith(signature)), None)


def evidence_upload_to(instance: "CategoryClaim", filename: str) -> str:
    """R-SEC-7: a random name (the uploader's could carry personal data, and must not be guessable)
    with the extension of the type sniffed from the content (PDF, JPEG, PNG), never the uploader's
    extension; `.bin` for anything else (which intake refuses before it gets here)."""
    import secrets

    upload = getattr(instance.evidence_file, "_file", None)
    try:
        kind = evidence_sniffed_type(upload) if upload is not None else None
    except (OSError, ValueError):
        kind = None
    return f"evidence/{secrets.token_hex(16)}{EVIDENCE_EXTENSIONS.get(kind, '.bin')}"


class CategoryClaim(models.Model):
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="category_claims")
    code = models.CharField(_("category"), max_length=30, choices=Category.choices)
    evidence = models.CharField(_("evidence reference"), max_length=255, blank=True)
    evidence_file = models.FileField(_("evidence file"), upload_to=evidence_upload_to, blank=True)
    status = models.CharField(max_length=10, choices=CategoryStatus.choices, default=CategoryStatus.CLAIMED)
    note = models.TextField(blank=True)
    verified_by = models.ForeignKey("auth.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["application", "id"]
        verbose_name = _("category claim")
        verbose_name_plural = _("category claims")
        constraints = [
            models.UniqueConstraint(fields=["application", "code"], name="category_claimed_once"),
            # R-APP-8: every claim carries evidence.
            models.CheckConstraint(
                condition=~Q(evidence="") | ~Q(evidence_file=""), name="category_claim_has_evidence"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application.reference} {self.code} ({self.status})"


class FacilityChoice(models.Model):
    """A home the applicant chose, in order of preference (R-APP-7)."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="choices")
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="+")
    rank = models.PositiveSmallIntegerField()
    # R-APP-9: the spouse already lives in this home (spousal reunification, scored per facility).
    spouse_resident = models.BooleanField(_("spouse resident here"), default=False)

    class Meta:
        ordering = ["application", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["application", "facility"], name="choice_facility_once"),
            models.UniqueConstraint(fields=["application", "rank"], name="choice_rank_once"),
            models.CheckConstraint(condition=Q(rank__gte=1), name="choice_rank_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.rank}. {self.facility.code}"


class DuplicateMatch(models.TextChoices):
    NAME_AND_BIRTH_DATE = "name_dob", _("same name and birth date")
    PHONE = "phone", _("same phone")


class DuplicateDecision(models.TextChoices):
    CONFIRMED = "confirmed", _("same person, confirmed")
    DISMISSED = "dismissed", _("different person")


class DuplicateReview(models.Model):
    """R-APP-10: the intake officer's answer to a possible duplicate, with a note."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="duplicate_reviews")
    other_application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="+")
    match = models.CharField(max_length=10, choices=DuplicateMatch.choices)
    decision = models.CharField(max_length=10, choices=DuplicateDecision.choices)
    note = models.TextField()
    decided_by = models.ForeignKey("auth.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "other_application"], name="duplicate_reviewed_once"),
            models.CheckConstraint(condition=~Q(note=""), name="duplicate_review_has_note"),
        ]

    def __str__(self) -> str:
        return f"{self.application} ~ {self.other_application}: {self.decision}"
