"""The one base for every form that calls a service: it puts the service's refusal (a DomainError,
which names the field and the rule) on the form's fields, so the page shows it where it was typed.

Staff pages, the Django admin's forms and the user-management forms all derive from it; how a form
maps a service's dotted path (`items.B1.1`, `categories.0.code`) to its own field is the only thing a
subclass says (`field_aliases`, or `field_for_path` when the mapping is computed)."""

from __future__ import annotations

from django import forms

from core.errors import DomainError


class ServiceForm(forms.Form):
    # A service's dotted error path → this form's field, where the names differ.
    field_aliases: dict[str, str] = {}
    # True: the service's message always heads the form (it names what was refused), whatever else is
    # placed. False: the message is shown only when none of its field errors found a field.
    message_heads_form = False

    def field_for_path(self, path: str) -> str | None:
        """The field that shows an error at `path`, or None for the top of the form."""
        name = self.field_aliases.get(path, path)
        return name if name in self.fields else None

    def add_service_error(self, error: DomainError) -> None:
        """Each message on the field its path names; the rest on the form (shown at the top)."""
        if self.message_heads_form:
            self.add_error(None, str(error.message))
        placed = False
        for path, messages in error.errors.items():
            name = self.field_for_path(path)
            for message in messages:
                self.add_error(name, str(message))
                placed = placed or name is not None
        if not self.message_heads_form and not placed and str(error.message) not in self.non_field_errors():
            self.add_error(None, str(error.message))
