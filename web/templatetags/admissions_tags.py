from django import template

from admissions.workdays import calendar_warning as _calendar_warning
from web.access import allowed_url as _allowed_url

register = template.Library()


@register.simple_tag
def calendar_warning():
    """R-OFF-2: shown to administrators when the working-day calendar is about to run out."""
    return _calendar_warning()


@register.simple_tag(takes_context=True)
def allowed_url(context, name, *args):
    """`{% allowed_url 'staff:offer' offer.pk as url %}`: the URL if the user may open the page,
    else "" (the template then shows the text without a link)."""
    return _allowed_url(context["request"].user, name, *args) or ""
