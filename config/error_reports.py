"""What an error report may show (R-SEC-1).

Django hides settings whose names contain API, TOKEN, KEY, SECRET, PASS or SIGNATURE; ours also
hold credentials in URLs (DATABASE_URL, CELERY_BROKER_URL, REDIS_CACHE_URL, SMS_GATEWAY_URL), so a
name with URL or DSN is hidden as well.
"""

import re

from admissions.privacy_filters import PersonalDataReporterFilter


class ReporterFilter(PersonalDataReporterFilter):
    """Personal data in the request masked (R-PRIV-2, its parent), and these settings too."""

    hidden_settings = re.compile("API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|DSN", flags=re.IGNORECASE)
