"""Chinese number normalisation of ASR results: spoken numbers to Arabic digits.

The inverse of :mod:`ivr.normalize` for what callers say. Pure functions, no model.

Readings understood
- digit by digit: 零 〇 ○ 洞 = 0, 一 幺 = 1, 二 两 = 2, 三 … 九, 拐 = 7, and Arabic or
  full-width digits (the recogniser sometimes emits them). Digit-by-digit readings keep leading
  zeros: 零四七一 → "0471".
  洞 and 拐 count as digits only next to another digit (拐弯, 山洞 are words).
- counting forms with 十 百 千 万 亿: 二十三 → 23, 一百零五 → 105, 三千 → 3000, 两千零二十六 → 2026,
  and the colloquial short forms 两万五 → 25000, 三千五 → 3500, 一百五 → 150. "10万" → 100000.
- Spaces are ignored inside a number (Vosk separates words by spaces: "幺 五 零" = "150"); a digit
  reading followed by a counting form is two numbers ("一三九二十" → "139", "20"), and so are two
  counting forms in a row ("二十三 四十五" → "23", "45").
- Words that contain number characters but are not numbers are skipped: 一下, 一点, 一些, 一样,
  一直, 一起, 万一, 千万, 十分, 统一, … (see ``_NOT_NUMBERS``).

Separation, grouping and repetition (``extract_numbers``)
1. Anything that is not a number character or a space separates numbers. Separators are *soft*
   (pause punctuation such as ，、。 — :func:`words_to_text` writes "，" for a pause between
   recognised words — and filler words 嗯 啊 呃 额 哦 那个 这个 就是 然后) or *hard* (any other
   word, including 是 and 对).
2. Repetition without a pause: a digit reading of 2n digits whose two halves are equal, with n = 10
   (account number), 11 (mobile number) or 12 (work-order number), is one number said twice:
   "幺三九…幺三九…" (22 digits) → the 11-digit number (no 20, 22 or 24-digit numbers exist here).
3. Grouping: callers read long numbers in groups with short pauses ("一三九，零四七一，零零零一").
   Two or more consecutive digit readings, each shorter than 10 digits and separated only by soft
   separators, are joined when together they make exactly an account number (10 digits) or a mobile
   number (11 digits starting with 1); the longest such join from the left wins.
4. Repetition with a pause: the same digit string of 6 or more digits said twice in a row
   (after steps 2-3, whatever separates them) is returned once: "5010000002 对 5010000002" → one.
   Different numbers, and short numbers ("三，三"), are all kept.

``extract_account`` / ``extract_mobile`` return the last candidate of the right shape (a caller who
corrects himself says the right number last; the flow reads the number back for confirmation).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

ACCOUNT_DIGITS = 10
MOBILE_DIGITS = 11
WORK_ORDER_DIGITS = 12

_DIGIT_VALUES = {
    "零": 0, "〇": 0, "○": 0, "洞": 0,
    "一": 1, "幺": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "拐": 7, "八": 8, "九": 9,
}
_WEAK_DIGITS = frozenset("洞拐")  # digits only next to another digit
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
_SMALL_UNITS = frozenset((10, 100, 1000))
_FULL_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)}
_SOFT_PUNCT = frozenset("，,、。.；;：:！!？?…—-~～")
_FILLERS = ("那个", "这个", "就是", "然后", "嗯", "啊", "呃", "额", "哦", "噢", "唔", "呢")
# Words made of number characters that are not numbers (longest first when matched).
_NOT_NUMBERS = tuple(sorted({
    "一下", "一点", "一些", "一样", "一直", "一起", "一般", "一定", "一共", "一会", "一旦", "一切",
    "一边", "一致", "一律", "一再", "一向", "一概", "一道", "一块儿", "一会儿", "一点儿", "一遍",
    "一次", "一趟", "一声", "一句",
    "统一", "唯一", "万一", "千万", "十分", "百度", "万能", "三番五次", "乱七八糟", "一模一样",
    "两口子", "零钱", "零花钱",
}, key=len, reverse=True))
_REPEATABLE = (ACCOUNT_DIGITS, MOBILE_DIGITS, WORK_ORDER_DIGITS)
_MIN_REPEAT_COLLAPSE = 6


@dataclass(frozen=True, slots=True)
class SpokenNumber:
    """One number found in a text. ``kind`` is "digits" (read digit by digit, leading zeros kept)
    or "count" (a counting form such as 两万五); ``start``/``end`` index the original text."""

    digits: str
    kind: Literal["digits", "count"]
    start: int
    end: int


# --------------------------------------------------------------------------- scanning


@dataclass(slots=True)
class _Sym:
    kind: Literal["n", "u"]  # number or unit
    value: int
    text: str  # digit string for numbers ("0471" for Arabic groups), the unit char for units
    zero: bool  # a Chinese 零
    start: int
    end: int


@dataclass(slots=True)
class _Run:
    syms: list[_Sym]
    soft_before: bool  # only soft separators between this run and the previous one


def _scan(text: str) -> list[_Run]:
    """Split text into runs of number symbols; spaces inside a run are ignored."""
    text = text.translate(_FULL_WIDTH)
    runs: list[_Run] = []
    current: list[_Sym] = []
    soft = True  # separators seen since the last run are all soft
    i, n = 0, len(text)

    def close() -> None:
        nonlocal current, soft
        if current:
            runs.append(_Run(current, soft))
            current, soft = [], True

    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch.isascii() and ch.isdigit():
            j = i
            while j < n and text[j].isascii() and text[j].isdigit():
                j += 1
            current.append(_Sym("n", int(text[i:j]), text[i:j], False, i, j))
            i = j
            continue
        # A number being read goes on (三十分钟, 三万一, 一三九七七八八…); elsewhere the
        # non-number words are skipped (十分感谢, 万一, 查一下).
        word = None if current else next((w for w in _NOT_NUMBERS if text.startswith(w, i)), None)
        if word is None and (ch in _DIGIT_VALUES or ch in _UNITS):
            if ch in _UNITS:
                current.append(_Sym("u", _UNITS[ch], ch, False, i, i + 1))
            else:
                d = _DIGIT_VALUES[ch]
                current.append(_Sym("n", d, str(d), ch in "零〇○", i, i + 1))
            i += 1
            continue
        close()
        if word is not None:
            soft = False
            i += len(word)
            continue
        filler = next((f for f in _FILLERS if text.startswith(f, i)), None)
        if filler is not None:
            i += len(filler)
        elif ch in _SOFT_PUNCT:
            i += 1
        else:
            soft = False
            i += 1
    close()
    return [r for r in runs if _keep_run(r, text)]


def _keep_run(run: _Run, text: str) -> bool:
    """Drop runs that hold only a 洞 or 拐 without another digit (拐弯, 山洞)."""
    digits = [s for s in run.syms if s.kind == "n"]
    weak = [s for s in digits if text[s.start:s.end] in _WEAK_DIGITS]
    return not (weak and len(weak) == len(digits) and len(digits) < 2)


# --------------------------------------------------------------------------- parsing


def _parse_count(syms: list[_Sym], i: int) -> tuple[int, int]:
    """Parse a counting form starting at ``syms[i]``; return (value, index after it)."""
    total = 0  # 亿 part, already multiplied
    wan = 0  # 万 part within the current 亿 group, already multiplied
    section = 0  # below 万
    pending: int | None = None
    pending_at = -1
    last_small: int | None = None  # last of 十百千 in this section (must decrease)
    last_unit: int | None = None  # the unit right before a trailing digit (for 两万五)
    zero = False
    zero_at = -1
    seen_wan = False
    j = i
    while j < len(syms):
        s = syms[j]
        if s.kind == "n":
            if pending is not None:
                if zero:  # 二十 零四七一: the 零 starts a digit reading, not 二十零四
                    j, pending = zero_at, None
                break
            if s.zero:
                if not zero:
                    zero, zero_at = True, j
                j += 1
                continue
            pending, pending_at = s.value, j
            j += 1
            continue
        u = s.value
        if u in _SMALL_UNITS:
            if pending is None and u != 10:
                break
            if last_small is not None and u >= last_small:
                if pending is not None:
                    j, pending = pending_at, None
                break
            section += (1 if pending is None else pending) * u
            last_small = last_unit = u
        elif u == 10_000:
            if seen_wan or (pending is None and section == 0):
                if pending is not None:
                    j, pending = pending_at, None
                break
            wan = (section + (pending or 0)) * 10_000
            section, last_small, last_unit, seen_wan = 0, None, u, True
        else:  # 亿
            if pending is None and section == 0 and wan == 0:
                break
            total = (total + wan + section + (pending or 0)) * 100_000_000
            wan = section = 0
            last_small, last_unit, seen_wan = None, u, False
        pending, zero = None, False
        j += 1
    if pending is not None:
        if not zero and last_unit is not None and last_unit >= 100 and pending < 10:
            section += pending * last_unit // 10  # 两万五 = 25000, 一百五 = 150
        else:
            section += pending
    return total + wan + section, j


def _starts_count(syms: list[_Sym], i: int) -> bool:
    s = syms[i]
    if s.kind == "u":
        return s.value == 10  # 十五 = 15; a bare 百/千/万 is not a number
    return not s.zero and i + 1 < len(syms) and syms[i + 1].kind == "u"


def _parse_run(syms: list[_Sym]) -> list[SpokenNumber]:
    out: list[SpokenNumber] = []
    buf: list[_Sym] = []

    def flush() -> None:
        if buf:
            out.append(SpokenNumber("".join(s.text for s in buf), "digits",
                                    buf[0].start, buf[-1].end))
            buf.clear()

    i = 0
    while i < len(syms):
        if _starts_count(syms, i):
            flush()
            value, j = _parse_count(syms, i)
            if j == i:  # nothing parsed (cannot happen for a valid start; be safe)
                j = i + 1
            out.append(SpokenNumber(str(value), "count", syms[i].start, syms[j - 1].end))
            i = j
        elif syms[i].kind == "u":  # a stray unit (百, 千 on their own)
            flush()
            i += 1
        else:
            buf.append(syms[i])
            i += 1
    flush()
    return out


# --------------------------------------------------------------------------- public API


def find_numbers(text: str) -> list[tuple[SpokenNumber, bool]]:
    """Every number in ``text`` as said, each with whether only soft separators (pauses,
    fillers) stand between it and the previous number. No grouping or repetition rules."""
    found: list[tuple[SpokenNumber, bool]] = []
    for run in _scan(text):
        for k, num in enumerate(_parse_run(run.syms)):
            found.append((num, run.soft_before if k == 0 else True))
    return found


def _split_repetition(num: SpokenNumber) -> SpokenNumber:
    d = num.digits
    if num.kind == "digits" and len(d) % 2 == 0 and len(d) // 2 in _REPEATABLE:
        half = len(d) // 2
        if d[:half] == d[half:]:
            return SpokenNumber(d[:half], "digits", num.start, num.end)
    return num


def _is_id(digits: str) -> bool:
    return len(digits) == ACCOUNT_DIGITS or (len(digits) == MOBILE_DIGITS and digits[0] == "1")


def _join_groups(found: list[tuple[SpokenNumber, bool]]) -> list[SpokenNumber]:
    out: list[SpokenNumber] = []
    i = 0
    while i < len(found):
        first = found[i][0]
        best = i
        if first.kind == "digits" and len(first.digits) < ACCOUNT_DIGITS:
            joined = first.digits
            for j in range(i + 1, len(found)):
                num, soft = found[j]
                if not soft or num.kind != "digits" or len(num.digits) >= ACCOUNT_DIGITS:
                    break
                joined += num.digits
                if len(joined) > MOBILE_DIGITS:
                    break
                if _is_id(joined):
                    best = j
        if best > i:
            digits = "".join(found[k][0].digits for k in range(i, best + 1))
            out.append(SpokenNumber(digits, "digits", first.start, found[best][0].end))
        else:
            out.append(first)
        i = best + 1
    return out


def spoken_numbers(text: str) -> list[SpokenNumber]:
    """The numbers in ``text`` after the repetition and grouping rules (see the module doc)."""
    found = [(_split_repetition(num), soft) for num, soft in find_numbers(text)]
    out: list[SpokenNumber] = []
    for num in _join_groups(found):
        prev = out[-1] if out else None
        if (prev is not None and prev.kind == num.kind == "digits" and prev.digits == num.digits
                and len(num.digits) >= _MIN_REPEAT_COLLAPSE):
            continue  # the same identifier said twice
        out.append(num)
    return out


def extract_numbers(text: str) -> list[str]:
    """The numbers said in ``text`` as digit strings, in order (see the module doc)."""
    return [num.digits for num in spoken_numbers(text)]


def extract_account(text: str) -> str | None:
    """A 10-digit account number (户号) said digit by digit, or None; the last one wins."""
    accounts = [n.digits for n in spoken_numbers(text)
                if n.kind == "digits" and len(n.digits) == ACCOUNT_DIGITS]
    return accounts[-1] if accounts else None


def extract_mobile(text: str) -> str | None:
    """An 11-digit mobile number starting with 1 (a leading 86 / +86 is dropped), or None."""
    mobiles = []
    for n in spoken_numbers(text):
        d = n.digits
        if n.kind != "digits":
            continue
        if len(d) == MOBILE_DIGITS + 2 and d.startswith("861"):
            d = d[2:]
        if len(d) == MOBILE_DIGITS and d[0] == "1":
            mobiles.append(d)
    return mobiles[-1] if mobiles else None


def to_digits(text: str) -> str:
    """``text`` with every spoken number replaced by its digits, everything else unchanged.

    No grouping or repetition rules: "幺五零" → "150", "两万五千块" → "25000块",
    "户号 五零一 零零零" → "户号 501000" (spaces inside a number go, others stay)."""
    nums = [num for num, _ in find_numbers(text)]
    text = text.translate(_FULL_WIDTH)
    out, pos = [], 0
    for num in nums:
        if out and num.start == pos:
            out.append(" ")  # two numbers said back to back: 五百六百 → "500 600"
        out.append(text[pos:num.start])
        out.append(num.digits)
        pos = num.end
    out.append(text[pos:])
    return "".join(out)


def words_to_text(words: Iterable[Mapping[str, Any]], pause: float = 0.5) -> str:
    """Join Vosk word results (``{"word", "start", "end"}``, seconds) with spaces, writing "，"
    where the silence between two words is at least ``pause`` seconds, so that numbers said
    with a pause between them stay apart (and groups can be joined, see the module doc)."""
    parts: list[str] = []
    last_end: float | None = None
    for w in words:
        word = str(w.get("word", "")).strip()
        if not word:
            continue
        start = float(w.get("start", 0.0))
        if last_end is not None and start - last_end >= pause:
            parts.append("，")
        parts.append(word)
        last_end = float(w.get("end", start))
    return re.sub(r" ?， ?", "，", " ".join(parts))
