from datetime import date, datetime, time
from decimal import Decimal

import pytest

from ivr import normalize as n


@pytest.mark.parametrize(("amount", "spoken"), [
    ("123.45", "一百二十三元四角五分"),
    ("100.05", "一百元零五分"),
    (1000, "一千元整"),
    (10, "十元整"),
    ("0.5", "五角"),
    ("20.30", "二十元三角"),
    (10005, "一万零五元整"),
    (0, "零元"),
    ("0.05", "五分"),
    ("1.05", "一元零五分"),
    ("100.50", "一百元五角"),
    (Decimal("-12.5"), "负十二元五角"),
    ("0.005", "一分"),  # rounded half up to the 分
    ("123456789.12", "一亿二千三百四十五万六千七百八十九元一角二分"),
])
def test_money(amount, spoken):
    assert n.money(amount) == spoken


@pytest.mark.parametrize(("value", "spoken"), [
    (0, "零"), (7, "七"), (10, "十"), (15, "十五"), (20, "二十"), (101, "一百零一"),
    (110, "一百一十"), (1010, "一千零一十"), (1001, "一千零一"), (10005, "一万零五"),
    (100000, "十万"), (110000, "十一万"), (1000000, "一百万"), (20000, "二万"),
    (100010000, "一亿零一万"), (100000001, "一亿零一"), (100001000, "一亿零一千"),
    (12345678, "一千二百三十四万五千六百七十八"), (-3, "负三"),
])
def test_integer_zero_rules(value, spoken):
    assert n.integer(value) == spoken


def test_dates_and_times():
    assert n.date_long("2026-12-03") == "二〇二六年十二月三日"
    assert n.date_long(date(2020, 1, 10)) == "二〇二〇年一月十日"
    assert n.date_short("2026-12-03") == "十二月三日"
    assert n.clock_time("14:05") == "十四点零五分"
    assert n.clock_time(time(9, 30)) == "九点三十分"
    assert n.clock_time("08:00") == "八点整"
    assert n.month("2026-05") == "二〇二六年五月"
    assert n.date_time(datetime(2026, 12, 3, 18, 30)) == "十二月三日十八点三十分"


def test_digit_strings_read_one_as_yao():
    assert n.digits("1502000001") == "幺五零二零零零零零幺"
    assert n.digits("138-0013 8000") == "幺三八零零幺三八零零零"
    assert n.digits(95598) == "九五五九八"


def test_energy():
    assert n.kwh("123.5") == "一百二十三点五千瓦时"
    assert n.kwh(123, "度") == "一百二十三度"
    assert n.kwh("0.05") == "零点零五千瓦时"
    assert n.number("10.50") == "十点五"


@pytest.mark.parametrize(("call", "arg"), [
    (n.money, "abc"), (n.money, "nan"), (n.money, True), (n.digits, "12a4"), (n.digits, ""),
    (n.date_long, "2026-13-01"), (n.clock_time, "25:00"), (n.month, "2026-13"),
    (n.integer, 1.5), (n.integer, 10**17), (n.kwh, "x"),
])
def test_bad_input_is_a_clear_error(call, arg):
    with pytest.raises(ValueError):
        call(arg)


def test_speakable_free_text_has_no_latin_or_bare_digits():
    text = n.speakable("欢迎致电95598，受10kV线路故障影响，预计2026-12-03 18:30恢复，"
                       "负荷下降5%，电压10.5千伏，请按1。ABC")
    assert text == ("欢迎致电九五五九八，受十千伏线路故障影响，"
                    "预计二〇二六年十二月三日 十八点三十分恢复，"
                    "负荷下降百分之五，电压十点五千伏，请按一。")
    assert not n.has_latin(text)
    assert not any(c.isdigit() for c in text)


def test_full_width_digits_are_read():
    assert n.speakable("请拨打０４７１") == "请拨打零四七幺"
