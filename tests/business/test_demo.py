"""Demo data: deterministic, the requested size, idempotent, fixed accounts as described."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from business import services as svc
from business.db import create_schema, make_engine, make_session_factory
from business.demo import (
    DEMO_ACCOUNTS,
    DEMO_PHONE,
    DEMO_PLANNED_OUTAGE,
    count_rows,
    load_demo_data,
    refresh_demo_outages,
)
from business.demo_reference import REGIONS
from business.models import Account, Base, Bill, Customer, CustomerPhone
from tests.business.conftest import DEMO_SIZE, NOW

DUMPED = (
    "accounts",
    "customers",
    "customer_phones",
    "bills",
    "transformer_areas",
    "outage_notices",
    "outage_areas",
    "work_orders",
)


def dump(factory: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with factory() as s:
        for name in DUMPED:
            table = Base.metadata.tables[name]
            rows = s.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[name] = [tuple(r) for r in rows]
    return out


def sqlite_factory(path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    return make_session_factory(engine)


def test_same_seed_same_rows(demo_factory: sessionmaker[Session], tmp_path: Path) -> None:
    other = sqlite_factory(tmp_path / "other.db")
    load_demo_data(other, accounts=DEMO_SIZE, now=NOW)
    first, second = dump(demo_factory), dump(other)
    assert all(first[name] for name in DUMPED)
    assert first == second


def test_another_seed_other_rows(demo_factory: sessionmaker[Session], tmp_path: Path) -> None:
    other = sqlite_factory(tmp_path / "other.db")
    load_demo_data(other, accounts=DEMO_SIZE, now=NOW, seed=7)
    assert dump(demo_factory)["accounts"] != dump(other)["accounts"]


def test_counts_and_idempotence(session_factory: sessionmaker[Session]) -> None:
    result = load_demo_data(session_factory, accounts=1000, now=NOW)
    assert result.loaded and result.accounts == 1000
    with session_factory() as s:
        rows = count_rows(s)
        assert rows["accounts"] == 1000
        assert rows["bills"] == 12 * 1000
        assert rows["outage_notices"] >= 4
    again = load_demo_data(session_factory, accounts=1000, now=NOW)
    assert not again.loaded
    with session_factory() as s:
        assert count_rows(s) == rows


def test_realistic_values(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory() as s:
        accounts = s.scalars(select(Account)).all()
        assert all(a.account_no.isdigit() and len(a.account_no) == 10 for a in accounts)
        assert {a.city for a in accounts} <= set(REGIONS)
        assert all(a.county in REGIONS[a.city][2] for a in accounts)
        assert {a.area_type for a in accounts} == {"urban", "rural", "remote"}
        assert {a.category for a in accounts} == {"居民", "非居民"}
        phones = s.scalars(select(CustomerPhone.phone)).all()
        assert all(p.isdigit() and len(p) == 11 and p[0] == "1" for p in phones)
        names = s.scalars(select(Customer.name)).all()
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in n) for n in names)
        periods = s.scalars(select(Bill.period).distinct()).all()
        assert len(periods) == 12 and max(periods) == "2025-05"
        unpaid_overdue = s.scalar(
            select(func.count(func.distinct(Bill.account_no))).where(
                Bill.paid.is_(False), Bill.due_date < NOW.date()
            )
        )
        assert unpaid_overdue and unpaid_overdue > 3  # some generated arrears too


def test_fixed_accounts_present(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory() as s:
        for account_no in DEMO_ACCOUNTS:
            summary = svc.account_summary(s, account_no=account_no, today=NOW.date(), now=NOW)
            assert summary is not None, account_no
        assert len(svc.accounts_for_phone(s, phone=DEMO_PHONE)) == 1


def test_refresh_makes_the_demo_outage_current_again(
    demo_factory: sessionmaker[Session],
) -> None:
    later = NOW + timedelta(days=3)
    with demo_factory() as s:
        assert svc.outages_for_account(s, account_no=DEMO_PLANNED_OUTAGE, at=later) == []
    refresh_demo_outages(demo_factory, now=later)
    with demo_factory() as s:
        current = svc.outages_for_account(s, account_no=DEMO_PLANNED_OUTAGE, at=later)
        assert [o.kind for o in current] == ["planned"]
