"""The OpenAPI document says what the API refuses (issue 16): a request the document calls valid is
not refused for its shape, and a request it calls invalid is. Each test reads the document, then
asks the API, so neither is taken on the other's word."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from admissions.models import Couple
from admissions.services.couples import couple_link
from core.phones import normalise_phone
from facilities.models import Bed, Facility
from tests.api.helpers import assert_problem, client_as, url
from tests.factories import FacilityFactory, actor, add_beds, queued_application

pytestmark = pytest.mark.django_db
# SPEC R-APP-8's categories.
CATEGORIES = ["tekun", "dibao", "low_income", "youfu", "family_planning_special", "model_worker", "heroic_deed"]
# The changes of R-CHG-2 that SPEC says are made "with a reason" (R-FSM-2: a reason is required).
WITH_A_REASON = ["personal-details/", "districts/", "family-situation/", "choices/", "categories/dibao/end/"]


@pytest.fixture
def document():
    return client_as("admin").get("/api/schema/?format=json").json()


@pytest.fixture
def home():
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=2, general=2)
    return home


def request_schema(document, path: str, method: str = "post") -> dict:
    body = document["paths"][f"/api/v1/{path}"][method]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]


def if_match(document) -> str:
    parameters = document["paths"]["/api/v1/applications/{reference}/contact/"]["post"]["parameters"]
    return next(p for p in parameters if p["name"] == "If-Match")["schema"]["pattern"]


@pytest.mark.parametrize("header", ['"3"', "3", 'W/"3"', "*", " * ", "abc", '"3', "3.0", "", "W/abc"])
def test_an_if_match_header_is_refused_exactly_when_the_document_says_it_is_malformed(document, home, header):
    """R-CHG-2 with R-FSM-4: a generated header the pattern allows is read as a version (here a stale one,
    so 409) or as "any version" (`*`, so 200); one it does not allow is 400 naming If-Match."""
    application = queued_application(choices=["YX01"])
    application.version = 2
    application.save(update_fields=["version"])
    response = client_as("intake").post(
        url(f"applications/{application.reference}/contact/"),
        {"contact": {"name": "李明"}},
        format="json",
        HTTP_IF_MATCH=header,
    )
    if re.search(if_match(document), header):
        assert response.status_code in (200, 409), response.content
    else:
        assert_problem(response, 400, "If-Match")


@pytest.mark.parametrize("tail", WITH_A_REASON)
def test_a_change_made_with_a_reason_says_so_and_a_blank_one_is_400(document, home, tail):
    """R-CHG-2, R-FSM-2: the document says `reason` is required and must not be blank, and the API
    refuses spaces for a reason as it refuses none."""
    template = re.sub(r"categories/dibao/", "categories/{code}/", f"applications/{{reference}}/{tail}")
    schema = request_schema(document, template)
    assert "reason" in schema["required"]
    assert not re.search(schema["properties"]["reason"]["pattern"], "  \t ")
    application = queued_application(choices=["YX01"], categories=[{"code": "dibao", "evidence": "低保证 2024-001"}])
    client = client_as("intake", "reviewer")
    response = client.post(url(f"applications/{application.reference}/{tail}"), {"reason": "   "}, format="json")
    assert_problem(response, 400, "reason")


def test_a_new_category_claim_names_its_codes_and_needs_its_evidence(document, home):
    """R-CHG-2, R-APP-8: the document lists the categories and requires evidence; the API refuses an
    unknown code and a claim without evidence, naming the field."""
    schema = request_schema(document, "applications/{reference}/categories/")
    code = schema["properties"]["code"]
    code = document["components"]["schemas"][code["$ref"].rsplit("/", 1)[1]] if "$ref" in code else code
    assert sorted(code["enum"]) == sorted(CATEGORIES)
    assert {"code", "evidence"} <= set(schema["required"])
    path = document["paths"]["/api/v1/applications/{reference}/categories/{code}/verify/"]["post"]["parameters"]
    assert sorted(next(p for p in path if p["name"] == "code")["schema"]["enum"]) == sorted(CATEGORIES)
    application = queued_application(choices=["YX01"])
    client = client_as("intake")
    claim = url(f"applications/{application.reference}/categories/")
    assert_problem(client.post(claim, {"code": "royalty", "evidence": "证 1"}, format="json"), 400, "code")
    assert_problem(client.post(claim, {"code": "dibao"}, format="json"), 400, "evidence")
    assert_problem(client.post(claim, {"code": "dibao", "evidence": "  "}, format="json"), 400, "evidence")
    assert client.post(claim, {"code": "dibao", "evidence": "低保证 2024-001"}, format="json").status_code == 200


def test_the_language_of_a_contact_change_is_one_of_the_two(document, home):
    """R-CHG-2: zh-hans or en, in the document and in the API."""
    schema = request_schema(document, "applications/{reference}/contact/")
    applicant = document["components"]["schemas"][schema["properties"]["applicant"]["$ref"].rsplit("/", 1)[1]]
    language = applicant["properties"]["language"]
    language = document["components"]["schemas"][language["$ref"].rsplit("/", 1)[1]] if "$ref" in language else language
    assert sorted(language["enum"]) == ["en", "zh-hans"]
    application = queued_application(choices=["YX01"])
    path = url(f"applications/{application.reference}/contact/")
    response = client_as("intake").post(path, {"applicant": {"language": "fr"}}, format="json")
    assert_problem(response, 400, "applicant.language")


def test_unlinking_a_couple_documents_the_reason_it_needs(document, home):
    """R-CPL-1: DELETE /couples/{id}/ takes `{reason}` (API.md): the document has that body, and the
    API refuses the DELETE without it and takes it with one."""
    body = document["paths"]["/api/v1/couples/{id}/"]["delete"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert schema["required"] == ["reason"]
    first, second = queued_application(choices=["YX01"]), queued_application(choices=["YX01"])
    couple = couple_link(
        applications=[first.reference, second.reference], mode="either_first", reason="夫妻", actor=actor("intake-1")
    )
    client = client_as("intake")
    assert_problem(client.delete(url(f"couples/{couple.pk}/"), {}, format="json"), 400, "reason")
    assert client.delete(url(f"couples/{couple.pk}/"), {"reason": "离婚"}, format="json").status_code == 200
    assert Couple.objects.get(pk=couple.pk).unlinked_at is not None


def test_a_couple_is_two_applications_in_the_document_and_the_api(document, home):
    """R-CPL-1: exactly two references."""
    applications = request_schema(document, "couples/")["properties"]["applications"]
    assert (applications["minItems"], applications["maxItems"]) == (2, 2)
    only = queued_application(choices=["YX01"])
    body = {"applications": [only.reference], "mode": "either_first", "reason": "夫妻"}
    assert_problem(client_as("intake").post(url("couples/"), body, format="json"), 400, "applications")


def test_every_request_example_is_a_body_its_own_schema_accepts(document):
    """Issue 16: the examples a reader copies, and schemathesis sends first, are valid bodies."""
    import jsonschema

    checked = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            for body in content.values():
                for name, example in body.get("examples", {}).items():
                    schema = {**body["schema"], "components": document["components"]}
                    jsonschema.validate(example["value"], schema)
                    checked.append(f"{method.upper()} {path} {name}")
    assert len(checked) >= 20


def test_the_application_example_is_accepted_as_a_new_application(document):
    """R-APP-1…8: the example of POST /applications/ registers an application on the demo's homes."""
    yuexiu = FacilityFactory(code="YX01")
    add_beds(yuexiu, nursing=2, general=2)
    body = document["paths"]["/api/v1/applications/"]["post"]["requestBody"]["content"]["application/json"]
    example = next(iter(body["examples"].values()))["value"]
    response = client_as("intake").post(url("applications/"), example, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "submitted"


@pytest.mark.parametrize(
    "name", ["max_choices", "refusal_limit", "offer_response_working_days", "admission_working_days"]
)
def test_a_policy_parameter_below_the_documented_minimum_is_refused_and_at_it_is_not(document, name):
    """SPEC §9: the document's minimum for a new policy version's parameter is the one the API holds to."""
    schema = document["components"]["schemas"]["PolicyCreateRequest"]["properties"][name]
    low = schema["minimum"]
    assert low >= 1
    admin = client_as("admin")
    body = {"effective_from": "2099-01-01", name: low - 1}
    assert_problem(admin.post(url("policy/"), body, format="json"), 400, name)
    answer = admin.post(url("policy/"), {**body, name: low}, format="json")
    assert name not in answer.json().get("errors", {}), answer.content


def test_a_contact_change_says_it_needs_one_detail_and_the_api_refuses_none(document, home):
    """R-CHG-2: a contact change changes something. The document requires a body, with a detail of the
    applicant or of the contact person (a body with none, or with only fields it does not name, is not
    valid), and the API refuses exactly those and takes one detail in either."""
    import jsonschema

    schema = {**request_schema(document, "applications/{reference}/contact/"), "components": document["components"]}
    assert document["paths"]["/api/v1/applications/{reference}/contact/"]["post"]["requestBody"]["required"]
    application = queued_application(choices=["YX01"])
    client = client_as("intake")
    path = url(f"applications/{application.reference}/contact/")
    assert_problem(client.post(path), 400, "applicant")
    for body in ({}, {"applicant": {}, "contact": {}}, {"applicant": {"fax": "1"}}, {"reason": "家属要求"}):
        assert not jsonschema.Draft4Validator(schema).is_valid(body), body
        assert_problem(client.post(path, body, format="json"), 400, "applicant")
    for body in ({"applicant": {"address": ""}}, {"applicant": {}, "contact": {"name": "李明"}}):
        jsonschema.Draft4Validator(schema).validate(body)
        assert client.post(path, body, format="json").status_code == 200, body


def test_a_homes_phone_is_a_phone_number_in_the_document_as_in_the_api(document):
    """R-SEC-9: a home's phone is checked as an applicant's is; the document gives the same pattern, so a
    generated phone it calls valid is not refused, and `=1+1` is refused by both."""
    for name in ("FacilityCreateRequest", "PatchedFacilityUpdateRequest"):
        phone = document["components"]["schemas"][name]["properties"]["phone"]
        patterns = [one["pattern"] for one in phone["oneOf"] if "pattern" in one]
        assert patterns and all(not re.search(p, "=1+1") and re.search(p, "020-38001234") for p in patterns)
    admin = client_as("admin")
    body = {"code": "TH09", "name": "天河区第九社会福利院", "district": "tianhe", "level": "district"}
    assert_problem(admin.post(url("facilities/"), {**body, "phone": "=1+1"}, format="json"), 400, "phone")
    assert admin.post(url("facilities/"), {**body, "phone": "020-38001234"}, format="json").status_code == 201


def phones_in(node):
    """Every value under a key "phone" in the document's part `node`: schemas, and examples' numbers."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "phone":
                yield value
            yield from phones_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from phones_in(value)


def test_every_phone_the_document_calls_valid_is_one_the_api_takes(document):
    """R-SEC-9: the API takes a phone number only when libphonenumber does (core/phones.py). Drawn from the
    document's pattern as schemathesis draws them (hypothesis), every number is one it takes, and so is
    each example. The pattern before (any 1[3-9] and nine digits, any + and seven to fifteen) allowed
    numbers of no real range, and the API refused half of those drawn from it (400; issue 16)."""
    # A request's phone schema has a pattern (in oneOf, beside the empty text); an answer's has none.
    found = [phone.get("oneOf", [phone]) for phone in phones_in(document["components"]["schemas"])]
    schemas = [schema for one_of in found for schema in one_of if "pattern" in schema]
    assert len(schemas) >= 7  # an applicant's and a contact's, new and changed, and a home's
    for pattern in {schema["pattern"] for schema in schemas}:

        @settings(max_examples=1000, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
        @given(st.from_regex(pattern, fullmatch=True))
        def taken(phone):
            assert normalise_phone(phone), phone

        taken()
    examples = [phone for phone in phones_in(document["paths"]) if isinstance(phone, str)]
    examples += [schema["example"] for schema in schemas]
    assert "020-83001234" in examples
    for phone in examples:
        assert normalise_phone(phone), phone
        assert all(re.search(schema["pattern"], phone) for schema in schemas), phone


@pytest.mark.parametrize("blank", ["\x1c", "\x1f ", "\x85", " \u3000"])
def test_a_reason_the_api_trims_to_nothing_breaks_the_documents_pattern_too(document, home, blank):
    """R-FSM-2: Python trims U+001C-U+001F and U+0085 as spaces, which `\\S` in the document (ECMA-262, as
    JSON Schema and schemathesis read it) does not count as spaces: the pattern names them, so that a
    reason the API finds blank (400) is one the document calls invalid."""
    import jsonschema_rs

    pattern = request_schema(document, "applications/{reference}/suspend/")["properties"]["reason"]["pattern"]
    assert not jsonschema_rs.is_valid({"type": "string", "pattern": pattern}, blank)
    assert jsonschema_rs.is_valid({"type": "string", "pattern": pattern}, f"{blank}住院")
    application = queued_application(choices=["YX01"])
    response = client_as("reviewer").post(
        url(f"applications/{application.reference}/suspend/"), {"reason": blank}, format="json"
    )
    assert_problem(response, 400, "reason")


@pytest.mark.parametrize("blank", ["\x1c", "\x1f ", "\x85", " \u3000"])
@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        ("facilities/{code}/beds/", "code", {"bed_type": "general"}),
        ("facilities/{code}/beds/batch/", "prefix", {"bed_type": "general", "count": 1}),
        ("facilities/", "name", {"code": "TH09", "district": "tianhe", "level": "district"}),
    ],
)
def test_a_home_or_bed_text_the_api_trims_to_nothing_breaks_the_documents_pattern_too(
    document, home, blank, path, field, body
):
    """R-SEC-1 with issue 16: a home's name, a bed's code and a batch's prefix are refused blank once
    trimmed, and Python trims U+001C-U+001F and U+0085, which the document's `minLength` alone let
    through (found by schemathesis: a bed coded "\x1c" was valid in the document and a 400). The
    document's pattern refuses what the API refuses, and nothing is added."""
    import jsonschema_rs

    schema = request_schema(document, path)["properties"][field]
    assert not jsonschema_rs.is_valid(schema, blank)
    assert jsonschema_rs.is_valid(schema, f"{blank}A1")
    homes, beds = Facility.objects.count(), Bed.objects.count()
    response = client_as("admin").post(url(path.format(code="YX01")), {**body, field: blank}, format="json")
    assert_problem(response, 400, field)
    assert (Facility.objects.count(), Bed.objects.count()) == (homes, beds)


@pytest.mark.parametrize("after_seq", ["0.0", "1.", " 1", "1e0", "0x1"])
def test_a_public_logs_after_seq_is_digits_as_the_document_says(document, home, after_seq):
    """R-VER-2: `after_seq` is an `integer` in the document; Django's IntegerField also took "0.0" (found
    by schemathesis: a request the document calls invalid was answered 200). It is 400, and "0" is not."""
    parameters = document["paths"]["/api/v1/public/facilities/{code}/decisions/"]["get"]["parameters"]
    assert next(p for p in parameters if p["name"] == "after_seq")["schema"]["type"] == "integer"
    public = url("public/facilities/YX01/decisions/")
    assert_problem(APIClient().get(public, {"after_seq": after_seq}), 400, "after_seq")
    assert APIClient().get(public, {"after_seq": "0"}).status_code == 200


@pytest.mark.parametrize("sent", ["0.0", "1.", " 1", "1e0", "0x1"])
@pytest.mark.parametrize(("path", "name", "valid"), [("events/", "after", "0"), ("calendar/", "year", "2026")])
def test_an_integer_query_of_the_staff_api_is_digits_as_the_document_says(document, path, name, valid, sent):
    """R-FSM-2's event feed and R-OFF-2's calendar: `after` and `year` are `integer`s in the document, and
    the one filter of whole numbers (api/filters.py) refuses "0.0" as the public log's `after_seq` does
    (found by schemathesis, seed 223740274050502850131793283022122953835: `?after=0.0` answered 200)."""
    parameters = document["paths"][f"/api/v1/{path}"]["get"]["parameters"]
    assert next(p for p in parameters if p["name"] == name)["schema"]["type"] == "integer"
    admin = client_as("admin")
    assert_problem(admin.get(url(path), {name: sent}), 400, name)
    assert admin.get(url(path), {name: valid}).status_code == 200


@pytest.mark.parametrize(
    ("path", "name"), [("public/facilities/YX01/decisions/", "after_seq"), ("events/", "after"), ("calendar/", "year")]
)
def test_an_integer_query_is_refused_exactly_beyond_the_bounds_the_document_gives(document, home, path, name):
    """R-SEC-1 with R-VER-2's log, R-FSM-2's event feed and R-OFF-2's calendar: each whole-number filter
    refuses a number beyond its bounds (400 naming it), and the document gives the same bounds. It gave
    none, so a generated `after_seq` of -1 was valid data the API refused, and schemathesis reported the
    public log mostly rejected (issue 16)."""
    parameters = document["paths"][f"/api/v1/{path.replace('YX01', '{code}')}"]["get"]["parameters"]
    schema = next(p for p in parameters if p["name"] == name)["schema"]
    admin = client_as("admin")
    for inside in (schema["minimum"], schema["maximum"]):
        assert admin.get(url(path), {name: str(inside)}).status_code == 200, inside
    for outside in (schema["minimum"] - 1, schema["maximum"] + 1):
        assert_problem(admin.get(url(path), {name: str(outside)}), 400, name)


@pytest.mark.parametrize("spaces", ["\x0b", " ", "\u3000"])
def test_an_optional_reason_longer_than_the_document_allows_is_refused_even_if_blank(document, home, spaces):
    """R-FSM-2: the resume's reason may be left blank, and is at most `maxLength` characters as sent.
    DRF answered a blank-once-trimmed string before its length check, so 2,001 vertical tabs were
    accepted (found by schemathesis: ST201). It is 400 naming the field, and nothing changes."""
    limit = request_schema(document, "applications/{reference}/resume/")["properties"]["reason"]["maxLength"]
    application = queued_application(choices=["YX01"])
    reviewer = client_as("reviewer")
    suspended = reviewer.post(
        url(f"applications/{application.reference}/suspend/"), {"reason": "in hospital"}, format="json"
    )
    assert suspended.status_code == 200
    resume = url(f"applications/{application.reference}/resume/")
    assert_problem(reviewer.post(resume, {"reason": spaces * (limit + 1)}, format="json"), 400, "reason")
    application.refresh_from_db()
    assert application.state == "suspended"
    assert reviewer.post(resume, {"reason": spaces * limit}, format="json").status_code == 200


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("ApplicantInputRequest", "name"),
        ("ApplicantPatchInputRequest", "name"),
        ("PersonalDetailsInputRequest", "name"),
        ("ExemptionDecisionInputRequest", "note"),
        ("AssessmentRejectInputRequest", "reason"),
        ("OfferExtendAdmissionRequest", "reason"),
        ("ReviewRequestCreateInputRequest", "reason"),
    ],
)
def test_a_name_or_reason_a_person_writes_is_refused_blank_by_the_document_as_by_the_api(document, component, field):
    """R-FSM-2 with issue 16: an applicant's name, an exemption decision's note and the reasons of a
    rejected assessment, an extended admission (R-OFF-7) and a re-review request (R-ASM-6) are refused
    when blank once trimmed (DRF trims, then refuses blank); the document said only `minLength: 1`, so
    "   " was valid in it. Its pattern now refuses each blank spelling Python trims, and no text."""
    import jsonschema_rs

    schema = document["components"]["schemas"][component]["properties"][field]
    for blank in ["   ", "\t", "\x1c", "\x85", " \u3000"]:
        assert not jsonschema_rs.is_valid(schema, blank), blank
    assert jsonschema_rs.is_valid(schema, "住院 two weeks")


def test_an_extension_with_a_blank_reason_is_400_naming_the_reason():
    """R-OFF-7: an admission is extended with a reason; one that is blank once trimmed is refused."""
    from admissions.models import Offer
    from admissions.services.allocation import allocation_run
    from admissions.services.offers import offer_accept

    home = FacilityFactory(code="HZ01")
    application = queued_application(choices=["HZ01"], grade=3)
    add_beds(home, nursing=1, status="vacant")
    allocation_run(facility=home, trigger="staff_request")
    offer = Offer.objects.get(application=application)
    offer_accept(offer=offer, actor=actor("family"))
    response = client_as("admin").post(
        url(f"offers/{offer.pk}/extend-admission/"), {"reason": "\x1c ", "admit_by": "2100-01-01"}, format="json"
    )
    assert_problem(response, 400, "reason")
    offer.refresh_from_db()
    assert offer.admit_by_extended_at is None


@pytest.mark.parametrize(
    ("text", "says_something"), [("\x1f4ä", True), ("a\nb", True), ("\x1f", False), (" \n\x85", False)]
)
def test_the_evidence_references_pattern_reads_the_same_searched_or_whole(document, text, says_something):
    """Issue 16 (ST201): JSON Schema searches a pattern anywhere in the text; schemathesis took the bare
    character class for the whole text and called "\\x1f4ä" a schema-violating reference the API
    accepted. The pattern is written so that both readings give the API's own verdict."""
    import jsonschema_rs

    path = document["paths"]["/api/v1/applications/{reference}/categories/{code}/evidence/"]["post"]
    schema = path["requestBody"]["content"]["multipart/form-data"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    pattern = schema["properties"]["evidence"]["pattern"]
    assert jsonschema_rs.is_valid({"type": "string", "pattern": pattern}, text) is says_something
    assert (re.fullmatch(pattern, text) is not None) is says_something
