"""A request that could not get a database lock in time (core.errors.database_busy) gets 503 with
Retry-After, as a problem for the API and a plain page for people, instead of a 500: nothing was
written, and the same request a little later will go through. The API's own exception handler
answers its views; this catches the pages and anything outside DRF.

A page's form token (web.formtokens) was claimed before the work began; it is given back, so the
same form sent again is done rather than answered "this was sent twice"."""

from django.shortcuts import render
from django.utils.translation import gettext as _

from api.errors import json_problem
from config.error_views import API_PREFIXES
from core.errors import RETRY_AFTER_SECONDS, database_busy
from web.formtokens import form_token_release


class DatabaseBusyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_busy(exception):
            return None
        if request.method == "POST":
            form_token_release(request.POST.get("form_token"))
        if request.path.startswith(API_PREFIXES):
            response = json_problem(503, _("The system is busy; please try again in a few seconds."))
        else:
            response = render(request, "503.html", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
