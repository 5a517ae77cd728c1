"""Chinese text normalisation before synthesis.

espeak-ng's Mandarin voice drops the 点 of decimals and reads Latin letters in English, so every
number, amount, date and code is turned into Chinese words here. Pure functions; bad input
raises ``ValueError`` with a clear message.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

DIGITS = "零一二三四五六七八九"
# Digit-by-digit reading (account, phone, work-order numbers): 1 is read 幺.
SPELLED = "零幺二三四五六七八九"
YEAR_DIGITS = "〇一二三四五六七八九"
_SECTION_UNITS = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
_GROUP_UNITS = ("", "万", "亿", "万亿")
_MAX_INTEGER = 10**16 - 1
_LATIN = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]")
# Full-width digits and letters to ASCII (punctuation stays as it is).
_FULL_WIDTH = {cp: cp - 0xFEE0 for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
               for cp in range(r[0], r[1] + 1)}


def _section(n: int) -> str:
    """0 < n < 10000, with inner zeros read as one 零."""
    out, zero = "", False
    for value, unit in _SECTION_UNITS:
        d = n // value % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[d] + unit
    return out


def integer(n: int) -> str:
    """An integer in words: 10 → 十, 10005 → 一万零五, 100010000 → 一亿零一万."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"integer() needs an int, got {n!r}")
    if n < 0:
        return "负" + integer(-n)
    if n == 0:
        return "零"
    if n > _MAX_INTEGER:
        raise ValueError(f"number too large to read: {n}")
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out, gap = "", False
    for idx in range(len(groups) - 1, -1, -1):
        g = groups[idx]
        if g == 0:
            gap = bool(out)
            continue
        if out and (gap or g < 1000):
            out += "零"
        out += _section(g) + _GROUP_UNITS[idx]
        gap = False
    return out[1:] if out.startswith("一十") else out


def to_decimal(value: object) -> Decimal:
    """Decimal from int / str / Decimal / float; ValueError on anything that is not a number."""
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    try:
        d = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise ValueError(f"not a number: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return d


def money(value: object) -> str:
    """An amount in 元角分: 123.45 → 一百二十三元四角五分, 1000 → 一千元整, 0 → 零元."""
    d = to_decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if d < 0:
        return "负" + money(-d)
    fen_total = int(d * 100)
    yuan, jiao, fen = fen_total // 100, fen_total // 10 % 10, fen_total % 10
    if fen_total == 0:
        return "零元"
    out = integer(yuan) + "元" if yuan else ""
    if jiao == 0 and fen == 0:
        return out + "整"
    if jiao:
        out += DIGITS[jiao] + "角"
    if fen:
        out += ("零" if yuan and not jiao else "") + DIGITS[fen] + "分"
    return out


def number(value: object) -> str:
    """A decimal number: 123.5 → 一百二十三点五, 0.05 → 零点零五, -2 → 负二."""
    d = to_decimal(value)
    if d < 0:
        return "负" + number(-d)
    text = format(d.normalize(), "f")
    whole, _, frac = text.partition(".")
    out = integer(int(whole))
    if frac:
        out += "点" + "".join(DIGITS[int(c)] for c in frac)
    return out


def kwh(value: object, unit: str = "千瓦时") -> str:
    """An energy quantity: 123.5 → 一百二十三点五千瓦时 (unit 千瓦时 or 度)."""
    if unit not in ("千瓦时", "度"):
        raise ValueError(f"unknown energy unit {unit!r} (use 千瓦时 or 度)")
    return number(value) + unit


def digits(value: object) -> str:
    """Digit by digit with 1 read as 幺: "1502" → 幺五零二. Spaces and hyphens are ignored."""
    text = re.sub(r"[\s\-]", "", str(value))
    if not text or not text.isascii() or not text.isdigit():
        raise ValueError(f"not a digit string: {value!r}")
    return "".join(SPELLED[int(c)] for c in text)


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {value!r}") from None


def date_long(value: object) -> str:
    """2026-12-03 → 二〇二六年十二月三日."""
    d = _as_date(value)
    year = "".join(YEAR_DIGITS[int(c)] for c in str(d.year))
    return f"{year}年{date_short(d)}"


def date_short(value: object) -> str:
    """2026-12-03 → 十二月三日."""
    d = _as_date(value)
    return f"{integer(d.month)}月{integer(d.day)}日"


def month(value: object) -> str:
    """A billing period "2026-05" → 二〇二六年五月."""
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", str(value).strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"not a month (YYYY-MM): {value!r}")
    year = "".join(YEAR_DIGITS[int(c)] for c in match.group(1))
    return f"{year}年{integer(int(match.group(2)))}月"


def _as_time(value: object) -> time:
    if isinstance(value, datetime):
        return value.time()
    if isinstance(value, time):
        return value
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::\d{2})?", str(value).strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"not a time (HH:MM): {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def clock_time(value: object) -> str:
    """14:05 → 十四点零五分, 9:30 → 九点三十分, 8:00 → 八点整."""
    t = _as_time(value)
    hour = integer(t.hour)
    if t.minute == 0:
        return f"{hour}点整"
    minute = integer(t.minute)
    return f"{hour}点{'零' if t.minute < 10 else ''}{minute}分"


def date_time(value: object) -> str:
    """A timestamp in the short form: 2026-12-03 14:05 → 十二月三日十四点零五分."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not a date and time: {value!r}") from None
    if not isinstance(value, datetime):
        raise ValueError(f"not a date and time: {value!r}")
    return date_short(value) + clock_time(value)


# --------------------------------------------------------------------------- free text

_UNITS = {"kwh": "千瓦时", "kv": "千伏", "kw": "千瓦", "km": "公里", "mm": "毫米"}
_FREE_PATTERNS = (
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"), lambda m: date_long(m.group(0))),
    (re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?!\d)"), lambda m: clock_time(m.group(0))),
    (re.compile(r"(\d+(?:\.\d+)?)%"), lambda m: "百分之" + number(m.group(1))),
    (re.compile(r"\d+\.\d+"), lambda m: number(m.group(0))),
    (re.compile(r"(?<![\d.])(?:0\d+|\d{5,})(?!\d)"), lambda m: digits(m.group(0))),
    (re.compile(r"\d+"), lambda m: integer(int(m.group(0)))),
)


def _units(text: str) -> str:
    pattern = r"(?<=[\d\s])(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")(?![A-Za-z])"
    return re.sub(pattern, lambda m: _UNITS[m.group(1).lower()], text, flags=re.IGNORECASE)


def speakable(text: str) -> str:
    """Free text made safe for the Mandarin voice.

    Dates, times, percentages and decimals become words; digit runs of five or more (or with a
    leading zero, like phone and service numbers) are read digit by digit, shorter ones as
    numbers; a few units (kV, kWh ...) are translated; any other Latin letter is dropped.
    """
    text = str(text).translate(_FULL_WIDTH)
    text = _units(text)
    for pattern, repl in _FREE_PATTERNS:
        text = pattern.sub(repl, text)
    text = _LATIN.sub("", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def has_latin(text: str) -> bool:
    return bool(_LATIN.search(text))


def yes_no(value: object) -> str:
    return "是" if value else "否"


# Template filters: "{amount|money}", "{account_no|digits}".
FILTERS = {
    "text": speakable,
    "money": money,
    "digits": digits,
    "int": lambda v: integer(int(to_decimal(v))),
    "number": number,
    "kwh": kwh,
    "du": lambda v: kwh(v, "度"),
    "date": date_long,
    "date_short": date_short,
    "month": month,
    "time": clock_time,
    "datetime": date_time,
}
