"""R-PRIV-2: error reports never carry personal data.

Django's error report (the technical 500 page when DEBUG is on, the email to ADMINS otherwise)
shows the request's POST data. Every field that can hold an ID number, a phone number, a lookup
code, an address, an email or a name is replaced by stars, whichever view failed, so no view has
to remember a `sensitive_post_parameters` decorator.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

PERSONAL_FIELD = re.compile(r"(id_number|phone|code|address|email|name|recipient|body)", re.IGNORECASE)


class PersonalDataReporterFilter(SafeExceptionReporterFilter):
    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        if request is None or not parameters:
            return parameters
        cleansed = parameters.copy()
        for key in cleansed:
            if PERSONAL_FIELD.search(key):
                cleansed[key] = self.cleansed_substitute
        return cleansed
