"""No rule code (R-APP-7, SPEC §9) in what a person reads (issue 15; SPEC.md's plain-words rule for
every bad input; API.md: `title`, `detail` and field messages carry no rule codes).

The main staff and public pages are rendered in both languages, with and without a form error, and
every API operation that takes a body is sent bad input; the text shown must name the rule in plain
words. The codes stay in code comments, logs and the API problem's `type` (`/problems/R-…`), which
is not read as text and is excluded here.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from admissions.services import applications as app_services
from facilities.models import Bed
from facilities.roles import roles_assign
from tests.admissions.test_views_administration import policy_form
from tests.admissions.test_views_applications import intake_post, token_of
from tests.api.helpers import assert_problem, url
from tests.api.test_applications import new_body
from tests.factories import (
    FacilityFactory,
    actor,
    add_beds,
    id_number,
    intake,
    queued_application,
    reviewed_application,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]
RULE_CODE = re.compile(r"R-[A-Z]+-\d+|SPEC\s*§|§\s*\d")
LANGUAGES = ("en", "zh-hans")
HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)


def wrong_check_character(number: str) -> str:
    """The number with a check character other than its own (a fixed "0" is sometimes the right one)."""
    return number[:-1] + ("1" if number[-1] == "0" else "0")


def shown_codes(text: str) -> list[str]:
    return RULE_CODE.findall(HTML_COMMENT.sub("", text))


@pytest.fixture
def world():
    """A city with two homes, beds, a queued application, one in review and one just submitted."""
    FacilityFactory(code="GZ01", name="广州市老人院", level="city")
    FacilityFactory(code="GZ02", name="City Home Two", level="city")
    home = FacilityFactory(code="YX01", name="越秀区老人院")
    add_beds(home, nursing=2, general=1)
    queued = queued_application(choices=["YX01"], date_of_birth=dt.date(1938, 5, 6))
    in_review = reviewed_application(choices=["YX01"], name="李桂兰", date_of_birth=dt.date(1939, 7, 8))
    submitted, code = app_services.application_create(
        data=intake(choices=["YX01"], name="王淑珍", date_of_birth=dt.date(1940, 9, 10)),
        submit=True,
        actor=actor("intake"),
    )
    return {"home": home, "queued": queued, "in_review": in_review, "submitted": submitted, "code": code}


def staff_client() -> Client:
    user = User.objects.create_user("every-role", is_staff=True)
    roles_assign(user=user, roles=["intake", "assessor", "reviewer", "admin"], facility=None)
    client = Client()
    client.force_login(user)
    return client


def staff_pages(world) -> list[str]:
    ref = world["queued"].reference
    code = world["home"].code
    return [
        reverse("staff:dashboard"),
        reverse("staff:applications"),
        reverse("staff:application", args=[ref]),
        reverse("staff:application", args=[world["in_review"].reference]),
        reverse("staff:review", args=[world["in_review"].reference]),
        reverse("staff:application_new"),
        reverse("staff:applicant_export", args=[ref]),
        reverse("staff:facilities"),
        reverse("staff:facility", args=[code]),
        reverse("staff:facility_queue", args=[code]),
        reverse("staff:facility_decisions", args=[code]),
        reverse("staff:offers"),
        reverse("staff:reports"),
        reverse("staff:administration"),
        reverse("staff:admin_policies"),
        reverse("staff:admin_targets"),
        reverse("staff:admin_calendar"),
        reverse("staff:admin_users"),
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_main_staff_pages_show_no_rule_code(world, language):
    client = staff_client()
    with translation.override(language):
        paths = staff_pages(world)
    for path in paths:
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        assert shown_codes(response.content.decode()) == [], path


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_staff_forms_refusing_bad_input_show_no_rule_code(world, language):
    """The intake form's errors (ID check character, city-level choices, age) and the policy form's
    cross-field rule (retention after refusals and bar, R-PRIV-3) say the rule in plain words."""
    client = staff_client()
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    with translation.override(language):
        new = reverse("staff:application_new")
        policies = reverse("staff:admin_policies")
    samples = [
        (new, lambda: intake_post(token_of(client.get(new)), id_number="44010419410302002X", choice_2="GZ02")),
        (new, lambda: intake_post(token_of(client.get(new)), date_of_birth="1990-01-01", hukou_district="other")),
        (new, lambda: intake_post(token_of(client.get(new)), contact_email="x@", phone="=1+1")),
        (policies, lambda: policy_form(retention_years="1")),
        (policies, lambda: policy_form(min_age="-1", max_choices="x")),
    ]
    for path, data in samples:
        response = client.post(path, data(), **headers)
        assert response.status_code in (200, 400, 422), path
        page = response.content.decode()
        assert "error" in page, path  # the form was refused: its messages are on the page
        assert shown_codes(page) == [], (path, shown_codes(page))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_confirmation_pages_before_a_closing_act_show_no_rule_code(world, language):
    """Issue 15: the pages between the first POST of a rejection, a removal or a withdrawal and the act."""
    client = staff_client()
    acts = [
        (world["submitted"], "reject", {"reason": "not resident"}),
        (world["queued"], "remove", {"reason": "ineligible", "note": "moved"}),
        (world["queued"], "withdraw", {"reason": "moved away"}),
    ]
    for application, transition, data in acts:
        with translation.override(language):
            path = reverse("staff:application_transition", args=[application.reference, transition])
        page = client.post(path, {"form_token": f"t-{transition}", **data}).content.decode()
        assert 'name="confirm" value="yes"' in page, transition
        assert shown_codes(page) == [], (transition, shown_codes(page))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_public_pages_show_no_rule_code(world, language):
    client = Client()
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    submitted = world["submitted"]
    with translation.override(language):
        start, boards, apply = reverse("home"), reverse("portal:boards"), reverse("portal:apply")
        board, status = reverse("portal:board", args=[world["home"].code]), reverse("portal:status")
    pages = [
        client.get(start, **headers),
        client.get(boards, **headers),
        client.get(apply, **headers),
        client.get(board, **headers),
        client.post(status, {"reference": submitted.reference, "code": world["code"]}, **headers, follow=True),
        client.post(status, {"reference": submitted.reference, "code": "WRONG"}, **headers, follow=True),
        client.post(status, {}, **headers, follow=True),
    ]
    for response in pages:
        assert response.status_code in (200, 400, 404), response
        assert shown_codes(response.content.decode()) == []


def _read_text(body: dict) -> str:
    """What a person reads of a problem: everything but its `type` URL."""
    return json.dumps({k: v for k, v in body.items() if k != "type"}, ensure_ascii=False)


def test_api_refusals_say_the_rule_in_words_and_keep_its_code_in_the_type(world):
    """R-APP-5 (one open application per person), R-FSM-3 (the state): the code is in `type` only."""
    client = APIClient()
    user = User.objects.create_user("api-every-role")
    roles_assign(user=user, roles=["intake", "assessor", "reviewer", "admin"], facility=None)
    client.force_authenticate(user)
    ref = world["queued"].reference

    same_person = new_body(date_of_birth=dt.date(1938, 5, 6), choices=["YX01"], categories=[])
    same_person["applicant"]["id_number"] = world["queued"].applicant.id_number
    response = client.post(url("applications/"), same_person, format="json", HTTP_ACCEPT_LANGUAGE="en")
    open_one = assert_problem(response, 409, "applicant.id_number")
    assert open_one["type"] == "/problems/R-APP-5"
    assert open_one["errors"]["applicant.id_number"] == [f"already has the open application {ref}"]

    wrong_state = assert_problem(
        client.post(url(f"applications/{ref}/submit/"), {}, format="json", HTTP_ACCEPT_LANGUAGE="en"), 409
    )
    assert wrong_state["type"] == "/problems/R-FSM-3"

    for body in (open_one, wrong_state):
        assert shown_codes(_read_text(body)) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_api_intake_refusals_name_the_rule_in_plain_words(world, language):
    """The service's own checks (R-APP-1…9, R-OFF-6, R-SEC-9) behind POST /applications/."""
    client = APIClient()
    user = User.objects.create_user(f"api-intake-{language}")
    roles_assign(user=user, roles=["intake"], facility=None)
    client.force_authenticate(user)
    born = dt.date(1941, 3, 2)
    person = {"name": "赵桂芳", "date_of_birth": born.isoformat(), "id_number": id_number(born)}
    samples = [
        {"choices": ["GZ01", "GZ02"]},
        {"choices": ["YX01", "YX01"]},
        {"choices": []},
        {"applicant": {"id_number": wrong_check_character(id_number(born))}},
        {"applicant": {"date_of_birth": "1990-01-01", "id_number": id_number(dt.date(1990, 1, 1))}},
        {"applicant": {"hukou_district": "other"}},
        {"applicant": {"hukou_district": "atlantis", "phone": "=1+1"}},
        {"contact": {"name": "女儿", "relation": "daughter", "phone": "<b>", "email": "x@"}},
        {"declarations": {"no_infectious_disease": False, "no_serious_mental_disorder": False}},
        {"categories": [{"code": "dibao", "evidence": ""}, {"code": "nothing", "evidence": "x"}]},
        {"spouse_resident_in": ["GZ02"]},
    ]
    for sample in samples:
        body = new_body(choices=["YX01"], categories=[])
        body["applicant"].update(person)
        for key, value in sample.items():
            body[key] = {**body[key], **value} if isinstance(value, dict) else value
        response = client.post(url("applications/"), body, format="json", HTTP_ACCEPT_LANGUAGE=language)
        problem = assert_problem(response, response.status_code)
        assert response.status_code in (400, 422), (sample, problem)
        assert shown_codes(_read_text(problem)) == [], (sample, problem)


def _bad_values(schema: dict) -> list[dict]:
    """Bodies that break an operation's request schema: empty, every property of a wrong type, and
    every property an empty or impossible string."""
    content = schema.get("content", {})
    props = {}
    for media in content.values():
        ref = media.get("schema", {})
        props = ref.get("properties", {}) or props
    return [{}, {name: [] for name in props}, {name: "" for name in props}, {name: "zz-99" for name in props}]


def _resolve(schema: dict, components: dict) -> dict:
    if "$ref" in schema:
        return components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_api_operation_given_bad_input_answers_without_a_rule_code(world, language):
    """Generated from the OpenAPI document: each operation with a request body, sent bodies of the
    wrong shape; the problem's title, detail and field messages name no rule code."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    components = document["components"]["schemas"]
    bed = Bed.objects.filter(facility=world["home"]).first()
    values = {
        "reference": world["queued"].reference,
        "code": world["home"].code,
        "facility_code": world["home"].code,
        "id": bed.pk,
        "bed_id": bed.pk,
        "pk": bed.pk,
        "date": "2026-10-01",
        "version": 1,
    }
    client = APIClient()
    user = User.objects.create_user(f"api-bad-input-{language}")
    roles_assign(user=user, roles=["intake", "assessor", "reviewer", "admin"], facility=None)
    client.force_authenticate(user)
    refused = 0
    for path, operations in document["paths"].items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), "1")), path)
        for method, operation in operations.items():
            if method not in ("post", "put", "patch") or "requestBody" not in operation:
                continue
            request_schema = {
                "content": {
                    media: {"schema": _resolve(body.get("schema", {}), components)}
                    for media, body in operation["requestBody"]["content"].items()
                }
            }
            for body in _bad_values(request_schema):
                response = getattr(client, method)(concrete, body, format="json", HTTP_ACCEPT_LANGUAGE=language)
                assert response.status_code < 500, (method, concrete, body)
                if response.status_code >= 400 and response["Content-Type"].startswith("application/problem+json"):
                    refused += 1
                    text = _read_text(response.json())
                    assert shown_codes(text) == [], (method, concrete, body, text)
    assert refused > 50  # the samples did reach the validations
