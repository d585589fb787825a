"""Strings of Django itself that its bundled Simplified Chinese catalogue (django/conf/locale/zh_Hans
and contrib/*/locale/zh_Hans) does not translate in the Django we run: named here only so that
`makemessages` keeps them in locale/zh_Hans, whose translation then answers for Django's (issue 15:
English words in the Chinese interface). Nothing imports this module. When Django's catalogue
catches up, the entry here may go."""

from django.utils.translation import ngettext_lazy

UNTRANSLATED_BY_DJANGO = [
    # django.contrib.auth.password_validation.MinimumLengthValidator.get_error_message (Django 5.2)
    ngettext_lazy(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        "min_length",
    ),
]
