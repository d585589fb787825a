from django import template

from admissions.workdays import calendar_warning as _calendar_warning

register = template.Library()


@register.simple_tag
def calendar_warning():
    """R-OFF-2: shown to administrators when the working-day calendar is about to run out."""
    return _calendar_warning()
