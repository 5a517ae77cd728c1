import random

import pytest

from ivr import normalize
from ivr.speech.numbers import (
    extract_account,
    extract_mobile,
    extract_numbers,
    find_numbers,
    to_digits,
    words_to_text,
)


@pytest.mark.parametrize(("text", "digits"), [
    # digit by digit, every reading of every digit
    ("幺五零", "150"),
    ("零〇○洞", "0000"),
    ("一幺", "11"),
    ("二两", "22"),
    ("七拐", "77"),
    ("三四五六八九", "345689"),
    ("零四七一", "0471"),  # leading zero kept
    ("二〇二六", "2026"),
    # counting forms
    ("十", "10"),
    ("十五", "15"),
    ("一十五", "15"),
    ("二十", "20"),
    ("二十三", "23"),
    ("一百", "100"),
    ("一百零五", "105"),
    ("一百一十", "110"),
    ("三千", "3000"),
    ("两千零二十六", "2026"),
    ("一万零五", "10005"),
    ("十二万", "120000"),
    ("三千万", "30000000"),
    ("一亿零一万", "100010000"),
    # colloquial short forms
    ("两万五", "25000"),
    ("三千五", "3500"),
    ("一百五", "150"),
    ("三万一", "31000"),
    ("两万五千", "25000"),
    # recogniser output: Arabic, full-width, spaces between words
    ("5010000002", "5010000002"),
    ("５０１０", "5010"),
    ("幺 五 零", "150"),
    ("二十 三", "23"),
    ("10万", "100000"),
    ("2万5", "25000"),
])
def test_single_number(text, digits):
    assert extract_numbers(text) == [digits]


@pytest.mark.parametrize(("text", "numbers"), [
    ("二十三 四十五", ["23", "45"]),
    ("五百六百", ["500", "600"]),
    ("一三九二十", ["139", "20"]),
    ("二十 零四七一", ["20", "0471"]),
    ("三，三", ["3", "3"]),  # short numbers said twice are both kept
    ("我家三口人用了两百度电", ["3", "200"]),
    ("户号五零一零零零零零零二 电话幺三九零四七幺零零零幺", ["5010000002", "13904710001"]),
    ("停电二十分钟了", ["20"]),
    ("三十分钟", ["30"]),  # 十分 inside a number is not the word 十分
])
def test_several_numbers(text, numbers):
    assert extract_numbers(text) == numbers


@pytest.mark.parametrize("text", [
    "", "查电费", "查一下电费", "十分感谢", "万一停电了呢", "千万别挂", "拐弯就是营业厅",
    "山洞里没电", "一直没来电", "一起查一下", "统一办理", "百度上说的", "乱七八糟",
    "好 的", "嗯 那个", "[unk]",
])
def test_words_that_are_not_numbers(text):
    assert extract_numbers(text) == []


def test_counting_forms_round_trip_with_the_tts_normaliser():
    rng = random.Random(7)
    values = list(range(0, 2001)) + [rng.randrange(10**12) for _ in range(3000)]
    for v in values:
        assert extract_numbers(normalize.integer(v)) == [str(v)], normalize.integer(v)


def test_digit_readings_round_trip_with_the_tts_normaliser():
    rng = random.Random(8)
    for _ in range(500):
        s = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12)))
        assert extract_numbers(normalize.digits(s)) == [s]
        assert extract_numbers(" ".join(normalize.digits(s))) == [s]  # Vosk spacing


# ---------------------------------------------------------------- accounts and mobiles

ACCOUNT = "五零一零零零零零零二"  # 5010000002
MOBILE = "幺三九零四七幺零零零幺"  # 13904710001


@pytest.mark.parametrize("text", [
    "五零一零零零零零零二",
    "我的户号是五零一零零零零零零二",
    "户号 五 零 一 零 零 零 零 零 零 二",
    "户号5010000002",
    "五零一 零零零 零零零二",  # groups in one utterance (no pause)
    "五零一，零零零，零零零二",  # groups with pauses
    "五零一 嗯 零零零 那个 零零零二",  # groups with fillers
    "5010 000002",
])
def test_account(text):
    assert extract_account(text) == "5010000002"


@pytest.mark.parametrize("text", [
    ACCOUNT + ACCOUNT,  # said twice without a pause: not 20 digits
    ACCOUNT + " " + ACCOUNT,
    ACCOUNT + "，" + ACCOUNT,
    ACCOUNT + " 嗯 " + ACCOUNT,
    ACCOUNT + " 是 " + ACCOUNT,
    ACCOUNT + " 对 我再说一遍 " + ACCOUNT,
    "五零一，零零零，零零零二，五零一，零零零，零零零二",
    "5010000002 5010000002",
])
def test_account_said_twice_is_one_number(text):
    assert extract_numbers(text) == ["5010000002"]
    assert extract_account(text) == "5010000002"


@pytest.mark.parametrize("text", [
    MOBILE,
    "我的电话是" + MOBILE,
    "幺三九 零四七幺 零零零幺",
    "一三九，零四七一，零零零一",
    "幺 三 九 洞 四 拐 幺 洞 洞 洞 幺",  # radio readings 洞 拐
    MOBILE + MOBILE,
    MOBILE + "，" + MOBILE,
    "八六" + MOBILE,
    "+86 139 0471 0001",
])
def test_mobile(text):
    assert extract_mobile(text) == "13904710001"


def test_work_order_number_said_twice():
    wo = "二零零幺零幺零零零零零幺"
    assert extract_numbers(wo + wo) == ["200101000001"]
    assert extract_numbers(wo + " 嗯 " + wo) == ["200101000001"]


def test_account_and_mobile_are_told_apart():
    assert extract_account(MOBILE) is None
    assert extract_mobile(ACCOUNT) is None
    text = f"户号{ACCOUNT}，电话{MOBILE}"
    assert extract_account(text) == "5010000002"
    assert extract_mobile(text) == "13904710001"


@pytest.mark.parametrize("text", [
    "五零一零零零零零零",  # 9 digits
    "五零一零零零零零零二三",  # 11 digits, not starting with 1
    "五零一零零零零零零二五零一零零零零零零三",  # two different accounts run together
    "五十亿零一百",  # a counting form is not an account number
    "",
])
def test_no_account(text):
    assert extract_account(text) is None


def test_different_numbers_are_kept_and_the_last_account_wins():
    text = "五零一零零零零零零一 不对 五零一零零零零零零二"
    assert extract_numbers(text) == ["5010000001", "5010000002"]
    assert extract_account(text) == "5010000002"


def test_groups_are_not_joined_across_words_or_into_wrong_lengths():
    # "是" is a word, not a pause: the groups stay apart
    assert extract_numbers("五零一 是 零零零 是 零零零二") == ["501", "000", "0002"]
    # 3 + 3 digits make no account or mobile: not joined
    assert extract_numbers("五零一，零零零") == ["501", "000"]


# ---------------------------------------------------------------- helpers


def test_to_digits_rewrites_numbers_in_place():
    assert to_digits("幺五零") == "150"
    assert to_digits("两万五千块") == "25000块"
    assert to_digits("户号 五零一 零零零") == "户号 501000"
    assert to_digits("查一下电费") == "查一下电费"
    assert to_digits("五百六百") == "500 600"
    assert to_digits("１２３") == "123"


def test_find_numbers_reports_spans_and_separators():
    found = find_numbers("户号五零一，零零零 对 二十")
    assert [(n.digits, n.kind, soft) for n, soft in found] == [
        ("501", "digits", False), ("000", "digits", True), ("20", "count", False)]
    text = "户号五零一，零零零 对 二十"
    assert [text[n.start:n.end] for n, _ in found] == ["五零一", "零零零", "二十"]


def test_words_to_text_marks_pauses():
    words = [
        {"word": "户号", "start": 0.0, "end": 0.4},
        {"word": "五零一", "start": 0.5, "end": 1.0},
        {"word": "零零零", "start": 1.7, "end": 2.1},
        {"word": "二", "start": 2.2, "end": 2.3},
        {"word": "", "start": 2.3, "end": 2.3},
    ]
    assert words_to_text(words) == "户号 五零一，零零零 二"
    assert words_to_text(words, pause=1.0) == "户号 五零一 零零零 二"
    assert words_to_text([]) == ""


def test_said_twice_with_a_pause_from_vosk_words():
    digits = list("五零一零零零零零零二")
    words = [{"word": d, "start": 0.3 * k, "end": 0.3 * k + 0.2} for k, d in enumerate(digits)]
    words += [{"word": d, "start": 5 + 0.3 * k, "end": 5 + 0.3 * k + 0.2}
              for k, d in enumerate(digits)]
    assert extract_numbers(words_to_text(words)) == ["5010000002"]
