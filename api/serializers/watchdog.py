"""The watchdog report in and out of the API (R-WATCH-1, API.md `GET /reports/watchdog/`)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers

from admissions import watchdog
from facilities.models import FACILITY_CODE_VALIDATOR, Facility

FORMATS = ("json", "csv", "xlsx")


class WatchdogQuerySerializer(serializers.Serializer):
    """?facility=&from=&to=&format=: a home's code (none: every home), the period (local dates, both
    included; without them the last full month) and the file format (none: JSON)."""

    facility = serializers.CharField(required=False, max_length=20, validators=[FACILITY_CODE_VALIDATOR])
    format = serializers.ChoiceField(choices=FORMATS, required=False, default="json")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)
        fields["to"] = serializers.DateField(required=False)
        return fields

    def validate_facility(self, value: str) -> str:
        if not Facility.objects.filter(code=value).exists():
            raise serializers.ValidationError(_("There is no home with this code."))
        return value

    def validate(self, attrs):
        # A parameter given empty (`?to=`) is a mistake, not "use the default": DRF would pass it over.
        empty = {
            name: [_("This field may not be blank.")]
            for name in ("facility", "format", "from", "to")
            if name in self.initial_data and str(self.initial_data.get(name, "")).strip() == ""
        }
        if empty:
            raise serializers.ValidationError(empty)
        default = watchdog.default_period()
        start, end = attrs.get("from") or default.start, attrs.get("to") or default.end
        problem = watchdog.period_problem(start, end)
        if problem:
            raise serializers.ValidationError({"to": [problem]})
        attrs["period"] = watchdog.Period(start=start, end=end)
        return attrs


class PeriodSerializer(serializers.Serializer):
    def get_fields(self):
        return {"from": serializers.DateField(), "to": serializers.DateField()}


class SpreadSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    median_days = serializers.FloatField(allow_null=True)
    p90_days = serializers.FloatField(allow_null=True, help_text="90th percentile, interpolated (percentile_cont).")


class FailedCheckSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="no_show, care_need_changed or other")
    officer = serializers.CharField(help_text="The username of who recorded the failed check.")
    count = serializers.IntegerField()


class FiguresSerializer(serializers.Serializer):
    long_vacant = serializers.IntegerField(help_text="Beds vacant longer than vacancy_alert_days, with candidates.")
    long_out_of_service = serializers.IntegerField(
        help_text="Beds out of service longer than out_of_service_alert_days."
    )
    failed_checks = serializers.IntegerField(help_text="Accepted offers that failed the admission check.")
    failed_checks_by = FailedCheckSerializer(many=True, help_text="By reason and by the officer who recorded it.")
    out_of_order = serializers.IntegerField(help_text="Admissions of people who were not first in the order.")
    skip_reasons = serializers.DictField(
        child=serializers.IntegerField(), help_text="Skip reason → people passed over, in those admissions."
    )
    manual_allocations = serializers.IntegerField(help_text="Allocation decisions started by 'allocate now'.")
    automatic_allocations = serializers.IntegerField()
    first_offer = SpreadSerializer(help_text="Days from approval to the first offer.")
    overdue_admissions = serializers.IntegerField(help_text="Accepted offers past admit_by (R-OFF-7), now.")
    unconfirmed = serializers.IntegerField(
        help_text="R-CHG-3: open entries asked to re-confirm and not answered, or suspended not_reconfirmed, now."
    )
    re_reviews = serializers.IntegerField(help_text="Re-reviews past their due date, not decided (R-ASM-6), now.")


class FacilityFiguresSerializer(FiguresSerializer):
    facility = serializers.CharField(help_text="The home's code.")
    name = serializers.CharField()


class FirstOfferGroupSerializer(SpreadSerializer):
    channel = serializers.CharField()
    care_level = serializers.CharField()


class WatchdogReportSerializer(serializers.Serializer):
    period = PeriodSerializer()
    as_of = serializers.DateTimeField(help_text="When the figures that describe 'now' were read.")
    vacancy_alert_days = serializers.IntegerField()
    out_of_service_alert_days = serializers.IntegerField()
    not_recorded = serializers.ListField(
        child=serializers.CharField(), help_text="Figures shown as 0 because nothing records them yet."
    )
    city = FiguresSerializer()
    facilities = FacilityFiguresSerializer(many=True)
    first_offers = FirstOfferGroupSerializer(many=True, help_text="For the city, by channel and care level.")


def _spread(spread: watchdog.Spread) -> dict:
    return {"count": spread.count, "median_days": spread.median_days, "p90_days": spread.p90_days}


def _figures(row: watchdog.Row, failed: list[tuple[str, str, int]]) -> dict:
    data = {figure: row.count(figure) for figure in watchdog.FIGURES}
    data["failed_checks_by"] = [{"reason": r, "officer": o, "count": n} for r, o, n in failed]
    data["skip_reasons"] = dict(sorted(row.skip_reasons.items()))
    data["first_offer"] = _spread(row.first_offer)
    return data


def report_data(report: watchdog.WatchdogReport) -> dict:
    return {
        "period": {"from": report.period.start, "to": report.period.end},
        "as_of": report.as_of,
        "vacancy_alert_days": report.vacancy_alert_days,
        "out_of_service_alert_days": report.out_of_service_alert_days,
        "not_recorded": sorted(watchdog.NOT_RECORDED),
        "city": _figures(report.city, report.failed_checks),
        "facilities": [
            {
                "facility": row.facility.code,
                "name": row.facility.name,
                **_figures(row, report.failed_checks_by_facility.get(row.facility.pk, [])),
            }
            for row in report.rows
        ],
        "first_offers": [
            {"channel": g.channel, "care_level": g.care_level, **_spread(g.spread)} for g in report.first_offers
        ],
    }
