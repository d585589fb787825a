"""Generated people: plausible Guangzhou elders and their applications' data, for the demo (seed_demo),
the city generator (simulation/generator.py, generate_city) and the policy simulator (simulate).

Made-up, but valid where the services check: resident ID numbers with their check digit (R-APP-1),
districts and homes by R-APP-7, categories with evidence (R-APP-8), item scores whose total falls in a
grade's range (SPEC §4). The same `rng` gives the same people, so every run of a seed is the same.
"""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone
from stdnum.cn import ric

from admissions.services.applications import IntakeData
from assessments.instrument import CONSCIOUSNESS_ITEM, ITEMS
from facilities.models import District, Facility

# The place codes (first six digits of the ID number) of the districts.
PLACE_CODES = {
    "liwan": "440103",
    "yuexiu": "440104",
    "haizhu": "440105",
    "tianhe": "440106",
    "baiyun": "440111",
    "huangpu": "440112",
    "panyu": "440113",
    "huadu": "440114",
    "nansha": "440115",
    "conghua": "440117",
    "zengcheng": "440118",
}
STREETS = {
    "yuexiu": ["东风东路", "北京路", "中山四路", "解放北路"],
    "haizhu": ["江南大道中", "昌岗路", "宝岗大道", "新港西路"],
    "liwan": ["中山八路", "芳村大道", "龙津西路", "宝华路"],
    "tianhe": ["天河北路", "员村二横路", "石牌东路", "龙口西路"],
    "baiyun": ["机场路", "同和路", "新市墟", "景泰直街"],
    "huangpu": ["黄埔东路", "大沙地东", "香雪大道", "丰乐北路"],
    "panyu": ["环城中路", "市桥大北路", "禺山大道", "兴业大道"],
    "huadu": ["公益路", "新华路", "云山大道", "龙珠路"],
    "nansha": ["进港大道", "环市大道", "金岭北路", "港前大道"],
    "conghua": ["河滨南路", "新城东路", "街口大道", "青云路"],
    "zengcheng": ["荔城大道", "府佑路", "增城大道", "挂绿路"],
}

SURNAMES = "陈李黄张梁林刘吴罗何郑杨谢郭邓冯曾周蔡许赖苏卢叶朱钟潘麦彭关谭区"
GIVEN_NAMES = {
    "F": ["秀英", "桂英", "玉珍", "淑贞", "丽华", "惠芳", "桂芳", "秀珍", "月娥", "凤英", "翠兰", "玉兰"]
    + ["少芳", "美玲", "婉仪", "素贞", "金好", "妙珍", "瑞莲", "银娣", "带娣", "雪梅", "佩兰", "珍"],
    "M": ["国强", "建华", "志明", "伟雄", "锦荣", "炳坤", "耀祖", "汉文", "家辉", "永康", "德明", "振华"]
    + ["树森", "福成", "卓伦", "景泉", "国栋", "文彬", "贵生", "荣发", "添", "辉", "伯良", "炳南"],
}
CONTACT_RELATIONS = ["儿子", "女儿", "儿媳", "女婿", "孙子", "侄子", "外甥女", "社区网格员"]
MOBILE_PREFIXES = ["133", "135", "136", "137", "138", "139", "150", "158", "159", "186", "188", "189"]

# (category, share of applicants claiming it). Most claim none (R-APP-8).
CATEGORY_SHARES = [
    ("dibao", 0.06),
    ("tekun", 0.03),
    ("low_income", 0.03),
    ("youfu", 0.05),
    ("family_planning_special", 0.03),
    ("model_worker", 0.02),
    ("heroic_deed", 0.01),
]
EVIDENCE = {
    "tekun": "特困人员救助供养证 穗特供字第{n:06d}号",
    "dibao": "最低生活保障证 穗民低字第{year}{n:05d}号",
    "low_income": "低收入家庭认定通知书 穗民低收〔{year}〕{n}号",
    "youfu": "优待证 编号44{n:08d}",
    "family_planning_special": "计划生育特殊家庭扶助对象证明 第{n:05d}号",
    "model_worker": "广州市劳动模范证书 {year}年 第{n:04d}号",
    "heroic_deed": "见义勇为人员确认书 穗见认〔{year}〕{n}号",
}
# Grades in plausible proportions: more moderate-to-complete (2–4) than intact or mild (0–1).
GRADE_WEIGHTS = {0: 0.04, 1: 0.14, 2: 0.30, 3: 0.30, 4: 0.22}
GRADE_TOTALS = {0: (90, 90), 1: (66, 89), 2: (46, 65), 3: (30, 45), 4: (0, 29)}


class People:
    """Draws people from `rng`. `today` dates their births and ages; `used_id_numbers` keeps every
    ID number unique (add the ones already in the database before drawing more)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.today = timezone.localdate()
        self.used_id_numbers: set[str] = set()
        self.districts = {d.code: d for d in District.objects.all()}

    def intake(self, by_district: dict[str, list[Facility]], city: list[Facility]) -> tuple[IntakeData, list[str]]:
        rng = self.rng
        district = rng.choice(list(self.districts))
        sex = "F" if rng.random() < 0.62 else "M"  # women live longer, and apply more
        age = int(rng.triangular(60, 105, 87))
        born = self.today - dt.timedelta(days=round(age * 365.25) + rng.randint(1, 360))
        surname = rng.choice(SURNAMES)
        name = surname + rng.choice(GIVEN_NAMES[sex])
        # R-APP-3: a few outside-hukou applicants under the contributor exemption.
        exemption = rng.random() < 0.015
        # R-APP-7: 1–2 homes, at most one city-level, district-level ones in the applicant's district.
        local = list(by_district.get(district, []))
        pattern = rng.random()
        if pattern < 0.45 and local:
            choices = [rng.choice(local), rng.choice(city)]
            rng.shuffle(choices)
        elif pattern < 0.70 or not local:
            choices = [rng.choice(city)]
        elif pattern < 0.90 or len(local) < 2:
            choices = [rng.choice(local)]
        else:
            choices = rng.sample(local, 2)
        categories = [code for code, share in CATEGORY_SHARES if rng.random() < share][:2]
        no_spouse_no_children = rng.random() < 0.07
        relation = rng.choice(CONTACT_RELATIONS[-3:] if no_spouse_no_children else CONTACT_RELATIONS)
        contact_surname = surname if relation in ("儿子", "女儿", "孙子", "侄子") else rng.choice(SURNAMES)
        data = IntakeData(
            name=name,
            id_number=self.id_number(born, sex, PLACE_CODES.get(district, "440104")),
            date_of_birth=born,
            sex=sex,
            hukou_district="other" if exemption else district,
            residence_district=district,
            phone=self.mobile() if rng.random() < 0.6 else "",
            address=f"广州市{self.districts[district].name_zh}{rng.choice(STREETS[district])}{rng.randint(1, 300)}号"
            f"{rng.randint(1, 12)}{rng.randint(1, 8):02d}房",
            language="en" if rng.random() < 0.04 else "zh-hans",
            lives_alone=rng.random() < 0.22,
            no_spouse_no_children=no_spouse_no_children,
            contributor_exemption_requested=exemption,
            contact_name=contact_surname + rng.choice(GIVEN_NAMES[rng.choice("FM")]),
            contact_relation=relation,
            contact_phone=self.mobile(),
            no_infectious_disease=True,
            no_serious_mental_disorder=True,
            categories=[
                {"code": code, "evidence": EVIDENCE[code].format(n=rng.randint(1, 99999), year=rng.randint(2015, 2026))}
                for code in categories
            ],
            choices=[f.code for f in choices],
            spouse_resident_in=[choices[0].code] if rng.random() < 0.03 else [],
        )
        return data, categories

    def id_number(self, born: dt.date, sex: str, place: str) -> str:
        """A valid resident ID number (R-APP-1): place, birth date, sequence (odd 3rd digit for men)."""
        while True:
            sequence = self.rng.randint(0, 99) * 10 + self.rng.choice(
                [1, 3, 5, 7, 9] if sex == "M" else [0, 2, 4, 6, 8]
            )
            body = f"{place}{born:%Y%m%d}{sequence:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if number not in self.used_id_numbers:
                self.used_id_numbers.add(number)
                return number

    def mobile(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randint(0, 99_999_999):08d}"

    def items(self, grade: int) -> tuple[dict[str, int], bool]:
        """Item scores (SPEC §4) with a total in the grade's range (R-ASM-1): points are taken away
        one at a time, self-care and mobility first, as frailty usually goes."""
        low, high = GRADE_TOTALS[grade]
        total = self.rng.randint(low, high)
        items = {item.code: item.max_points for item in ITEMS}
        coma = grade == 4 and self.rng.random() < 0.05
        floor = {item.code: item.min_points for item in ITEMS}
        floor[CONSCIOUSNESS_ITEM] = 1  # alert or drowsy: a coma is ticked explicitly (R-ASM-2)
        if coma:
            items[CONSCIOUSNESS_ITEM] = floor[CONSCIOUSNESS_ITEM] = 0
        weights = {item.code: {"B1": 5, "B2": 4, "B3": 1, "B4": 2}[item.domain] for item in ITEMS}
        excess = sum(items.values()) - max(total, sum(floor.values()))
        while excess > 0:
            open_codes = [code for code in items if items[code] > floor[code]]
            code = self.rng.choices(open_codes, [weights[c] for c in open_codes])[0]
            items[code] -= 1
            excess -= 1
        return items, coma

    def category_decision(self, code: str) -> dict:
        """R-APP-8: most evidence checks out; now and then a certificate has lapsed."""
        if self.rng.random() < 0.9:
            return {"code": code, "verified": True, "note": "已核验原件"}
        return {"code": code, "verified": False, "note": "证明材料已过有效期，未予认定"}
