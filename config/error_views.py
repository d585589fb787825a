"""404 and 500 outside the views: problem+json for the API, a plain page for people."""

from django.utils.translation import gettext as _
from django.views import defaults

from api.errors import json_problem

API_PREFIXES = ("/api/", "/healthz", "/readyz")


def not_found(request, exception=None):
    if request.path.startswith(API_PREFIXES):
        return json_problem(404, _("No such resource."))
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(API_PREFIXES):
        return json_problem(500, _("Something went wrong; it has been logged."))
    return defaults.server_error(request)
