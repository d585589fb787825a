"""Serializer fields that accept exactly the JSON type the schema says (schemathesis checks that a
request violating the schema is refused): DRF's own fields would turn 0 into "0" or "true" into True."""

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty


class _LimitAsSent:
    """The length limit applies to the text as sent. DRF answers a string that is blank once trimmed
    ('' where blank is allowed) before to_internal_value runs, so 3,000 vertical tabs passed a
    2,000-character limit the document states (schemathesis, ST201)."""

    def run_validation(self, data=empty):
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().run_validation(data)


class StrictCharField(_LimitAsSent, serializers.CharField):
    """Only a JSON string, and its length limit applies before surrounding whitespace is trimmed."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"not_a_boolean": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("not_a_boolean")
        return data


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"not_an_integer": "Must be a whole number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return super().to_internal_value(data)


class StrictURLField(_LimitAsSent, serializers.URLField):
    """A URL given as a JSON string, its length checked before any trimming."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


# What a person must write (a reason, a document reference): DRF trims it and refuses it blank, which a
# bare minLength cannot say of "   ". The pattern says it in the OpenAPI document, so that a client,
# and schemathesis, knows a text of spaces is refused (issue 16). Written out for the document's readers,
# whose `\s` (ECMA-262, JSON Schema's) lacks five characters Python's `str.strip()` trims as spaces:
# U+001C-U+001F and U+0085. With a bare `\S`, "\x1c" was valid in the document and blank to the API.
# Written whole (anchored, any text around the one character that says something): JSON Schema searches
# a pattern anywhere in the text, but schemathesis read the bare character class as the whole text and
# reported "\x1f4ä" a schema-violating text the API accepted (ST201); both readings agree on this one.
SAYS_SOMETHING = RegexValidator(r"^[\s\S]*[^\s\x1c-\x1f\x85][\s\S]*$", message=_("must not be blank"))


class WrittenTextField(StrictCharField):
    """A required text that must say something: not blank once trimmed."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(SAYS_SOMETHING)


class ReasonField(WrittenTextField):
    """The reason a transition or a change needs (R-FSM-2): at most 2,000 characters."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 2000)
        super().__init__(**kwargs)


# R-SEC-9 (core/phones.py) accepts a mainland mobile, a landline with its area code, or an
# international number, checked by libphonenumber, which no pattern can say whole. This one says a
# part of it, and only numbers libphonenumber takes (tests/api/test_schema_truth.py draws from it):
# a mobile in the mainland's ranges (libphonenumber's own), a landline of Beijing, Shanghai or another
# two-digit area code (Guangzhou's 020), a Hong Kong number. A wider pattern (any 1[3-9] and 11
# digits, any + and 7 to 15 digits) let half the generated numbers be refused (400), so the fuzzer
# reported the operations with a phone as mostly rejected (issue 16).
PHONE_SCHEMA = {
    "type": "string",
    "maxLength": 30,
    "pattern": (
        r"^(?:1(?:[38][0-9]|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])[0-9]{8}"
        r"|0(?:10-?[02-79]|21-?[2-79]|2[02-57-9]-?[0-9])[0-9]{7}"
        r"|\+852(?:2[13-9]|6[13-59]|9[467])[0-9]{6})$"
    ),
    "description": "A mainland mobile (13812345678), a landline with its area code (020-83001234) or a Hong "
    "Kong number (+85221234567); the API also takes other area codes and countries' numbers that are real.",
    "example": "13812345678",
}


@extend_schema_field(PHONE_SCHEMA)
class PhoneField(StrictCharField):
    """A phone number as text; the service normalises it and refuses what is not a number (R-SEC-9)."""


@extend_schema_field({"type": "string", "format": "email", "maxLength": 254, "example": "li.ming@example.com"})
class EmailTextField(StrictCharField):
    """An email address as text; the service checks it (R-OFF-6)."""
