"""Frozen plain values returned by the service functions (never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class BillInfo:
    period: str  # "YYYY-MM"
    kwh: Decimal
    amount: Decimal
    paid: bool
    due_date: date
    paid_date: date | None = None


@dataclass(frozen=True)
class OutageInfo:
    id: int
    kind: str  # "planned" | "fault"
    start: datetime
    expected_restore: datetime
    reason: str
    area: str
    restored_at: datetime | None = None
    feeders: tuple[str, ...] = ()
    transformer_areas: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountSummary:
    account_no: str
    customer_name: str
    address: str
    region: str  # 盟市 + 旗县, e.g. "呼和浩特市赛罕区"
    area_type: str  # urban | rural | remote
    category: str  # 居民 | 非居民
    balance: Decimal  # prepaid balance
    arrears: Decimal  # unpaid principal already overdue
    late_fee: Decimal
    amount_due: Decimal  # every unpaid bill + late fee
    latest_bill: BillInfo | None
    outages: list[OutageInfo]
    city: str = ""
    county: str = ""


@dataclass(frozen=True)
class WorkOrderInfo:
    number: str
    type: str
    status: str
    created_at: datetime
    account_no: str | None = None
    fault_kind: str | None = None
    urgent: bool = False
    contact_phone: str | None = None
    description: str = ""
    source_call_id: str | None = None
    arrival_deadline: datetime | None = None
    created_by: str = ""


@dataclass(frozen=True)
class TransitionInfo:
    from_status: str | None
    to_status: str
    at: datetime
    actor: str
    reason: str | None


@dataclass(frozen=True)
class WorkOrderDetail:
    order: WorkOrderInfo
    transitions: list[TransitionInfo]


@dataclass(frozen=True)
class CallbackInfo:
    id: str
    phone: str
    account_no: str | None
    reason: str
    source_call_id: str | None
    created_at: datetime
    status: str


@dataclass(frozen=True)
class CallRecordInfo:
    id: str
    started_at: datetime
    caller: str | None = None
    callee: str | None = None
    sip_call_id: str | None = None
    media_leg_id: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    ivr_path: list[Any] = field(default_factory=list)
    keys: list[Any] = field(default_factory=list)
    prompts: list[Any] = field(default_factory=list)
    speech: list[Any] = field(default_factory=list)
    result: str | None = None
    hangup_by: str | None = None
    sip_cause: int | None = None
    recording_path: str | None = None
    account_no: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int
