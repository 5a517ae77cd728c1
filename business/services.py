"""Service functions of the business core.

All functions are keyword-only and take a ``Session``. Reads return frozen dataclasses from
:mod:`business.infos`. Writes flush but never commit: the caller owns the transaction (see
:func:`business.db.session_scope`). Creates that carry an id or number are idempotent:
applying the same create twice is a no-op; a different create under the same id/number is a
:class:`~business.errors.Conflict`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from business import billing, workorders
from business.errors import Conflict, InvalidInput, NotFound
from business.infos import (
    AccountSummary,
    BillInfo,
    CallbackInfo,
    CallRecordInfo,
    OutageInfo,
    Page,
    TransitionInfo,
    WorkOrderDetail,
    WorkOrderInfo,
)
from business.models import (
    CALLBACK_STATUSES,
    OUTAGE_KINDS,
    REPAIR,
    WORK_ORDER_TYPES,
    Account,
    Bill,
    CallbackRequest,
    CallRecord,
    Customer,
    CustomerPhone,
    EmergencyAnnouncement,
    Feeder,
    OutageArea,
    OutageFeeder,
    OutageNotice,
    TransformerArea,
    WorkOrder,
    WorkOrderTransition,
)
from business.workorders import IllegalTransition

__all__ = [
    "AccountSummary",
    "BillInfo",
    "CallRecordInfo",
    "CallbackInfo",
    "IllegalTransition",
    "OutageInfo",
    "Page",
    "TransitionInfo",
    "WorkOrderDetail",
    "WorkOrderInfo",
    "account_summary",
    "accounts_for_phone",
    "clear_emergency_announcement",
    "create_callback_request",
    "create_outage_notice",
    "create_work_order",
    "get_call_record",
    "get_emergency_announcement",
    "get_work_order",
    "list_call_records",
    "list_callback_requests",
    "list_outages",
    "list_work_orders",
    "normalize_phone",
    "open_repair_order",
    "outages_for_account",
    "restore_outage",
    "set_emergency_announcement",
    "transition_work_order",
    "upsert_call_record",
]

MAX_PAGE = 500
ACCOUNT_NO = re.compile(r"\d{10}")
CALL_RECORD_FIELDS = frozenset(c.key for c in CallRecord.__table__.columns)
CALL_RECORD_TIMES = ("started_at", "answered_at", "ended_at")
CALL_RECORD_LISTS = ("ivr_path", "keys", "prompts", "speech")


# --- value helpers ----------------------------------------------------------------------


def as_utc(value: datetime | str, name: str = "time") -> datetime:
    """An aware UTC datetime from a datetime or an ISO-8601 string (naive is refused)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"时间格式错误（{name}）：{value}") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(f"时间必须带时区（{name}）：{value!r}")
    return value.astimezone(UTC)


def normalize_phone(phone: str) -> str:
    """Digits only, without the +86 / 0086 country code or a trunk 0 before a mobile."""
    digits = re.sub(r"\D", "", phone or "")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) == 12 and digits.startswith("01"):
        digits = digits[1:]
    return digits


def _page_bounds(offset: int, limit: int) -> None:
    if offset < 0:
        raise InvalidInput("offset 不能为负数")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit 必须在 1 到 {MAX_PAGE} 之间")


def _page(session: Session, query: Select[Any], offset: int, limit: int) -> tuple[list, int]:
    _page_bounds(offset, limit)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = list(session.scalars(query.offset(offset).limit(limit)))
    return rows, int(total or 0)


# --- accounts, bills, outages -----------------------------------------------------------


def accounts_for_phone(session: Session, *, phone: str) -> list[str]:
    """The account numbers whose customer has this phone number, sorted."""
    number = normalize_phone(phone)
    if not number:
        return []
    query = (
        select(Account.account_no)
        .join(CustomerPhone, CustomerPhone.customer_id == Account.customer_id)
        .where(CustomerPhone.phone == number)
        .distinct()
        .order_by(Account.account_no)
    )
    return list(session.scalars(query))


def account_summary(
    session: Session, *, account_no: str, today: date, now: datetime
) -> AccountSummary | None:
    """Balance, arrears with the late fee, the latest bill and current outages."""
    row = session.execute(
        select(Account, Customer.name)
        .join(Customer, Customer.id == Account.customer_id)
        .where(Account.account_no == account_no)
    ).first()
    if row is None:
        return None
    account, customer_name = row
    bills = list(session.scalars(select(Bill).where(Bill.account_no == account_no)))
    bills.sort(key=lambda b: b.period)
    unpaid = [billing.UnpaidBill(b.period, b.amount, b.due_date) for b in bills if not b.paid]
    arrears = billing.compute_arrears(unpaid, category=account.category, today=today)
    return AccountSummary(
        account_no=account.account_no,
        customer_name=customer_name,
        address=account.address,
        region=f"{account.city}{account.county}",
        area_type=account.area_type,
        category=account.category,
        balance=account.balance,
        arrears=arrears.arrears,
        late_fee=arrears.late_fee,
        amount_due=arrears.amount_due,
        latest_bill=_bill_info(bills[-1]) if bills else None,
        outages=outages_for_account(session, account_no=account_no, at=now),
        city=account.city,
        county=account.county,
    )


def _bill_info(bill: Bill) -> BillInfo:
    return BillInfo(
        period=bill.period,
        kwh=bill.kwh,
        amount=bill.amount,
        paid=bill.paid,
        due_date=bill.due_date,
        paid_date=bill.paid_date,
    )


def _current(at: datetime) -> Any:
    """Notices in force at ``at``: started, not restored, and before the expected restore
    time (fault notices stay in force past it until they are restored)."""
    return (
        (OutageNotice.start <= at)
        & or_(OutageNotice.restored_at.is_(None), OutageNotice.restored_at > at)
        & or_(OutageNotice.expected_restore > at, OutageNotice.kind == "fault")
    )


def outages_for_account(session: Session, *, account_no: str, at: datetime) -> list[OutageInfo]:
    """Current outage notices listing the account's feeder or transformer area."""
    at = as_utc(at, "at")
    grid = session.execute(
        select(Account.transformer_area_id, TransformerArea.feeder_id)
        .join(TransformerArea, TransformerArea.id == Account.transformer_area_id)
        .where(Account.account_no == account_no)
    ).first()
    if grid is None:
        return []
    area_id, feeder_id = grid
    by_feeder = select(OutageFeeder.outage_id).where(OutageFeeder.feeder_id == feeder_id)
    by_area = select(OutageArea.outage_id).where(OutageArea.transformer_area_id == area_id)
    query = (
        select(OutageNotice)
        .where(or_(OutageNotice.id.in_(by_feeder), OutageNotice.id.in_(by_area)))
        .where(_current(at))
        .order_by(OutageNotice.start, OutageNotice.id)
    )
    return [_outage_info(session, n) for n in session.scalars(query)]


def list_outages(session: Session, *, at: datetime | None = None) -> list[OutageInfo]:
    """Every notice in force at ``at`` (all notices when ``at`` is None), newest first."""
    query = select(OutageNotice).order_by(OutageNotice.start.desc(), OutageNotice.id.desc())
    if at is not None:
        query = query.where(_current(as_utc(at, "at")))
    return [_outage_info(session, n) for n in session.scalars(query)]


def _outage_info(session: Session, notice: OutageNotice) -> OutageInfo:
    feeders = session.scalars(
        select(Feeder.name)
        .join(OutageFeeder, OutageFeeder.feeder_id == Feeder.id)
        .where(OutageFeeder.outage_id == notice.id)
        .order_by(Feeder.id)
    )
    areas = session.scalars(
        select(TransformerArea.name)
        .join(OutageArea, OutageArea.transformer_area_id == TransformerArea.id)
        .where(OutageArea.outage_id == notice.id)
        .order_by(TransformerArea.id)
    )
    return OutageInfo(
        id=notice.id,
        kind=notice.kind,
        start=notice.start,
        expected_restore=notice.expected_restore,
        reason=notice.reason,
        area=notice.area,
        restored_at=notice.restored_at,
        feeders=tuple(feeders),
        transformer_areas=tuple(areas),
    )


def create_outage_notice(
    session: Session,
    *,
    kind: str,
    start: datetime,
    expected_restore: datetime,
    reason: str,
    area: str,
    feeder_ids: Iterable[int] = (),
    transformer_area_ids: Iterable[int] = (),
) -> OutageInfo:
    if kind not in OUTAGE_KINDS:
        raise InvalidInput(f"未知的停电类型：{kind}")
    feeder_ids, area_ids = sorted(set(feeder_ids)), sorted(set(transformer_area_ids))
    if not feeder_ids and not area_ids:
        raise InvalidInput("停电公告必须至少包含一条线路或一个台区")
    start, expected_restore = as_utc(start, "start"), as_utc(expected_restore, "restore")
    if expected_restore <= start:
        raise InvalidInput("预计送电时间必须晚于停电开始时间")
    notice = OutageNotice(
        kind=kind, start=start, expected_restore=expected_restore, reason=reason, area=area
    )
    notice.feeders = [OutageFeeder(feeder_id=i) for i in feeder_ids]
    notice.transformer_areas = [OutageArea(transformer_area_id=i) for i in area_ids]
    session.add(notice)
    session.flush()
    return _outage_info(session, notice)


def restore_outage(session: Session, *, id: int, at: datetime) -> OutageInfo:
    notice = session.get(OutageNotice, id)
    if notice is None:
        raise NotFound(f"停电公告不存在：{id}")
    notice.restored_at = as_utc(at, "at")
    session.flush()
    return _outage_info(session, notice)


# --- work orders ------------------------------------------------------------------------


def _order_info(order: WorkOrder) -> WorkOrderInfo:
    return WorkOrderInfo(
        number=order.number,
        type=order.type,
        status=order.status,
        created_at=order.created_at,
        account_no=order.account_no,
        fault_kind=order.fault_kind,
        urgent=order.urgent,
        contact_phone=order.contact_phone,
        description=order.description,
        source_call_id=order.source_call_id,
        arrival_deadline=order.arrival_deadline,
        created_by=order.created_by,
    )


def open_repair_order(session: Session, *, account_no: str) -> WorkOrderInfo | None:
    """The newest 故障报修 order of the account not yet 处理完成/回访/归档/撤销."""
    order = session.scalars(
        select(WorkOrder)
        .where(WorkOrder.account_no == account_no, WorkOrder.type == REPAIR)
        .where(WorkOrder.status.not_in(workorders.CLOSED_FOR_REPAIR))
        .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
        .limit(1)
    ).first()
    return _order_info(order) if order else None


def create_work_order(
    session: Session,
    *,
    number: str,
    account_no: str | None,
    type: str,
    created_by: str,
    fault_kind: str | None = None,
    urgent: bool = False,
    contact_phone: str | None = None,
    description: str = "",
    source_call_id: str | None = None,
    created_at: datetime | str | None = None,
) -> WorkOrderInfo:
    """Open a work order in status 受理 (idempotent by ``number``)."""
    check_work_order_fields(number, type)
    existing = session.scalars(select(WorkOrder).where(WorkOrder.number == number)).first()
    if existing is not None:
        return _same_order(existing, account_no=account_no, type=type, call=source_call_id)
    account = _account_or_none(session, account_no)
    at = as_utc(created_at, "created_at") if created_at else datetime.now(UTC)
    deadline = None
    if type == REPAIR and account is not None:
        deadline = workorders.arrival_deadline(at, account.area_type)
    order = WorkOrder(
        number=number,
        type=type,
        status=workorders.ACCEPTED,
        fault_kind=fault_kind,
        urgent=bool(urgent),
        contact_phone=normalize_phone(contact_phone) if contact_phone else None,
        description=description or "",
        account_no=account_no,
        source_call_id=source_call_id,
        arrival_deadline=deadline,
        created_by=created_by,
        created_at=at,
    )
    order.transitions.append(
        WorkOrderTransition(from_status=None, to_status=order.status, at=at, actor=created_by)
    )
    session.add(order)
    session.flush()
    return _order_info(order)


def check_work_order_fields(number: Any, type: Any) -> None:
    if not isinstance(number, str) or not number.isdigit() or len(number) > 20:
        raise InvalidInput(f"工单号必须为数字：{number!r}")
    if type not in WORK_ORDER_TYPES:
        raise InvalidInput(f"未知的工单类型：{type}")


def _same_order(
    existing: WorkOrder, *, account_no: str | None, type: str, call: str | None
) -> WorkOrderInfo:
    same = (existing.account_no, existing.type, existing.source_call_id)
    if same != (account_no, type, call):
        raise Conflict(f"工单号 {existing.number} 已被另一张工单使用")
    return _order_info(existing)


def _account_or_none(session: Session, account_no: str | None) -> Account | None:
    if account_no is None:
        return None
    account = session.get(Account, account_no)
    if account is None:
        raise NotFound(f"户号不存在：{account_no}")
    return account


def transition_work_order(
    session: Session,
    *,
    number: str,
    to_status: str,
    actor: str,
    reason: str | None = None,
    at: datetime | None = None,
) -> WorkOrderInfo:
    """Move an order along the status flow; raises IllegalTransition (Chinese reason)."""
    order = session.scalars(
        select(WorkOrder).where(WorkOrder.number == number).with_for_update()
    ).first()
    if order is None:
        raise NotFound(f"工单不存在：{number}")
    if not actor:
        raise InvalidInput("必须注明操作人")
    workorders.check_transition(order.status, to_status, reason)
    when = as_utc(at, "at") if at else datetime.now(UTC)
    order.transitions.append(
        WorkOrderTransition(
            from_status=order.status, to_status=to_status, at=when, actor=actor, reason=reason
        )
    )
    order.status = to_status
    session.flush()
    return _order_info(order)


def get_work_order(session: Session, *, number: str) -> WorkOrderDetail | None:
    order = session.scalars(select(WorkOrder).where(WorkOrder.number == number)).first()
    if order is None:
        return None
    transitions = [
        TransitionInfo(t.from_status, t.to_status, t.at, t.actor, t.reason)
        for t in order.transitions
    ]
    return WorkOrderDetail(order=_order_info(order), transitions=transitions)


def list_work_orders(
    session: Session,
    *,
    status: str | None = None,
    account_no: str | None = None,
    type: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[WorkOrderInfo]:
    """Work orders, newest first, filtered by status / account / type."""
    query = select(WorkOrder).order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
    if status is not None:
        query = query.where(WorkOrder.status == status)
    if account_no is not None:
        query = query.where(WorkOrder.account_no == account_no)
    if type is not None:
        query = query.where(WorkOrder.type == type)
    rows, total = _page(session, query, offset, limit)
    return Page([_order_info(o) for o in rows], total, offset, limit)


# --- callbacks --------------------------------------------------------------------------


def _callback_info(req: CallbackRequest) -> CallbackInfo:
    return CallbackInfo(
        id=req.id,
        phone=req.phone,
        account_no=req.account_no,
        reason=req.reason,
        source_call_id=req.source_call_id,
        created_at=req.created_at,
        status=req.status,
    )


def create_callback_request(
    session: Session,
    *,
    id: str,
    phone: str,
    account_no: str | None,
    reason: str,
    source_call_id: str | None,
    created_at: datetime | str,
) -> CallbackInfo:
    """Store a callback request in status 待回拨 (idempotent by ``id``)."""
    if not id:
        raise InvalidInput("回拨请求缺少编号")
    number = normalize_phone(phone)
    if not number:
        raise InvalidInput(f"回拨电话号码无效：{phone!r}")
    existing = session.get(CallbackRequest, id)
    if existing is not None:
        if existing.phone != number:
            raise Conflict(f"回拨请求 {id} 已存在且号码不同")
        return _callback_info(existing)
    req = CallbackRequest(
        id=id,
        phone=number,
        account_no=account_no,
        reason=reason or "",
        source_call_id=source_call_id,
        created_at=as_utc(created_at, "created_at"),
        status=CALLBACK_STATUSES[0],
    )
    session.add(req)
    session.flush()
    return _callback_info(req)


def list_callback_requests(
    session: Session, *, status: str | None = None, offset: int = 0, limit: int = 50
) -> Page[CallbackInfo]:
    query = select(CallbackRequest).order_by(
        CallbackRequest.created_at.desc(), CallbackRequest.id.desc()
    )
    if status is not None:
        query = query.where(CallbackRequest.status == status)
    rows, total = _page(session, query, offset, limit)
    return Page([_callback_info(r) for r in rows], total, offset, limit)


# --- call records -----------------------------------------------------------------------


def check_call_record(record: dict[str, Any]) -> dict[str, Any]:
    """Validate a call-record snapshot; returns it with times as aware UTC datetimes."""
    unknown = set(record) - CALL_RECORD_FIELDS
    if unknown:
        raise InvalidInput(f"通话记录含未知字段：{', '.join(sorted(unknown))}")
    if not record.get("id"):
        raise InvalidInput("通话记录缺少 id")
    if not record.get("started_at"):
        raise InvalidInput("通话记录缺少 started_at")
    clean = dict(record)
    for name in CALL_RECORD_TIMES:
        if clean.get(name) is not None:
            clean[name] = as_utc(clean[name], name)
    for name in CALL_RECORD_LISTS:
        value = clean.get(name)
        if value is not None and not isinstance(value, list | tuple):
            raise InvalidInput(f"通话记录字段 {name} 必须是列表")
        clean[name] = list(value or [])
    return clean


def upsert_call_record(session: Session, *, record: dict[str, Any]) -> CallRecordInfo:
    """Insert or replace a call record with this full snapshot (keyed by ``id``)."""
    clean = check_call_record(record)
    row = session.get(CallRecord, clean["id"])
    if row is None:
        row = CallRecord(id=clean["id"])
        session.add(row)
    for name in CALL_RECORD_FIELDS - {"id"}:
        setattr(row, name, clean.get(name))
    session.flush()
    return _call_info(row)


def _call_info(row: CallRecord) -> CallRecordInfo:
    values = {name: getattr(row, name) for name in CALL_RECORD_FIELDS}
    for name in CALL_RECORD_LISTS:
        values[name] = list(values[name] or [])
    return CallRecordInfo(**values)


def get_call_record(session: Session, *, id: str) -> CallRecordInfo | None:
    row = session.get(CallRecord, id)
    return _call_info(row) if row else None


def list_call_records(
    session: Session,
    *,
    offset: int = 0,
    limit: int = 50,
    caller: str | None = None,
    account_no: str | None = None,
    active: bool | None = None,
) -> Page[CallRecordInfo]:
    """Call history, newest first. ``active=True``: calls not yet ended."""
    query = select(CallRecord).order_by(CallRecord.started_at.desc(), CallRecord.id.desc())
    if caller is not None:
        query = query.where(CallRecord.caller == caller)
    if account_no is not None:
        query = query.where(CallRecord.account_no == account_no)
    if active is not None:
        ended = CallRecord.ended_at.is_(None)
        query = query.where(ended if active else ~ended)
    rows, total = _page(session, query, offset, limit)
    return Page([_call_info(r) for r in rows], total, offset, limit)


# --- emergency announcement -------------------------------------------------------------

ANNOUNCEMENT_ID = 1


def get_emergency_announcement(session: Session, *, now: datetime) -> str | None:
    """The announcement text when one is set and not expired at ``now``."""
    row = session.get(EmergencyAnnouncement, ANNOUNCEMENT_ID)
    if row is None:
        return None
    if row.expires_at is not None and row.expires_at <= as_utc(now, "now"):
        return None
    return row.text


def set_emergency_announcement(
    session: Session, *, text: str, expires_at: datetime | None, now: datetime
) -> None:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("紧急公告内容不能为空")
    now = as_utc(now, "now")
    expires = as_utc(expires_at, "expires_at") if expires_at is not None else None
    if expires is not None and expires <= now:
        raise InvalidInput("紧急公告的失效时间必须晚于当前时间")
    row = session.get(EmergencyAnnouncement, ANNOUNCEMENT_ID)
    if row is None:
        row = EmergencyAnnouncement(id=ANNOUNCEMENT_ID)
        session.add(row)
    row.text, row.set_at, row.expires_at = text, now, expires
    session.flush()


def clear_emergency_announcement(session: Session) -> None:
    session.execute(delete(EmergencyAnnouncement))
    session.flush()


def is_account_no(value: str) -> bool:
    return bool(ACCOUNT_NO.fullmatch(value or ""))
