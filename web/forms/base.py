"""The one base of the staff forms that change something: core.forms.ServiceForm (a service's refusal
on the form's fields) plus the one-time token (web/formtokens.py) that makes a double click act once."""

from __future__ import annotations

from django import forms

from core.forms import ServiceForm


class StaffForm(ServiceForm):
    form_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
