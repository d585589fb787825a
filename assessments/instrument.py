"""The GB/T 42195-2022 care-need assessment instrument (SPEC §4), as data.

26 items in 4 domains, each scored on whole points, higher is better, 90 at most. The level
descriptions are our own short wording for the assessment form, not the standard's text.

This module holds no rules about assessments: `grading.py` checks item scores (R-ASM-3) and turns
a total into a grade (R-ASM-1, R-ASM-2). To change the instrument, edit the data below; the check
at the bottom of the module runs at import and refuses data whose maxima do not add up.
"""

from __future__ import annotations

from dataclasses import dataclass

CHINESE = "zh-hans"


def _is_chinese(language: str) -> bool:
    # Django's language code for Simplified Chinese; every other language reads English.
    return language.lower() == CHINESE


@dataclass(frozen=True)
class Level:
    """One score of one item, with what an assessor sees at that score."""

    points: int
    label_zh: str
    label_en: str

    def label(self, language: str) -> str:
        return self.label_zh if _is_chinese(language) else self.label_en


@dataclass(frozen=True)
class Domain:
    code: str  # "B1".."B4"
    name_zh: str
    name_en: str
    max_points: int

    def name(self, language: str) -> str:
        return self.name_zh if _is_chinese(language) else self.name_en


@dataclass(frozen=True)
class Item:
    code: str  # "B1.1".."B4.5"
    domain: str  # "B1".."B4"
    name_zh: str
    name_en: str
    min_points: int
    max_points: int
    levels: tuple[Level, ...]  # one per whole point value, highest first

    def name(self, language: str) -> str:
        return self.name_zh if _is_chinese(language) else self.name_en


DOMAINS: tuple[Domain, ...] = (
    Domain("B1", "自理能力", "Self-care", 32),
    Domain("B2", "基础运动能力", "Basic mobility", 15),
    Domain("B3", "精神状态", "Mental state", 28),
    Domain("B4", "感知觉与社会参与", "Perception and social participation", 15),
)

MAX_TOTAL = 90

# The item whose 0 (stupor or coma) is the only score that allows the coma box (R-ASM-2).
CONSCIOUSNESS_ITEM = "B3.9"


ITEMS: tuple[Item, ...] = (
    # --- B1 自理能力 self-care: each 0–4 ------------------------------------------------------
    Item(
        code="B1.1",
        domain="B1",
        name_zh="进食",
        name_en="Eating",
        min_points=0,
        max_points=4,
        levels=(
            Level(4, "独立使用餐具进食，无需帮助", "Eats alone with ordinary utensils"),
            Level(
                3,
                "能自己吃，但需提醒或有人在旁看护",
                "Eats alone but needs prompting or someone watching",
            ),
            Level(
                2,
                "需他人切碎食物或递送餐具，大部分自己吃",
                "Needs food cut up or utensils handed over; eats most of it alone",
            ),
            Level(
                1,
                "主要由他人喂食，能配合张口吞咽",
                "Mostly fed by another person; cooperates by opening mouth and swallowing",
            ),
            Level(0, "完全由他人喂食或经鼻饲管进食", "Fully fed by others, or by tube"),
        ),
    ),
    Item(
        code="B1.2",
        domain="B1",
        name_zh="修饰",
        name_en="Grooming",
        min_points=0,
        max_points=4,
        levels=(
            Level(
                4,
                "独立洗脸、刷牙、梳头、剃须",
                "Washes face, brushes teeth, combs hair and shaves alone",
            ),
            Level(
                3,
                "能自己完成，但需提醒或看护",
                "Does it alone with prompting or supervision",
            ),
            Level(
                2,
                "需他人帮忙挤牙膏、拧毛巾等，大部分自己完成",
                "Needs help with steps such as toothpaste or wringing the towel; does most alone",
            ),
            Level(
                1,
                "主要由他人完成，能配合转头、张口",
                "Mostly done by another person; cooperates by turning head or opening mouth",
            ),
            Level(0, "完全由他人完成，无法配合", "Fully done by others; cannot cooperate"),
        ),
    ),
    Item(
        code="B1.3",
        domain="B1",
        name_zh="洗澡",
        name_en="Bathing",
        min_points=0,
        max_points=4,
        levels=(
            Level(
                4,
                "独立进出浴室并洗完全身",
                "Gets in and out of the shower or bath and washes all over alone",
            ),
            Level(
                3,
                "能自己洗，但需提醒或有人在旁防滑倒",
                "Washes alone but needs prompting or someone standing by in case of a fall",
            ),
            Level(
                2,
                "需他人帮忙进出浴室或擦背，大部分自己洗",
                "Needs help getting in and out or washing the back; washes most alone",
            ),
            Level(
                1,
                "主要由他人清洗，能配合抬手、转身",
                "Mostly washed by another person; cooperates by raising arms and turning",
            ),
            Level(
                0,
                "完全由他人清洗，或只能床上擦浴",
                "Fully washed by others, or bed-bathed only",
            ),
        ),
    ),
    Item(
        code="B1.4",
        domain="B1",
        name_zh="穿/脱上衣",
        name_en="Upper-body dressing",
        min_points=0,
        max_points=4,
        levels=(
            Level(
                4,
                "独立穿脱上衣，包括系扣子、拉拉链",
                "Puts on and takes off tops alone, buttons and zips included",
            ),
            Level(
                3,
                "能自己穿脱，但需提醒或看护",
                "Dresses alone with prompting or supervision",
            ),
            Level(
                2,
                "需他人帮忙套袖子或系扣子，大部分自己完成",
                "Needs help with sleeves or buttons; does most alone",
            ),
            Level(
                1,
                "主要由他人穿脱，能配合伸手",
                "Mostly dressed by another person; cooperates by holding out arms",
            ),
            Level(
                0,
                "完全由他人穿脱，无法配合",
                "Fully dressed by others; cannot cooperate",
            ),
        ),
    ),
    Item(
        code="B1.5",
        domain="B1",
        name_zh="穿/脱裤子和鞋袜",
        name_en="Lower-body dressing (trousers, shoes, socks)",
        min_points=0,
        max_points=4,
        levels=(
            Level(
                4,
                "独立穿脱裤子和鞋袜，包括系鞋带",
                "Puts on and takes off trousers, shoes and socks alone, laces included",
            ),
            Level(
                3,
                "能自己穿脱，但需提醒或看护",
                "Dresses alone with prompting or supervision",
            ),
            Level(
                2,
                "需他人帮忙穿袜子或系鞋带，大部分自己完成",
                "Needs help with socks or laces; does most alone",
            ),
            Level(
                1,
                "主要由他人穿脱，能配合抬腿",
                "Mostly dressed by another person; cooperates by lifting legs",
            ),
            Level(
                0,
                "完全由他人穿脱，无法配合",
                "Fully dressed by others; cannot cooperate",
            ),
        ),
    ),
    Item(
        code="B1.6",
        domain="B1",
        name_zh="小便控制",
        name_en="Bladder control",
        min_points=0,
        max_points=4,
        levels=(
            Level(4, "能完全控制小便", "Full control; no accidents"),
            Level(
                3,
                "偶有失禁（每月一两次），或需提醒排尿",
                "Occasional accident (once or twice a month), or needs reminding to pass urine",
            ),
            Level(
                2,
                "每周数次失禁，需他人协助更换尿垫",
                "Accidents several times a week; needs some help changing pads",
            ),
            Level(
                1,
                "大部分时间失禁，但能示意要排尿",
                "Incontinent most of the time but can signal the need",
            ),
            Level(
                0,
                "完全失禁，或导尿管全由他人护理",
                "No control, or catheter cared for entirely by others",
            ),
        ),
    ),
    Item(
        code="B1.7",
        domain="B1",
        name_zh="大便控制",
        name_en="Bowel control",
        min_points=0,
        max_points=4,
        levels=(
            Level(4, "能完全控制大便", "Full control; no accidents"),
            Level(
                3,
                "偶有失禁（每月一两次），或需提醒如厕",
                "Occasional accident (once or twice a month), or needs reminding to go",
            ),
            Level(
                2,
                "每周数次失禁，需他人协助清洁",
                "Accidents several times a week; needs some help cleaning up",
            ),
            Level(
                1,
                "大部分时间失禁，但能示意要排便",
                "Incontinent most of the time but can signal the need",
            ),
            Level(
                0,
                "完全失禁，或造口全由他人护理",
                "No control, or stoma cared for entirely by others",
            ),
        ),
    ),
    Item(
        code="B1.8",
        domain="B1",
        name_zh="如厕",
        name_en="Toileting",
        min_points=0,
        max_points=4,
        levels=(
            Level(
                4,
                "独立如厕，包括穿脱裤子和便后清洁",
                "Uses the toilet alone, including clothes and wiping",
            ),
            Level(
                3,
                "能自己完成，但需提醒或看护",
                "Manages alone with prompting or supervision",
            ),
            Level(
                2,
                "需他人帮忙坐下、起身或便后清洁，大部分自己完成",
                "Needs help sitting down, getting up or wiping; does most alone",
            ),
            Level(
                1,
                "主要由他人协助，能配合站立或转身",
                "Mostly helped by another person; cooperates by standing or turning",
            ),
            Level(
                0,
                "完全依赖他人，或只能在床上使用便器",
                "Fully dependent, or uses a bedpan in bed only",
            ),
        ),
    ),
    # --- B2 基础运动能力 basic mobility: 0–4, stairs 0–3 -------------------------------------
    Item(
        code="B2.1",
        domain="B2",
        name_zh="床上体位转移",
        name_en="Bed mobility",
        min_points=0,
        max_points=4,
        levels=(
            Level(4, "独立翻身、坐起、躺下", "Turns over, sits up and lies down alone"),
            Level(
                3,
                "能自己完成，但需扶床栏、提醒或看护",
                "Does it alone but needs a bed rail, prompting or supervision",
            ),
            Level(
                2,
                "需他人稍加扶助，大部分自己完成",
                "Needs a little help from another person; does most alone",
            ),
            Level(
                1,
                "主要由他人翻身或扶起，能配合用力",
                "Mostly turned or lifted by others; helps by pushing",
            ),
            Level(
                0,
                "完全由他人翻身、移动，无法配合",
                "Fully moved by others; cannot help",
            ),
        ),
    ),
    Item(
        code="B2.2",
        domain="B2",
        name_zh="床椅转移",
        name_en="Bed–chair transfer",
        min_points=0,
        max_points=4,
        levels=(
            Level(
                4,
                "独立在床与椅子或轮椅之间移动",
                "Moves between bed and chair or wheelchair alone",
            ),
            Level(
                3,
                "能自己完成，但需提醒或看护",
                "Moves alone with prompting or supervision",
            ),
            Level(
                2,
                "需一人稍加扶助，大部分自己完成",
                "Needs light help from one person; does most alone",
            ),
            Level(
                1,
                "需一人用力搀扶或抬移，能配合站立",
                "Needs one person to lift or hold them firmly; can bear some weight",
            ),
            Level(
                0,
                "需两人或移位器搬运，无法配合",
                "Needs two people or a hoist; cannot help",
            ),
        ),
    ),
    Item(
        code="B2.3",
        domain="B2",
        name_zh="平地行走",
        name_en="Level walking (about 50 m)",
        min_points=0,
        max_points=4,
        levels=(
            Level(
                4,
                "不用辅具独立平地行走约50米",
                "Walks about 50 m on the level alone, without an aid",
            ),
            Level(
                3,
                "借助手杖、助行器或在看护下能走约50米",
                "Walks about 50 m with a stick or frame, or under supervision",
            ),
            Level(2, "需他人搀扶才能走完约50米", "Needs someone's arm to walk about 50 m"),
            Level(
                1,
                "在他人大力扶助下只能走几步",
                "Takes only a few steps, with strong support",
            ),
            Level(0, "不能行走", "Cannot walk"),
        ),
    ),
    Item(
        code="B2.4",
        domain="B2",
        name_zh="上下楼梯",
        name_en="Stairs",
        min_points=0,
        max_points=3,
        levels=(
            Level(
                3,
                "独立上下一层楼梯（可扶扶手）",
                "Goes up and down a flight alone (handrail allowed)",
            ),
            Level(2, "需提醒、看护或他人稍加扶助", "Needs supervision or light help"),
            Level(1, "需他人大力搀扶才能上下", "Needs strong support from another person"),
            Level(0, "不能上下楼梯", "Cannot manage stairs"),
        ),
    ),
    # --- B3 精神状态 mental state: 0–4, behaviour 0–1, consciousness 0–2 ---------------------
    Item(
        code="B3.1",
        domain="B3",
        name_zh="时间定向",
        name_en="Time orientation",
        min_points=0,
        max_points=4,
        levels=(
            Level(
                4,
                "清楚年、月、日、星期和大致钟点",
                "Knows the year, month, date, weekday and rough time of day",
            ),
            Level(
                3,
                "知道年份和月份，日期或星期偶有错误",
                "Knows the year and month; sometimes wrong about the date or weekday",
            ),
            Level(
                2,
                "只知道年份，不清楚月份和日期",
                "Knows the year but not the month or date",
            ),
            Level(
                1,
                "只能分辨季节或白天黑夜",
                "Can tell only the season, or day from night",
            ),
            Level(0, "没有时间观念", "No sense of time"),
        ),
    ),
    Item(
        code="B3.2",
        domain="B3",
        name_zh="空间定向",
        name_en="Place orientation",
        min_points=0,
        max_points=4,
        levels=(
            Level(4, "能独自外出并找到回家的路", "Goes out alone and finds the way home"),
            Level(
                3,
                "在住所附近不迷路，去较远处会迷路",
                "Finds the way around the neighbourhood; gets lost farther away",
            ),
            Level(
                2,
                "知道自己住在哪里，但在小区内会迷路",
                "Knows where they live but gets lost within the housing estate",
            ),
            Level(
                1,
                "只能在家中找到卧室、厕所",
                "Finds the bedroom and toilet at home, nothing more",
            ),
            Level(0, "在家中也分不清方向", "Disoriented even at home"),
        ),
    ),
    Item(
        code="B3.3",
        domain="B3",
        name_zh="人物定向",
        name_en="Person orientation",
        min_points=0,
        max_points=4,
        levels=(
            Level(
                4,
                "认识家人、邻居等熟人，知道彼此关系",
                "Knows family, neighbours and other familiar people and how they are related",
            ),
            Level(
                3,
                "认识家人和常来往的人，偶尔叫错名字",
                "Knows family and regular visitors; sometimes mixes up names",
            ),
            Level(
                2,
                "只认识同住的家人或照护者",
                "Recognises only household members or carers",
            ),
            Level(1, "只知道自己的名字", "Knows only their own name"),
            Level(0, "不知道自己是谁", "Does not know who they are"),
        ),
    ),
    Item(
        code="B3.4",
        domain="B3",
        name_zh="记忆",
        name_en="Memory",
        min_points=0,
        max_points=4,
        levels=(
            Level(4, "近事和往事都记得清楚", "Remembers recent and past events well"),
            Level(
                3,
                "偶尔忘记近事，经提醒能想起",
                "Sometimes forgets recent events; recalls them when reminded",
            ),
            Level(
                2,
                "经常忘记近事，往事尚能记得",
                "Often forgets recent events; still remembers the distant past",
            ),
            Level(
                1,
                "近事基本记不住，往事也模糊",
                "Retains almost nothing recent; the distant past is hazy",
            ),
            Level(0, "近事往事都记不住", "Remembers neither recent nor past events"),
        ),
    ),
    Item(
        code="B3.5",
        domain="B3",
        name_zh="理解能力",
        name_en="Comprehension",
        min_points=0,
        max_points=4,
        levels=(
            Level(
                4,
                "能理解日常交谈和多步骤的指示",
                "Understands conversation and instructions in several steps",
            ),
            Level(
                3,
                "能理解日常交谈，复杂内容需重复或解释",
                "Understands everyday talk; complex points need repeating or explaining",
            ),
            Level(
                2,
                "只能理解放慢或重复的简单句子",
                "Understands only simple sentences, said slowly or repeated",
            ),
            Level(1, "只能理解个别词语或手势", "Understands only single words or gestures"),
            Level(0, "不能理解他人的话", "Does not understand what is said"),
        ),
    ),
    Item(
        code="B3.6",
        domain="B3",
        name_zh="表达能力",
        name_en="Expression",
        min_points=0,
        max_points=4,
        levels=(
            Level(4, "能清楚表达想法和需要", "Expresses thoughts and needs clearly"),
            Level(
                3,
                "能表达日常需要，复杂想法表达困难",
                "Expresses everyday needs; struggles with complex ideas",
            ),
            Level(
                2,
                "只能用简单词句表达，需他人耐心理解",
                "Uses only simple words and phrases; listeners must work to follow",
            ),
            Level(
                1,
                "只能用个别词语或手势示意",
                "Communicates only with single words or gestures",
            ),
            Level(0, "不能表达自己的需要", "Cannot make needs known"),
        ),
    ),
    Item(
        code="B3.7",
        domain="B3",
        name_zh="攻击行为",
        name_en="Aggressive behaviour (last month)",
        min_points=0,
        max_points=1,
        levels=(
            Level(1, "近一个月没有攻击行为", "No aggressive behaviour in the last month"),
            Level(
                0,
                "近一个月有打人、骂人或毁物等行为",
                "Hit or abused people, or damaged things, in the last month",
            ),
        ),
    ),
    Item(
        code="B3.8",
        domain="B3",
        name_zh="抑郁症状",
        name_en="Depressive symptoms (last month)",
        min_points=0,
        max_points=1,
        levels=(
            Level(1, "近一个月没有抑郁症状", "No depressive symptoms in the last month"),
            Level(
                0,
                "近一个月有情绪低落、兴趣丧失、自责或轻生念头",
                "Low mood, loss of interest, self-blame or thoughts of death in the last month",
            ),
        ),
    ),
    Item(
        code="B3.9",
        domain="B3",
        name_zh="意识水平",
        name_en="Consciousness",
        min_points=0,
        max_points=2,
        levels=(
            Level(
                2,
                "神志清醒，对周围反应正常",
                "Alert; responds normally to surroundings",
            ),
            Level(1, "嗜睡或意识模糊，能被唤醒", "Drowsy or confused; can be roused"),
            Level(
                0,
                "昏睡或昏迷，难以唤醒",
                "Stupor or coma; cannot be roused, or only briefly",
            ),
        ),
    ),
    # --- B4 感知觉与社会参与 perception and social participation -----------------------------
    Item(
        code="B4.1",
        domain="B4",
        name_zh="视力",
        name_en="Vision",
        min_points=0,
        max_points=2,
        levels=(
            Level(
                2,
                "能看清书报上的字（可戴眼镜）",
                "Reads ordinary print (glasses allowed)",
            ),
            Level(
                1,
                "看不清书报上的字，但能认出物体和人脸",
                "Cannot read print but recognises objects and faces",
            ),
            Level(0, "只有光感或完全失明", "Sees light only, or is blind"),
        ),
    ),
    Item(
        code="B4.2",
        domain="B4",
        name_zh="听力",
        name_en="Hearing",
        min_points=0,
        max_points=2,
        levels=(
            Level(
                2,
                "能听清正常音量的交谈（可戴助听器）",
                "Hears conversation at normal volume (hearing aid allowed)",
            ),
            Level(
                1,
                "对方需提高音量或靠近才能听清",
                "Hears only when people speak up or come close",
            ),
            Level(0, "几乎听不见", "Hears nothing or almost nothing"),
        ),
    ),
    Item(
        code="B4.3",
        domain="B4",
        name_zh="执行日常事务",
        name_en="Running daily affairs",
        min_points=0,
        max_points=4,
        levels=(
            Level(
                4,
                "能独立购物、做饭、管钱、打电话、按时服药",
                "Shops, cooks, handles money, uses the phone and takes medicine alone",
            ),
            Level(
                3,
                "能自己完成，但需提醒或看护",
                "Manages alone with prompting or supervision",
            ),
            Level(
                2,
                "部分事务需他人帮助，大部分自己完成",
                "Needs help with some of it; does most alone",
            ),
            Level(
                1,
                "大部分事务由他人代劳，能参与简单部分",
                "Others do most of it; takes part in simple steps",
            ),
            Level(0, "完全由他人代劳", "Others do all of it"),
        ),
    ),
    Item(
        code="B4.4",
        domain="B4",
        name_zh="使用交通工具外出",
        name_en="Going out by transport",
        min_points=0,
        max_points=3,
        levels=(
            Level(
                3,
                "能独自乘公交、地铁或出租车外出",
                "Goes out alone by bus, metro or taxi",
            ),
            Level(
                2,
                "熟悉的路线能独自乘车，陌生路线需人陪同",
                "Travels alone on familiar routes; needs company on new ones",
            ),
            Level(
                1,
                "需他人陪同并协助上下车",
                "Needs a companion who helps them on and off",
            ),
            Level(
                0,
                "不能乘车外出，或只能用担架、救护车",
                "Cannot travel, or only by stretcher or ambulance",
            ),
        ),
    ),
    Item(
        code="B4.5",
        domain="B4",
        name_zh="社会交往能力",
        name_en="Social interaction",
        min_points=0,
        max_points=4,
        levels=(
            Level(
                4,
                "主动与人交往，能参加社区活动",
                "Seeks out company and joins community activities",
            ),
            Level(
                3,
                "能与人正常交往，但较少主动",
                "Gets on with people but seldom takes the initiative",
            ),
            Level(
                2,
                "只与熟悉的人交往，需他人引导",
                "Mixes only with familiar people, and needs encouragement",
            ),
            Level(1, "很少与人交往，反应冷淡", "Rarely engages; responds little"),
            Level(0, "不与人交往", "Does not interact with others"),
        ),
    ),
)

DOMAINS_BY_CODE: dict[str, Domain] = {domain.code: domain for domain in DOMAINS}
ITEMS_BY_CODE: dict[str, Item] = {item.code: item for item in ITEMS}


class InstrumentError(ValueError):
    """The instrument's data contradicts itself (a typo in this module)."""


def check_instrument(
    domains: tuple[Domain, ...] = DOMAINS,
    items: tuple[Item, ...] = ITEMS,
    max_total: int = MAX_TOTAL,
) -> None:
    """Raise InstrumentError unless the data is self-consistent.

    Every item has one non-empty level per whole point from its maximum down to its minimum;
    items are numbered 1, 2, … within their domain, in domain order; each domain's maximum is
    the sum of its items' maxima; and the domain maxima add up to `max_total` (SPEC §4).
    """
    problems: list[str] = []
    domain_codes = [domain.code for domain in domains]
    if len(set(domain_codes)) != len(domain_codes):
        problems.append(f"duplicate domain codes in {domain_codes}")

    expected_codes = []
    for domain in domains:
        in_domain = [item for item in items if item.domain == domain.code]
        expected_codes += [f"{domain.code}.{n}" for n in range(1, len(in_domain) + 1)]
        item_sum = sum(item.max_points for item in in_domain)
        if item_sum != domain.max_points:
            problems.append(f"{domain.code}: items add up to {item_sum}, not {domain.max_points}")
    codes = [item.code for item in items]
    if codes != expected_codes:
        problems.append(f"item codes {codes} are not numbered in order {expected_codes}")

    for item in items:
        if item.domain not in domain_codes:
            problems.append(f"{item.code}: unknown domain {item.domain}")
        if not (item.name_zh.strip() and item.name_en.strip()):
            problems.append(f"{item.code}: name missing in a language")
        if not 0 <= item.min_points < item.max_points:
            problems.append(f"{item.code}: range {item.min_points}–{item.max_points} is not valid")
        points = [level.points for level in item.levels]
        expected = list(range(item.max_points, item.min_points - 1, -1))
        if points != expected:
            problems.append(f"{item.code}: levels {points}, expected {expected}")
        for level in item.levels:
            if not (level.label_zh.strip() and level.label_en.strip()):
                problems.append(f"{item.code}: level {level.points} lacks a label")

    domain_sum = sum(domain.max_points for domain in domains)
    if domain_sum != max_total:
        problems.append(f"domains add up to {domain_sum}, not {max_total}")

    if problems:
        raise InstrumentError("; ".join(problems))


check_instrument()
