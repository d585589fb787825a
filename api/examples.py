"""Request examples of the OpenAPI document (issue 16): realistic bodies, for a reader of the docs
page and for schemathesis, which sends them first (its examples and coverage phases) and so
reaches the work behind the validation. Each is valid on its own: district codes are the city's
(facilities migration 0002), YX01 is the demo's Yuexiu home, dates are counted from the day the
server started. Bodies whose validity depends on the data (references of other applications,
usernames) have none here: .ci/fuzz_values.py fills them for the CI run."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import OpenApiExample


def request(name: str, value: dict) -> list[OpenApiExample]:
    return [OpenApiExample(name, value=value, request_only=True)]


TODAY = dt.date.today()

APPLICATION = request(
    "An application with a category claim",
    {
        "applicant": {
            "name": "陈秀英",
            "id_number": "440104194103020428",
            "date_of_birth": "1941-03-02",
            "sex": "F",
            "phone": "13812345678",
            "hukou_district": "yuexiu",
            "residence_district": "yuexiu",
            "address": "越秀区东风中路 1 号 302 房",
            "lives_alone": True,
            "no_spouse_no_children": False,
            "language": "zh-hans",
        },
        "contact": {"name": "李明", "relation": "儿子", "phone": "020-83001234", "email": "li.ming@example.com"},
        "declarations": {"no_infectious_disease": True, "no_serious_mental_disorder": True},
        "categories": [{"code": "dibao", "evidence": "最低生活保障证 穗民低字第202400123号"}],
        "choices": ["YX01"],
        "spouse_resident_in": [],
        "submit": True,
    },
)
CORRECTION = request("A corrected phone and address", {"applicant": {"phone": "13812345678"}})
CONTACT = request(
    "A new phone for the applicant and a new contact person",
    {
        "applicant": {"phone": "13812345678", "language": "zh-hans"},
        "contact": {"name": "李明", "relation": "儿子", "phone": "020-83001234", "email": "li.ming@example.com"},
        "reason": "家属更换了联系电话",
    },
)
PERSONAL_DETAILS = request(
    "A name corrected from the ID card", {"applicant": {"name": "陈秀英"}, "reason": "身份证上的姓名与录入不一致"}
)
FAMILY_SITUATION = request(
    "Living alone since the spouse died",
    {"lives_alone": True, "no_spouse_no_children": False, "spouse_resident_in": [], "reason": "配偶已去世，现独居"},
)
CATEGORY_CLAIM = request("A veteran's certificate", {"code": "youfu", "evidence": "优待证 编号4400012345"})
CATEGORY_VERIFY = request("Verified against the original", {"verified": True, "note": "已核对原件"})
CATEGORY_END = request("The allowance was lifted", {"reason": "低保已于本月取消"})
REASONS = {
    "reject": "户籍不在本市，且未申请缴费豁免",
    "return-for-assessment": "评估日期早于体检日期，请重新评估",
    "suspend": "申请人住院治疗，暂不参加轮候",
    "withdraw": "家属决定居家照护",
}
TRANSITIONS = {name: request("A reason", {"reason": reason}) for name, reason in REASONS.items()}
TRANSITIONS["resume"] = request("Back from hospital", {"reason": "申请人已出院"})
TRANSITIONS["remove"] = request("The applicant died", {"reason": "deceased", "note": "家属告知于上周去世"})
TRANSITIONS["approve"] = request("Approved with the claims as verified at intake", {})
COUPLE_UNLINK = request("Linked by mistake", {"reason": "录入错误，两人并非夫妻"})
ASSESSMENT = request(
    "A draft assessment from a home visit",
    {"assessed_on": TODAY.isoformat(), "items": {}, "coma": False, "notes": "上门评估", "complete": False},
)
REVIEW_REQUEST = request("The family disputes the grade", {"reason": "家属认为评估等级偏低，申请复核"})
FACILITY = request(
    "A district home",
    {
        "code": "TH09",
        "name": "天河区第九社会福利院",
        "name_en": "Tianhe District No. 9 Social Welfare Home",
        "district": "tianhe",
        "level": "district",
        "address": "天河区天河北路 9 号",
        "address_en": "9 Tianhe North Road, Tianhe District",
        "phone": "020-38001234",
        "accepting_applications": True,
        "nursing_target": 0.78,
    },
)
FACILITY_UPDATE = request("A new phone, still accepting", {"phone": "020-38001234", "accepting_applications": True})
POLICY = request(
    "Next year's refusal limit",
    {"effective_from": dt.date(TODAY.year + 1, 1, 1).isoformat(), "refusal_limit": 3, "note": "年度政策调整"},
)
BED_OUT_OF_SERVICE = request("Repairs", {"reason": "卫生间漏水维修"})
BED_RETURN = request("Repaired", {"reason": "维修完成"})
