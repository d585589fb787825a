"""Forms of the staff pages for homes, beds and offers. They parse and type what was typed; the
rules (which bed may be discharged, which dates, the quota) are the services' and come back as
DomainError, which `add_service_errors` puts on the form's fields."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from admissions.models.offers import DischargeReason
from facilities.errors import DomainError


def add_service_errors(form: forms.Form, error: DomainError, fields: dict[str, str] | None = None) -> None:
    """A service's refusal on the form: its message for the whole form, and each dotted field path
    of `error.errors` on the field it names (or on the whole form when no field matches)."""
    fields = fields or {}
    form.add_error(None, error.message)
    for path, messages in error.errors.items():
        name = fields.get(path, path)
        form.add_error(name if name in form.fields else None, [str(m) for m in messages])


class DateInput(forms.DateInput):
    """The browser's date picker; the value in ISO form, whatever the page language."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DischargeForm(forms.Form):
    """R-BED-2: the occupant leaves."""

    reason = forms.ChoiceField(label=_("Reason for leaving"), choices=DischargeReason.choices)
    date = forms.DateField(
        label=_("Date of leaving"), required=False, widget=DateInput(), help_text=_("Today when left empty.")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", _("Choose a reason")), *DischargeReason.choices]


class OutOfServiceForm(forms.Form):
    reason = forms.CharField(label=_("Why it is out of service"), required=False, max_length=255)


class ReturnToServiceForm(forms.Form):
    """Nothing to fill in: the button is the whole act."""
