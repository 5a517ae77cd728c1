"""Arrears and the late fee (违约金). Pure functions over plain values.

Rules (as the 95598 issue states them):

- The fee runs from the day after the due date: on the due date itself there is none, the
  day after counts one day.
- Residential (居民): 1‰ of the overdue amount per day.
- Others (非居民): 2‰ per day on the current year's arrears and 3‰ per day on earlier years'
  arrears. A bill belongs to the year of its billing period ("YYYY-MM"); the current year is
  the year of ``today``.
- The account's total fee is rounded to the 分 (ROUND_HALF_UP); a total under 1 元 but above
  zero is charged as 1 元.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from business.errors import InvalidInput

RESIDENTIAL = "居民"
NON_RESIDENTIAL = "非居民"

RESIDENTIAL_RATE = Decimal("0.001")
CURRENT_YEAR_RATE = Decimal("0.002")
EARLIER_YEARS_RATE = Decimal("0.003")
MINIMUM_FEE = Decimal("1.00")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class UnpaidBill:
    period: str  # "YYYY-MM"
    amount: Decimal
    due_date: date

    @property
    def year(self) -> int:
        return int(self.period[:4])


@dataclass(frozen=True)
class Arrears:
    arrears: Decimal  # unpaid principal already overdue
    late_fee: Decimal
    unpaid_total: Decimal  # every unpaid bill, overdue or not yet due
    amount_due: Decimal  # unpaid_total + late_fee


def to_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def days_overdue(due_date: date, today: date) -> int:
    """Days the fee runs for: 0 on or before the due date, 1 the day after."""
    return max(0, (today - due_date).days)


def daily_rate(category: str, bill_year: int, current_year: int) -> Decimal:
    if category == RESIDENTIAL:
        return RESIDENTIAL_RATE
    if category == NON_RESIDENTIAL:
        return CURRENT_YEAR_RATE if bill_year >= current_year else EARLIER_YEARS_RATE
    raise InvalidInput(f"未知的用电类别：{category}")


def raw_fee(bill: UnpaidBill, *, category: str, today: date) -> Decimal:
    """The unrounded fee of one bill."""
    days = days_overdue(bill.due_date, today)
    return bill.amount * daily_rate(category, bill.year, today.year) * days


def apply_minimum(fee: Decimal) -> Decimal:
    fee = to_money(fee)
    if ZERO < fee < MINIMUM_FEE:
        return MINIMUM_FEE
    return fee


def late_fee(bills: Iterable[UnpaidBill], *, category: str, today: date) -> Decimal:
    total = sum((raw_fee(b, category=category, today=today) for b in bills), Decimal(0))
    return apply_minimum(total)


def compute_arrears(bills: Iterable[UnpaidBill], *, category: str, today: date) -> Arrears:
    bills = list(bills)
    overdue = [b for b in bills if days_overdue(b.due_date, today) > 0]
    fee = late_fee(overdue, category=category, today=today)
    unpaid = to_money(sum((b.amount for b in bills), Decimal(0)))
    return Arrears(
        arrears=to_money(sum((b.amount for b in overdue), Decimal(0))),
        late_fee=fee,
        unpaid_total=unpaid,
        amount_due=unpaid + fee,
    )
