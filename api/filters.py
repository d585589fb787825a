"""Query filters that refuse what the OpenAPI document says is wrong (schemathesis checks it):
django-filter alone ignores a blank value (`?channel=`) or an unreadable boolean (`?x=null`)."""

from __future__ import annotations

import re

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            errors: dict[str, list[str]] = {}
            for name, flt in filterset_class.base_filters.items():
                values = request.query_params.getlist(name)
                if not values:
                    continue
                if len(values) > 1:
                    errors[name] = ["give this filter once"]
                elif values[0].strip() == "":
                    errors[name] = ["must not be blank"]
                elif isinstance(flt, django_filters.BooleanFilter) and values[0] not in ("true", "false"):
                    errors[name] = ["must be true or false"]
            if errors:
                raise exceptions.ValidationError(errors)
        return super().filter_queryset(request, queryset, view)


class WholeNumberField(forms.IntegerField):
    """Digits only, as the document's `integer` says: Django's IntegerField also takes "0.0", " 1" and
    "1.", which a client reading the document takes for invalid (schemathesis: ST201, issue 16)."""

    def to_python(self, value):
        if value not in self.empty_values and not re.fullmatch(r"-?[0-9]+", str(value)):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class WholeNumberFilter(django_filters.NumberFilter):
    field_class = WholeNumberField


def whole_number_parameter(filterset: type[django_filters.FilterSet], name: str, description: str) -> OpenApiParameter:
    """The document's word for the WholeNumberFilter `name` of `filterset`: an integer within the filter's
    own bounds, which it refuses beyond (400). Without them the document called `?after_seq=-1` valid,
    and schemathesis found the public log mostly rejecting what it generated (issue 16)."""
    bounds = filterset.base_filters[name].extra
    schema = {"type": "integer", "minimum": bounds["min_value"], "maximum": bounds["max_value"]}
    return OpenApiParameter(name, schema, description=description)
