"""Deterministic demo data: Inner Mongolia accounts, grid, bills, outages and work orders.

``load_demo_data(factory, accounts=10_000, now=...)`` fills an empty database (it does
nothing when accounts exist). The same seed and ``now`` give the same rows. Rows go in with
core ``executemany`` batches in one transaction, so 10,000 accounts take seconds and
1,000,000 are feasible for benchmarks.

Fixed accounts, always present (see ``DEMO_ACCOUNTS``), each on its own feeder so random
outages never touch them; their outages are notices 1 (planned) and 2 (fault), which
:func:`refresh_demo_outages` moves to be current again on a later start.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from business import demo_reference as ref
from business import workorders as wf
from business.billing import to_money
from business.journal import CHINA_TZ
from business.models import (
    Account,
    Base,
    Bill,
    Customer,
    CustomerPhone,
    Feeder,
    OutageArea,
    OutageFeeder,
    OutageNotice,
    Payment,
    Substation,
    TransformerArea,
    WorkOrder,
    WorkOrderTransition,
)

log = logging.getLogger(__name__)

DEMO_SEED = 95598
BATCH = 5_000
FIRST_GENERATED_SEQ = 100  # account sequences below this are reserved for fixed accounts

DEMO_PAID = "5010000001"
DEMO_ARREARS = "5010000002"
DEMO_NONRES_ARREARS = "5020000003"
DEMO_PLANNED_OUTAGE = "5030000004"
DEMO_OPEN_REPAIR = "5010000005"
DEMO_FAULT_OUTAGE = "5040000006"
DEMO_ACCOUNTS: dict[str, str] = {
    DEMO_PAID: "居民，电费已结清，有预存余额（呼和浩特市赛罕区）",
    DEMO_ARREARS: "居民，近三个月欠费，产生违约金（呼和浩特市新城区）",
    DEMO_NONRES_ARREARS: "非居民，跨年欠费（上年十一月起未缴），违约金按2‰/3‰计（包头市昆都仑区）",
    DEMO_PLANNED_OUTAGE: "居民，所在台区正在计划停电（鄂尔多斯市东胜区）",
    DEMO_OPEN_REPAIR: "居民，有一张未完成的故障报修工单（呼和浩特市玉泉区）",
    DEMO_FAULT_OUTAGE: "居民，所在线路故障停电抢修中（赤峰市红山区）",
}
DEMO_PHONE = "13904710001"  # maps to exactly one account: DEMO_PAID
DEMO_SHARED_PHONE = "13904710002"  # one customer with two accounts: arrears + non-residential
DEMO_WORK_ORDER = "200101000001"  # the open repair order of DEMO_OPEN_REPAIR
PLANNED_DEMO_OUTAGE_ID = 1
FAULT_DEMO_OUTAGE_ID = 2

RESIDENTIAL_PRICE = Decimal("0.4150")
BUSINESS_PRICE = Decimal("0.6200")


@dataclass(frozen=True)
class DemoResult:
    loaded: bool
    accounts: int
    bills: int
    outages: int
    seconds: float


@dataclass(frozen=True)
class FixedAccount:
    account_no: str
    city: str
    county: str
    category: str
    customer: str
    phones: tuple[str, ...]
    unpaid_from: int | None  # unpaid bills: periods from this many months back; None: paid up


FIXED = (
    FixedAccount(DEMO_PAID, "呼和浩特市", "赛罕区", "居民", "张建国", (DEMO_PHONE,), None),
    FixedAccount(DEMO_ARREARS, "呼和浩特市", "新城区", "居民", "其其格", (DEMO_SHARED_PHONE,), 3),
    FixedAccount(
        DEMO_NONRES_ARREARS, "包头市", "昆都仑区", "非居民", "其其格", (DEMO_SHARED_PHONE,), -1
    ),
    FixedAccount(
        DEMO_PLANNED_OUTAGE, "鄂尔多斯市", "东胜区", "居民", "王秀英", ("13904770004",), None
    ),
    FixedAccount(
        DEMO_OPEN_REPAIR, "呼和浩特市", "玉泉区", "居民", "巴特尔", ("13904710005",), None
    ),
    FixedAccount(DEMO_FAULT_OUTAGE, "赤峰市", "红山区", "居民", "李桂兰", ("13904760006",), None),
)


# --- the rows being built ---------------------------------------------------------------


@dataclass
class Rows:
    """Rows per table, flushed to the database in batches."""

    conn: Connection
    pending: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: Table, row: dict[str, Any]) -> None:
        batch = self.pending.setdefault(table, [])
        batch.append(row)
        if len(batch) >= BATCH:
            self.flush_all()

    def flush_all(self) -> None:
        """Insert every pending row, parents before children (foreign keys are checked)."""
        for table in Base.metadata.sorted_tables:
            batch = self.pending.get(table)
            if batch:
                self.conn.execute(table.insert(), batch)
                self.counts[table.name] = self.counts.get(table.name, 0) + len(batch)
                self.pending[table] = []


@dataclass
class Area:
    id: int
    feeder_id: int
    name: str
    area_type: str
    city: str
    county: str


@dataclass
class Ids:
    customer: int = 0
    substation: int = 0
    feeder: int = 0
    area: int = 0
    outage: int = 2  # 1 and 2 are the fixed demo outages
    order: int = 0

    def next(self, name: str) -> int:
        value = getattr(self, name) + 1
        setattr(self, name, value)
        return value


class Generator:
    def __init__(self, rows: Rows, rng: random.Random, now: datetime) -> None:
        self.rows, self.rng, self.now = rows, rng, now
        self.today = now.astimezone(CHINA_TZ).date()
        self.ids = Ids()
        self.periods = _periods(self.today, 12)
        self.order_candidates: list[tuple[str, str]] = []  # (account_no, area_type)

    # --- grid ---------------------------------------------------------------------------

    def substation(self, city: str, county: str, index: int) -> int:
        sid = self.ids.next("substation")
        voltage = "110千伏" if index == 0 else "35千伏"
        name = f"{voltage}{ref.short_name(county)}{ref.DIRECTIONS[index % 5]}变电站"
        self.rows.add(
            Substation.__table__, {"id": sid, "name": name, "city": city, "county": county}
        )
        return sid

    def feeder(self, substation_id: int, county: str, label: str) -> int:
        fid = self.ids.next("feeder")
        name = f"10千伏{ref.short_name(county)}{label}线"
        self.rows.add(Feeder.__table__, {"id": fid, "name": name, "substation_id": substation_id})
        return fid

    def area(self, feeder_id: int, city: str, county: str, area_type: str, n: int) -> Area:
        aid = self.ids.next("area")
        if area_type == "urban":
            name = f"{self.rng.choice(ref.COMMUNITIES)}小区{n}号台区"
        else:
            place = "嘎查" if county.endswith("旗") else "村"
            name = f"{self.rng.choice(ref.VILLAGES)}{place}{n}号台区"
        self.rows.add(
            TransformerArea.__table__,
            {"id": aid, "name": name, "feeder_id": feeder_id, "area_type": area_type},
        )
        return Area(aid, feeder_id, name, area_type, city, county)

    def area_type(self, county: str) -> str:
        if ref.is_urban_county(county) and county not in ref.REMOTE_COUNTIES:
            return "urban"
        weights = (20, 30, 50) if county in ref.REMOTE_COUNTIES else (25, 60, 15)
        return self.rng.choices(("urban", "rural", "remote"), weights)[0]

    def county_grid(self, city: str, county: str, accounts: int) -> list[Area]:
        areas: list[Area] = []
        n_areas = max(2, accounts // 120)
        for s in range(1 + accounts // 20_000):
            sid = self.substation(city, county, s)
            for f in range(self.rng.randint(2, 4)):
                label = f"{ref.DIRECTIONS[s % 5]}{ref.NUMERALS[f]}"
                fid = self.feeder(sid, county, label)
                share = max(1, n_areas // ((1 + accounts // 20_000) * 3))
                for _ in range(share):
                    areas.append(
                        self.area(fid, city, county, self.area_type(county), len(areas) + 1)
                    )
        return areas

    # --- people and accounts ------------------------------------------------------------

    def person_name(self) -> str:
        if self.rng.random() < 0.15:
            return self.rng.choice(ref.MONGOLIAN_NAMES)
        given = "".join(self.rng.choices(ref.GIVEN_CHARS, k=self.rng.choice((1, 2, 2))))
        return self.rng.choice(ref.SURNAMES) + given

    def business_name(self, city: str) -> str:
        return (
            f"{city[:2]}{self.rng.choice(ref.BUSINESS_WORDS)}{self.rng.choice(ref.BUSINESS_KINDS)}"
        )

    def phone(self) -> str:
        return self.rng.choice(ref.MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def address(self, area: Area) -> str:
        rng = self.rng
        if area.area_type == "urban":
            return (
                f"{area.city}{area.county}{rng.choice(ref.STREETS)}{rng.randint(1, 300)}号"
                f"{area.name[:2]}小区{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元"
                f"{rng.randint(1, 18)}0{rng.randint(1, 4)}室"
            )
        town = f"{rng.choice(ref.VILLAGES)}{'苏木' if area.county.endswith('旗') else '镇'}"
        village = area.name.split("嘎查")[0].split("村")[0]
        village += "嘎查" if area.county.endswith("旗") else "村"
        house = f"{rng.randint(1, 12)}组{rng.randint(1, 80)}号"
        return f"{area.city}{area.county}{town}{village}{house}"

    def customer(self, name: str, phones: tuple[str, ...]) -> int:
        cid = self.ids.next("customer")
        self.rows.add(Customer.__table__, {"id": cid, "name": name})
        for phone in phones:
            self.rows.add(CustomerPhone.__table__, {"customer_id": cid, "phone": phone})
        return cid

    def account(
        self,
        account_no: str,
        customer_id: int,
        area: Area,
        category: str,
        balance: Decimal,
        address: str,
    ) -> None:
        self.rows.add(
            Account.__table__,
            {
                "account_no": account_no,
                "customer_id": customer_id,
                "address": address,
                "city": area.city,
                "county": area.county,
                "area_type": area.area_type,
                "category": category,
                "transformer_area_id": area.id,
                "balance": balance,
            },
        )

    # --- bills --------------------------------------------------------------------------

    def kwh(self, category: str, month: int) -> Decimal:
        season = 1.4 if month in (12, 1, 2) else 1.2 if month in (7, 8) else 1.0
        low, high = (60, 350) if category == "居民" else (800, 30_000)
        return Decimal(int(self.rng.randint(low, high) * season))

    def bills(
        self, account_no: str, category: str, unpaid: set[str], pay_early: bool | None = None
    ) -> None:
        """Twelve monthly bills; ``unpaid`` periods stay unpaid. A bill not yet due is paid
        when ``pay_early`` is True, unpaid when False, and by chance (30 %) when None."""
        price = RESIDENTIAL_PRICE if category == "居民" else BUSINESS_PRICE
        for i, (period, due) in enumerate(self.periods):
            kwh = self.kwh(category, int(period[5:]))
            amount = to_money(kwh * price)
            early = self.rng.random() < 0.3 if pay_early is None else pay_early
            paid = period not in unpaid and (due < self.today or early)
            paid_date = due - timedelta(days=self.rng.randint(0, 15)) if paid else None
            if paid_date is not None and paid_date > self.today:
                paid_date = self.today
            self.rows.add(
                Bill.__table__,
                {
                    "account_no": account_no,
                    "period": period,
                    "kwh": kwh,
                    "amount": amount,
                    "paid": paid,
                    "due_date": due,
                    "paid_date": paid_date,
                },
            )
            if paid and i >= len(self.periods) - 3:
                self.payment(account_no, amount, paid_date)

    def payment(self, account_no: str, amount: Decimal, paid_date: date | None) -> None:
        assert paid_date is not None
        at = datetime(paid_date.year, paid_date.month, paid_date.day, 10, tzinfo=CHINA_TZ)
        self.rows.add(
            Payment.__table__,
            {
                "account_no": account_no,
                "amount": amount,
                "paid_at": at.astimezone(UTC),
                "channel": self.rng.choice(ref.PAY_CHANNELS),
            },
        )

    def unpaid_periods(self, months_back: int | None) -> set[str]:
        """The periods left unpaid: the last ``months_back`` overdue ones; -1 means every
        period from the previous year's November on (arrears across two years)."""
        if months_back is None:
            return set()
        if months_back < 0:
            start = f"{self.today.year - 1}-11"
            return {p for p, _ in self.periods if p >= start}
        overdue = [p for p, due in self.periods if due < self.today]
        return set(overdue[-months_back:])

    # --- outages and orders -------------------------------------------------------------

    def outage(
        self,
        oid: int,
        kind: str,
        start: datetime,
        restore: datetime,
        reason: str,
        area_text: str,
        feeders: list[int],
        areas: list[int],
    ) -> None:
        self.rows.add(
            OutageNotice.__table__,
            {
                "id": oid,
                "kind": kind,
                "start": start,
                "expected_restore": restore,
                "restored_at": None,
                "reason": reason,
                "area": area_text,
            },
        )
        for fid in feeders:
            self.rows.add(OutageFeeder.__table__, {"outage_id": oid, "feeder_id": fid})
        for aid in areas:
            self.rows.add(OutageArea.__table__, {"outage_id": oid, "transformer_area_id": aid})

    def work_order(
        self,
        number: str,
        account_no: str,
        area_type: str,
        created: datetime,
        path: list[str],
        actor: str,
        description: str,
    ) -> None:
        oid = self.ids.next("order")
        self.rows.add(
            WorkOrder.__table__,
            {
                "id": oid,
                "number": number,
                "type": "故障报修",
                "status": path[-1],
                "fault_kind": "本户停电",
                "urgent": False,
                "contact_phone": None,
                "description": description,
                "account_no": account_no,
                "source_call_id": None,
                "arrival_deadline": wf.arrival_deadline(created, area_type),
                "created_by": "ivr",
                "created_at": created,
            },
        )
        previous = None
        for step, status in enumerate(path):
            self.rows.add(
                WorkOrderTransition.__table__,
                {
                    "work_order_id": oid,
                    "from_status": previous,
                    "to_status": status,
                    "at": created + timedelta(minutes=20 * step),
                    "actor": actor if step else "ivr",
                    "reason": None,
                },
            )
            previous = status


def _periods(today: date, months: int) -> list[tuple[str, date]]:
    """The last ``months`` full months before ``today``'s month, with due dates (the 20th
    of the following month)."""
    out = []
    year, month = today.year, today.month
    for _ in range(months):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        due_year, due_month = (year + 1, 1) if month == 12 else (year, month + 1)
        out.append((f"{year:04d}-{month:02d}", date(due_year, due_month, 20)))
    return out[::-1]


def _hour_floor(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


# --- building the data set --------------------------------------------------------------


def _split_counts(rng: random.Random, total: int) -> dict[tuple[str, str], int]:
    """Accounts per (盟市, 旗县): weighted by city, districts and county cities doubled."""
    keys, weights = [], []
    for city, (_code, weight, counties) in ref.REGIONS.items():
        for county in counties:
            keys.append((city, county))
            weights.append(weight * (2 if ref.is_urban_county(county) else 1) / len(counties))
    counts = dict.fromkeys(keys, 0)
    for key in rng.choices(keys, weights, k=total):
        counts[key] += 1
    return counts


def _fixed_grid(gen: Generator) -> dict[str, Area]:
    areas = {}
    for i, fixed in enumerate(FIXED):
        sid = gen.substation(fixed.city, fixed.county, 0)
        fid = gen.feeder(sid, fixed.county, f"演示{ref.NUMERALS[i]}")
        areas[fixed.account_no] = gen.area(fid, fixed.city, fixed.county, "urban", 1)
    return areas


def _fixed_accounts(gen: Generator, areas: dict[str, Area]) -> None:
    customers: dict[str, int] = {}
    for fixed in FIXED:
        if fixed.customer not in customers:
            customers[fixed.customer] = gen.customer(fixed.customer, fixed.phones)
        area = areas[fixed.account_no]
        balance = Decimal("56.30") if fixed.account_no == DEMO_PAID else Decimal("0.00")
        street = ref.STREETS[len(customers)]
        address = f"{area.city}{area.county}{street}18号{area.name[:2]}小区3栋2单元502室"
        gen.account(
            fixed.account_no, customers[fixed.customer], area, fixed.category, balance, address
        )
        unpaid = gen.unpaid_periods(fixed.unpaid_from)
        gen.bills(fixed.account_no, fixed.category, unpaid, pay_early=not unpaid)


def _fixed_events(gen: Generator, areas: dict[str, Area]) -> None:
    planned, fault = areas[DEMO_PLANNED_OUTAGE], areas[DEMO_FAULT_OUTAGE]
    start, restore = _planned_window(gen.now)
    gen.outage(
        PLANNED_DEMO_OUTAGE_ID,
        "planned",
        start,
        restore,
        "配网改造施工",
        f"{planned.city}{planned.county}{planned.name}",
        [],
        [planned.id],
    )
    start, restore = _fault_window(gen.now)
    gen.outage(
        FAULT_DEMO_OUTAGE_ID,
        "fault",
        start,
        restore,
        ref.FAULT_REASONS[0],
        f"{fault.city}{fault.county}10千伏线路供电范围",
        [fault.feeder_id],
        [],
    )
    repair = areas[DEMO_OPEN_REPAIR]
    gen.work_order(
        DEMO_WORK_ORDER,
        DEMO_OPEN_REPAIR,
        repair.area_type,
        _hour_floor(gen.now) - timedelta(minutes=30),
        [wf.ACCEPTED, wf.DISPATCHED],
        "调度员",
        "客户来电反映本户停电",
    )


def _planned_window(now: datetime) -> tuple[datetime, datetime]:
    return _hour_floor(now) - timedelta(hours=2), _hour_floor(now) + timedelta(hours=6)


def _fault_window(now: datetime) -> tuple[datetime, datetime]:
    return _hour_floor(now) - timedelta(hours=1), _hour_floor(now) + timedelta(hours=3)


def _generated_accounts(gen: Generator, total: int) -> list[Area]:
    rng, all_areas = gen.rng, []
    seq: dict[str, int] = {}
    for (city, county), count in _split_counts(rng, total).items():
        areas = gen.county_grid(city, county, count)
        all_areas.extend(areas)
        code = ref.REGIONS[city][0]
        for _ in range(count):
            seq[code] = seq.get(code, FIRST_GENERATED_SEQ - 1) + 1
            _one_account(gen, f"5{code}{seq[code]:07d}", rng.choice(areas))
    return all_areas


def _one_account(gen: Generator, account_no: str, area: Area) -> None:
    rng = gen.rng
    category = "居民" if rng.random() < 0.88 else "非居民"
    name = gen.person_name() if category == "居民" else gen.business_name(area.city)
    phones = (gen.phone(),) if rng.random() < 0.8 else (gen.phone(), gen.phone())
    if gen.ids.customer and rng.random() < 0.03:
        customer_id = gen.ids.customer  # the previous customer also holds this account
    else:
        customer_id = gen.customer(name, phones)
    roll = rng.random()
    unpaid = gen.unpaid_periods(rng.randint(1, 4)) if roll < 0.07 else set()
    balance = (
        Decimal("0.00") if unpaid or roll > 0.4 else to_money(Decimal(rng.randint(0, 30000)) / 100)
    )
    gen.account(account_no, customer_id, area, category, balance, gen.address(area))
    gen.bills(account_no, category, unpaid)
    if rng.random() < 0.01:
        gen.order_candidates.append((account_no, area.area_type))


def _generated_events(gen: Generator, areas: list[Area], total: int) -> None:
    """Planned outages (half current, half in the coming week) and archived orders."""
    for i in range(max(4, total // 2500)):
        _planned_outage(gen, areas, current=i % 2 == 0)
    _history_orders(gen)


def _planned_outage(gen: Generator, areas: list[Area], *, current: bool) -> None:
    rng, base = gen.rng, _hour_floor(gen.now)
    first = rng.choice(areas)
    same_feeder = [a for a in areas if a.feeder_id == first.feeder_id]
    chosen = rng.sample(same_feeder, k=min(len(same_feeder), rng.randint(1, 3)))
    if current:
        start = base - timedelta(hours=rng.randint(1, 3))
    else:
        start = base + timedelta(days=rng.randint(1, 7), hours=rng.randint(0, 8))
    restore = start + timedelta(hours=rng.randint(4, 9))
    by_feeder = rng.random() < 0.3
    place = f"{first.city}{first.county}"
    area_text = place + ("10千伏线路供电范围" if by_feeder else "、".join(a.name for a in chosen))
    gen.outage(
        gen.ids.next("outage"),
        "planned",
        start,
        restore,
        rng.choice(ref.PLANNED_REASONS),
        area_text,
        [first.feeder_id] if by_feeder else [],
        [] if by_feeder else [a.id for a in chosen],
    )


def _history_orders(gen: Generator) -> None:
    """Archived repair orders of the past quarter (sequences from 900000, never allocated)."""
    rng = gen.rng
    path = [wf.ACCEPTED, wf.DISPATCHED, wf.ARRIVED, wf.RESOLVED, wf.RETURN_VISIT, wf.ARCHIVED]
    for i, (account_no, area_type) in enumerate(gen.order_candidates[:5000]):
        created = _hour_floor(gen.now) - timedelta(
            days=rng.randint(2, 90), hours=rng.randint(0, 23)
        )
        number = f"{created.astimezone(CHINA_TZ):%y%m%d}{900000 + i:06d}"
        gen.work_order(
            number, account_no, area_type, created, path, "抢修班组", "客户来电反映停电，已修复"
        )


# --- entry points -----------------------------------------------------------------------


def has_data(session: Session) -> bool:
    return session.scalar(select(Account.account_no).limit(1)) is not None


def load_demo_data(
    session_factory: sessionmaker[Session],
    *,
    accounts: int = 10_000,
    now: datetime | None = None,
    seed: int = DEMO_SEED,
) -> DemoResult:
    """Fill an empty database with demo data; does nothing when accounts exist."""
    if accounts < 0:
        raise ValueError("accounts must be >= 0")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    started = time.perf_counter()
    with session_factory.begin() as session:
        if has_data(session):
            log.info("demo data: database already has accounts, nothing loaded")
            return DemoResult(False, 0, 0, 0, 0.0)
        rows = Rows(session.connection())
        gen = Generator(rows, random.Random(seed), now)
        fixed_areas = _fixed_grid(gen)
        _fixed_accounts(gen, fixed_areas)
        _fixed_events(gen, fixed_areas)
        areas = _generated_accounts(gen, max(0, accounts - len(FIXED)))
        _generated_events(gen, areas, accounts)
        rows.flush_all()
        _sync_sequences(rows.conn)
    counts = rows.counts
    result = DemoResult(
        True,
        counts.get("accounts", 0),
        counts.get("bills", 0),
        counts.get("outage_notices", 0),
        time.perf_counter() - started,
    )
    log.info("demo data loaded: %s", result)
    return result


def _sync_sequences(conn: Connection) -> None:
    """PostgreSQL: move id sequences past the explicit ids the bulk insert used."""
    if conn.dialect.name != "postgresql":
        return
    for table in (
        "customers",
        "substations",
        "feeders",
        "transformer_areas",
        "outage_notices",
        "work_orders",
    ):
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
        )


def refresh_demo_outages(session_factory: sessionmaker[Session], *, now: datetime) -> None:
    """Make the two fixed demo outages current again relative to ``now``."""
    with session_factory.begin() as session:
        for oid, (start, restore) in (
            (PLANNED_DEMO_OUTAGE_ID, _planned_window(now)),
            (FAULT_DEMO_OUTAGE_ID, _fault_window(now)),
        ):
            session.execute(
                update(OutageNotice)
                .where(OutageNotice.id == oid)
                .values(start=start, expected_restore=restore, restored_at=None)
            )


def count_rows(session: Session) -> dict[str, int]:
    tables = (Account, Bill, Customer, CustomerPhone, OutageNotice, WorkOrder, Payment)
    return {
        m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0 for m in tables
    }


def main(argv: list[str] | None = None) -> int:
    from business.db import create_schema, make_engine, make_session_factory

    parser = argparse.ArgumentParser(prog="python -m business.demo", description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    engine = make_engine(args.database_url)
    create_schema(engine)
    result = load_demo_data(make_session_factory(engine), accounts=args.accounts, seed=args.seed)
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
