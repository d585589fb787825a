"""The Simplified Chinese translation (SPEC §1, §10): complete, compiled, and used.

The compiled catalogue (django.mo) is committed, because GNU gettext is not on every machine
that runs the product; these tests make sure it says what django.po says.
"""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import timezone, translation

from admissions.models import Notification, Offer
from admissions.services import applications as app_services
from admissions.services.notifications import _render
from core.errors import RuleViolation
from tests.factories import FacilityFactory, actor, add_beds, intake, queued_application

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LOCALE / "django.po"
MO = LOCALE / "django.mo"
RECOMPILE = (
    "locale/zh_Hans/LC_MESSAGES/django.mo does not match django.po: run "
    "`python manage.py compilemessages --ignore .venv` and commit the .mo with the .po"
)
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdrf]")
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _po():
    return polib.pofile(str(PO))


def _po_catalog(po) -> dict:
    """What msgfmt would put into the .mo: {msgid: msgstr}, {(msgid, n): msgstr[n]} for plurals."""
    catalog = {}
    for entry in po.translated_entries():
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        if entry.msgid_plural:
            for index, text in entry.msgstr_plural.items():
                catalog[(key, int(index))] = text
        else:
            catalog[key] = entry.msgstr
    return catalog


def test_every_message_is_translated_and_none_is_fuzzy():
    po = _po()
    assert len(po) > 0
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated, f"untranslated in {PO.name}: {untranslated}"
    assert not fuzzy, f"fuzzy (check the translation, then remove the flag) in {PO.name}: {fuzzy}"
    assert not po.obsolete_entries(), "obsolete (#~) entries left: remove them"


def test_the_plural_forms_are_those_of_chinese():
    assert _po().metadata["Plural-Forms"] == "nplurals=1; plural=0;"
    plurals = [e for e in _po() if e.msgid_plural]
    assert all(list(e.msgstr_plural) == [0] for e in plurals)


def test_translations_keep_the_placeholders_of_the_english():
    """A dropped or misspelt %(name)s would raise KeyError, or lose the fact, at run time."""
    wrong = []
    for entry in _po():
        english = set(PLACEHOLDER.findall(entry.msgid_plural or entry.msgid))
        for text in entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]:
            if set(PLACEHOLDER.findall(text)) != english:
                wrong.append(entry.msgid)
    assert not wrong, f"placeholders differ from the English in: {wrong}"


def test_rule_numbers_are_kept_in_the_translation():
    """SPEC §10: the message names the rule, in every language."""
    rule = re.compile(r"R-[A-Z]+-\d+|SPEC §\d+")
    lost = [
        e.msgid for e in _po() if set(rule.findall(e.msgid)) - set(rule.findall(e.msgstr or e.msgstr_plural.get(0, "")))
    ]
    assert not lost, f"rule numbers missing from the translation of: {lost}"


def test_the_committed_mo_matches_the_po():
    assert MO.exists(), RECOMPILE
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    mo_catalog = {key: value for key, value in compiled._catalog.items() if key != ""}
    po_catalog = _po_catalog(_po())
    missing = sorted(str(k) for k in po_catalog.keys() - mo_catalog.keys())
    extra = sorted(str(k) for k in mo_catalog.keys() - po_catalog.keys())
    changed = sorted(str(k) for k in po_catalog.keys() & mo_catalog.keys() if po_catalog[k] != mo_catalog[k])
    assert not (missing or extra or changed), (
        f"{RECOMPILE}. Not in the .mo: {missing}; only in the .mo: {extra}; different: {changed}"
    )
    assert compiled.plural(5) == 0


def test_django_reads_the_committed_catalogue():
    with translation.override("zh-hans"):
        assert translation.gettext("Some fields are not valid.") == "部分字段填写有误。"
    with translation.override("en"):
        assert translation.gettext("Some fields are not valid.") == "Some fields are not valid."


# --- the messages people read --------------------------------------------------------------------
def _two_city_level_choices() -> RuleViolation:
    FacilityFactory(code="GZC01", level="city")
    FacilityFactory(code="GZC02", level="city")
    with pytest.raises(RuleViolation) as refused:
        app_services.application_create(data=intake(choices=["GZC01", "GZC02"]), submit=True, actor=actor("intake"))
    return refused.value


@pytest.mark.django_db
def test_a_refusal_is_in_chinese_under_zh_hans_and_keeps_the_rule_number():
    """SPEC §10: the field, the rule, in the user's language (R-APP-7: at most one city-level home)."""
    with translation.override("zh-hans"):
        error = _two_city_level_choices()
        title = str(error.title)  # a lazy string: the language of the response applies
    (message,) = error.errors["choices.1"]
    assert "R-APP-7" not in message  # the rule in plain words; its code is in the problem type only
    assert "市级" in message and "city" not in message
    assert CHINESE.search(error.message) and "rules" not in error.message
    assert title == "不符合规定"


@pytest.mark.django_db
def test_the_same_refusal_is_in_english_under_en():
    with translation.override("en"):
        error = _two_city_level_choices()
    assert error.errors["choices.1"] == ["at most 1 city-level choice is allowed"]
    assert error.message == "The application does not meet the rules."
    assert not CHINESE.search(error.errors["choices.1"][0])


@pytest.mark.django_db
def test_an_id_number_error_says_which_check_failed_in_chinese():
    """R-APP-1, SPEC §10."""
    with translation.override("zh-hans"), pytest.raises(Exception) as refused:
        app_services.application_create(data=intake(id_number="4401041941030200"), submit=True, actor=actor("intake"))
    (message,) = refused.value.errors["applicant.id_number"]
    assert message == "须为 18 位，当前为 16 位"


@pytest.mark.django_db
def test_the_offer_notification_of_a_chinese_speaking_applicant_is_in_chinese(django_capture_on_commit_callbacks):
    """R-OFF-6: in the applicant's language (zh-hans), whatever language the staff member uses."""
    home = FacilityFactory(code="YX01", name="越秀区老人院", address="越秀区越华路 1 号")
    add_beds(home, nursing=1, status="vacant")
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        application = queued_application(grade=3, choices=["YX01"])
    assert application.applicant.language == "zh-hans"
    offer = Offer.objects.get(application=application, state="pending")
    body = Notification.objects.get(application=application, kind="offer_made").body
    local = timezone.localtime(offer.respond_by)
    respond_by = f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"  # the one Chinese format (issue 15)
    assert body.startswith("【床位通知】")
    for fact in (application.reference, "越秀区老人院", "越秀区越华路 1 号", respond_by, "5 个工作日"):
        assert fact in body
    assert "Please" not in body


CONTEXTS = {
    "offer_made": {
        "facility": "越秀区老人院",
        "address": "越华路 1 号",
        "respond_by": "2026-12-04 23:59",
        "admission_days": 5,
        "phone": "02083334444",  # issue 15: the home's phone to answer on
    },
    "offer_reminder": {"facility": "越秀区老人院", "respond_by": "2026-12-04 23:59"},
    "offer_accepted": {"facility": "越秀区老人院", "admit_by": "2026-12-11 23:59"},
    "assessment_reminder": {"valid_until": "2027-01-31"},
    "state_changed": {},
    "application_changed": {"change": "family_situation_changed"},  # R-CHG-2
}


@pytest.mark.parametrize("kind", list(CONTEXTS))
def test_every_kind_of_notification_reads_in_both_languages(kind):
    from admissions.models import ApplicationState

    context = {"reference": "2026-000123", "state": ApplicationState.WAITING.label, **CONTEXTS[kind]}
    with translation.override("zh-hans"):
        chinese = _render(kind, context)
    with translation.override("en"):
        english = _render(kind, context)
    assert "2026-000123" in chinese and "2026-000123" in english
    assert chinese != english
    assert not re.search(r"[A-Za-z]{3,}", chinese.replace("2026-000123", "")), chinese
    for key, value in CONTEXTS[kind].items():
        if key == "change":  # a code the message says in words (R-CHG-2): checked below
            assert "家庭情况" in chinese and "family situation" in english
            continue
        assert str(value) in chinese
    if kind == "state_changed":
        assert "轮候中" in chinese and "waiting in the queue" in english


# --- Django's own strings in Chinese (issue 15) -----------------------------------------------------------
@pytest.mark.django_db
def test_djangos_own_messages_are_in_chinese_the_password_rules_a_required_field_and_the_admin(client):
    """Django's bundled zh_Hans catalogue answers for its own strings (LANGUAGE_CODE zh-hans, the
    locale middleware): the password validators (R-SEC-2: at least 12 characters), a form's required
    field, and the admin."""
    from django.contrib.auth.models import User

    user = User.objects.create_superuser("root", password="correct horse battery")
    client.force_login(user)
    with translation.override("zh-hans"):
        from django.urls import reverse

        password_url, admin_url = reverse("password_change"), reverse("admin:index")
    page = client.get(password_url).content.decode()
    assert "你的密码必须包含至少 12 个字符。" in page
    refused = client.post(password_url, {"old_password": "", "new_password1": "", "new_password2": ""})
    assert "该字段是必填项。" in refused.content.decode()
    short = client.post(
        password_url, {"old_password": "correct horse battery", "new_password1": "short", "new_password2": "short"}
    ).content.decode()
    assert "密码太短，至少需要 12 个字符。" in short and "too short" not in short
    assert "站点管理" in client.get(admin_url).content.decode()
