"""Models of the admission engine, one module per part of SPEC.md.

Rules are not here: they live in `admissions.services` (changes) and `admissions.selectors`
(reads). Models hold data, database constraints and the state-machine edges.
"""

from .applications import (
    FINAL_STATES,
    ON_HOLD_STATES,
    QUEUED_STATES,
    Applicant,
    Application,
    ApplicationState,
    Category,
    CategoryClaim,
    CategoryStatus,
    Channel,
    DuplicateReview,
    FacilityChoice,
    ReferenceCounter,
    Sex,
)
from .calendar import CalendarDay, CalendarYear, DayKind
from .checkpoints import Checkpoint
from .couples import Couple, CoupleMember, CoupleMode
from .events import ActorKind, ApplicationEvent
from .notifications import FormSubmission, Notification, NotificationChannel, NotificationStatus
from .offers import LIVE_OFFER_STATES, AllocationDecision, DecisionConfirmation, Occupancy, Offer, OfferState
from .policy import Policy, PolicyActivation
from .privacy import IdAccess
from .queue import QueueChange, QueueEntry, QueueEntryOutcome, QueueEntryStatus
from .reconfirmation import Reconfirmation, ReconfirmedVia
from .review_requests import ReviewOutcome, ReviewRequest, ReviewRequestState
from .webhooks import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEventType,
    WebhookSubscription,
)

__all__ = [
    "FINAL_STATES",
    "ON_HOLD_STATES",
    "LIVE_OFFER_STATES",
    "QUEUED_STATES",
    "ActorKind",
    "AllocationDecision",
    "DecisionConfirmation",
    "Applicant",
    "Application",
    "ApplicationEvent",
    "ApplicationState",
    "CalendarDay",
    "CalendarYear",
    "Category",
    "CategoryClaim",
    "CategoryStatus",
    "Checkpoint",
    "Couple",
    "CoupleMember",
    "CoupleMode",
    "Channel",
    "DayKind",
    "DuplicateReview",
    "FacilityChoice",
    "FormSubmission",
    "IdAccess",
    "Notification",
    "NotificationChannel",
    "NotificationStatus",
    "Occupancy",
    "Offer",
    "OfferState",
    "Policy",
    "PolicyActivation",
    "QueueChange",
    "QueueEntry",
    "QueueEntryOutcome",
    "QueueEntryStatus",
    "Reconfirmation",
    "ReconfirmedVia",
    "ReferenceCounter",
    "ReviewOutcome",
    "ReviewRequest",
    "ReviewRequestState",
    "Sex",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEventType",
    "WebhookSubscription",
]
