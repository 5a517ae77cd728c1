"""Late fee (违约金) rules: pure functions, hand-computed expectations."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from business.billing import (
    UnpaidBill,
    apply_minimum,
    compute_arrears,
    daily_rate,
    days_overdue,
    late_fee,
)
from business.errors import InvalidInput

D = Decimal
DUE = date(2025, 3, 20)


def bill(amount: str, due: date = DUE, period: str = "2025-02") -> UnpaidBill:
    return UnpaidBill(period=period, amount=D(amount), due_date=due)


def test_no_fee_on_or_before_the_due_date() -> None:
    assert days_overdue(DUE, DUE) == 0
    assert days_overdue(DUE, DUE - timedelta(days=5)) == 0
    assert late_fee([bill("5000.00")], category="居民", today=DUE) == D("0.00")


def test_fee_starts_the_day_after_the_due_date() -> None:
    assert days_overdue(DUE, DUE + timedelta(days=1)) == 1
    # 2000.00 x 1‰ x 1 day = 2.00
    assert late_fee([bill("2000.00")], category="居民", today=DUE + timedelta(days=1)) == D("2.00")


def test_residential_one_per_mille_a_day() -> None:
    # 1234.56 x 0.001 x 30 = 37.0368 -> 37.04
    fee = late_fee([bill("1234.56")], category="居民", today=DUE + timedelta(days=30))
    assert fee == D("37.04")


def test_rounding_is_half_up_to_the_fen() -> None:
    # 1005.00 x 0.001 x 5 = 5.025 -> 5.03 (half up, not banker's 5.02)
    assert late_fee([bill("1005.00")], category="居民", today=DUE + timedelta(days=5)) == D("5.03")


def test_small_fee_is_charged_as_one_yuan() -> None:
    # 100.00 x 0.001 x 3 = 0.30 -> minimum 1.00
    assert late_fee([bill("100.00")], category="居民", today=DUE + timedelta(days=3)) == D("1.00")
    assert apply_minimum(D("0.004")) == D("0.00")  # rounds to zero: no fee at all
    assert apply_minimum(D("0.005")) == D("1.00")  # rounds to 0.01: charged 1 元
    assert apply_minimum(D("1.00")) == D("1.00")


def test_non_residential_current_year_two_per_mille() -> None:
    today = date(2025, 4, 19)  # 30 days after 2025-03-20
    # 1000.00 x 0.002 x 30 = 60.00
    assert late_fee([bill("1000.00")], category="非居民", today=today) == D("60.00")


def test_non_residential_earlier_years_three_per_mille() -> None:
    old = bill("1000.00", due=date(2024, 12, 20), period="2024-11")
    today = date(2025, 1, 19)  # 30 days
    # 1000.00 x 0.003 x 30 = 90.00
    assert late_fee([old], category="非居民", today=today) == D("90.00")


def test_non_residential_mixed_years_sum_then_round() -> None:
    today = date(2025, 4, 19)
    old = bill("333.33", due=date(2024, 12, 20), period="2024-11")  # 120 days
    new = bill("777.77", due=date(2025, 3, 20), period="2025-02")  # 30 days
    # 333.33 x 0.003 x 120 = 119.9988; 777.77 x 0.002 x 30 = 46.6662; sum 166.665 -> 166.67
    assert late_fee([old, new], category="非居民", today=today) == D("166.67")


def test_year_is_the_billing_period_year() -> None:
    # A December bill due in January is an earlier year's arrears for a January today.
    dec = bill("1000.00", due=date(2025, 1, 20), period="2024-12")
    assert daily_rate("非居民", dec.year, 2025) == D("0.003")
    assert daily_rate("非居民", 2025, 2025) == D("0.002")
    assert daily_rate("居民", 2020, 2025) == D("0.001")


def test_unknown_category_is_refused() -> None:
    with pytest.raises(InvalidInput, match="未知的用电类别"):
        daily_rate("工业", 2025, 2025)


def test_compute_arrears_splits_overdue_and_not_yet_due() -> None:
    today = date(2025, 4, 25)
    overdue = bill("200.00", due=date(2025, 4, 20), period="2025-03")  # 5 days
    not_due = bill("150.00", due=date(2025, 5, 20), period="2025-04")
    result = compute_arrears([overdue, not_due], category="居民", today=today)
    assert result.arrears == D("200.00")
    assert result.late_fee == D("1.00")  # 200 x 0.001 x 5 = 1.00 exactly
    assert result.unpaid_total == D("350.00")
    assert result.amount_due == D("351.00")


def test_compute_arrears_with_nothing_unpaid() -> None:
    result = compute_arrears([], category="非居民", today=DUE)
    assert (result.arrears, result.late_fee, result.amount_due) == (D("0"), D("0"), D("0"))


@pytest.mark.parametrize("days", [1, 2, 10, 31, 365])
def test_fee_grows_linearly_with_days(days: int) -> None:
    fee = late_fee([bill("10000.00")], category="居民", today=DUE + timedelta(days=days))
    assert fee == D("10.00") * days
