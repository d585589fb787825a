"""The site's start page: the family's way in (issue 5). Thin: render the lookup form."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from web.views.portal import lookup_form_context


@require_GET
def home(request):
    """The status lookup form, the way to the homes and their queues, and the staff log-in."""
    return render(request, "admissions/home.html", lookup_form_context())
