"""Forms of the staff pages for homes, beds and offers. They parse and type what was typed; the
rules (which bed may be discharged, which dates, the quota) are the services' and come back as
DomainError, which core.forms.ServiceForm puts on the form's fields."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from admissions.models.offers import DischargeReason
from core.forms import ServiceForm
from facilities.models import BedStatus, BedType


class FacilityServiceForm(ServiceForm):
    """The service's message heads the form (it names what was refused); each dotted path goes on the
    field it names, or on the form when no field matches."""

    message_heads_form = True


class DateInput(forms.DateInput):
    """The browser's date picker; the value in ISO form, whatever the page language."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DischargeForm(FacilityServiceForm):
    """R-BED-2: the occupant leaves."""

    reason = forms.ChoiceField(label=_("Reason for leaving"), choices=DischargeReason.choices)
    date = forms.DateField(
        label=_("Date of leaving"), required=False, widget=DateInput(), help_text=_("Today when left empty.")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", _("Choose a reason")), *DischargeReason.choices]


class OutOfServiceForm(FacilityServiceForm):
    reason = forms.CharField(label=_("Why it is out of service"), required=False, max_length=255)


class ReturnToServiceForm(FacilityServiceForm):
    """Nothing to fill in: the button is the whole act."""


class BedSearchForm(forms.Form):
    """The bed board's search and filters (issue 15): a GET form, so a result can be bookmarked."""

    q = forms.CharField(
        label=_("Find a bed"),
        required=False,
        max_length=100,
        help_text=_("A resident's name, an application reference or a bed code."),
    )
    status = forms.ChoiceField(label=_("Bed status"), required=False)
    bed_type = forms.ChoiceField(label=_("Bed type"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("Any status")), *BedStatus.choices]
        self.fields["bed_type"].choices = [("", _("Any type")), *BedType.choices]


class QueueFindForm(forms.Form):
    """Jump to an application in a home's queue (issue 18): the page of the queue holding it. A GET
    form, so the place found can be bookmarked."""

    queue_ref = forms.CharField(
        label=_("Application reference"),
        required=False,
        max_length=20,
        help_text=_("The application reference, for example 2026-000123."),
    )
