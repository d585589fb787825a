"""The numbers SPEC.md gives, written out by hand.

Tests compare the code against these, never against the code's own constants: a test that reads its
expectation from the module under test passes whatever value that module holds. When SPEC.md changes
a number, change it here, and the tests show every place the code must follow.
"""

from decimal import Decimal

# R-PUB-2: 10 failed lookups an hour per address, 5 per reference, then locked for an hour.
LOOKUP_FAILURES_PER_ADDRESS = 10
LOOKUP_FAILURES_PER_REFERENCE = 5
LOOKUP_FAILURE_WINDOW_SECONDS = 60 * 60
LOOKUP_LOCK_SECONDS = 60 * 60
# R-PUB-1: a 6-character code without the letters and digits that can be confused.
LOOKUP_CODE_LENGTH = 6
LOOKUP_CODE_CONFUSABLE = set("0O1I")

# §9 defaults.
MIN_AGE = 60  # R-APP-2
MAX_CHOICES = 2  # R-APP-7
MAX_CITY_LEVEL_CHOICES = 1  # R-APP-7
NURSING_TARGET = Decimal("0.78")  # R-NQ-1
NURSING_MIN_GRADE = 2  # R-CARE-1
ASSESSMENT_VALID_DAYS = 365  # R-ASM-5
REASSESSMENT_REMINDER_DAYS = 30  # R-ASM-5
OFFER_RESPONSE_WORKING_DAYS = 5  # R-OFF-1
ADMISSION_WORKING_DAYS = 5  # R-OFF-1
REFUSAL_LIMIT = 3  # R-OFF-5
REFUSAL_WINDOW_DAYS = 365  # R-OFF-5
BAR_DAYS = 365  # R-OFF-5
RETENTION_YEARS = 5  # R-PRIV-3
VACANCY_ALERT_DAYS = 14  # R-WATCH-1
OUT_OF_SERVICE_ALERT_DAYS = 30  # R-WATCH-1
ADMISSION_EXTENSION_WORKING_DAYS = 5  # R-OFF-7
ADMISSION_GRACE_WORKING_DAYS = 2  # R-OFF-7
REVIEW_REQUEST_DAYS = 30  # R-ASM-6
REVIEW_DECISION_WORKING_DAYS = 20  # R-ASM-6
RECONFIRM_INTERVAL_DAYS = 365  # R-CHG-3
RECONFIRM_GRACE_DAYS = 30  # R-CHG-3
RECONFIRM_REMINDER_DAYS_BEFORE = 7  # R-CHG-3: the reminder goes 7 days before the grace runs out
RECONFIRM_SPREAD_DAYS = 30  # R-CHG-3: first asks spread over 30 days by reference
COUPLES_TOGETHER = True  # R-CPL-1

# R-Q-3 default score weights.
CARE_POINTS_BY_GRADE = {0: 0, 1: 10, 2: 20, 3: 30, 4: 40}
AGE_POINTS = {69: 0, 70: 2, 79: 2, 80: 5, 89: 5, 90: 8, 99: 8, 100: 10}  # age → points, at the bands' edges
LONELY_POINTS = 5  # 孤寡
LIVES_ALONE_POINTS = 3
SPOUSE_RESIDENT_POINTS = 5
WAITING_POINTS_PER_PERIOD = 1
WAITING_PERIOD_DAYS = 30

# R-APP-8: the categories and their default channels.
DEFAULT_CHANNEL_BY_CATEGORY = {
    "tekun": "special",
    "dibao": "special",
    "low_income": "special",
    "youfu": "priority",
    "family_planning_special": "priority",
    "model_worker": "priority",
    "heroic_deed": "priority",
}
CATEGORY_CODES = tuple(DEFAULT_CHANNEL_BY_CATEGORY)
