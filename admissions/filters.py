"""The applications list's filters, shared by the API (`GET /applications/`) and the staff list page,
so that both read `state`, `facility`, `channel`, `district` and `q` alike."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from .models import Application, ApplicationState, Channel


class ApplicationFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=ApplicationState.choices)
    facility = django_filters.CharFilter(
        field_name="choices__facility__code", label="Applications that chose this facility (its code)."
    )
    channel = django_filters.ChoiceFilter(field_name="channel_code", choices=Channel.choices)
    district = django_filters.CharFilter(
        method="in_district", label="The hukou district (or the residence district under the exemption)."
    )
    q = django_filters.CharFilter(method="search", label="Part of the name, or the whole reference.")

    class Meta:
        model = Application
        fields = ["state", "facility", "channel", "district", "q"]

    def in_district(self, queryset, name, value):
        return queryset.filter(
            Q(hukou_district__code=value)
            | Q(hukou_district__isnull=True, contributor_exemption_requested=True, residence_district__code=value)
        )

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(reference=value) | Q(applicant__name__icontains=value)) if value else queryset
