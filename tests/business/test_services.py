"""Service functions against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from business import billing
from business import services as svc
from business.demo import (
    DEMO_ARREARS,
    DEMO_FAULT_OUTAGE,
    DEMO_NONRES_ARREARS,
    DEMO_OPEN_REPAIR,
    DEMO_PAID,
    DEMO_PHONE,
    DEMO_PLANNED_OUTAGE,
    DEMO_SHARED_PHONE,
    DEMO_WORK_ORDER,
)
from business.errors import Conflict, InvalidInput, NotFound
from business.models import Account, Bill, TransformerArea, WorkOrderTransition
from business.workorders import IllegalTransition
from tests.business.conftest import NOW

TODAY = NOW.date()


def grid_of(session: Session, account_no: str) -> tuple[int, int]:
    row = session.execute(
        select(Account.transformer_area_id, TransformerArea.feeder_id)
        .join(TransformerArea)
        .where(Account.account_no == account_no)
    ).one()
    return row[0], row[1]


# --- accounts and bills -----------------------------------------------------------------


def test_phone_lookup(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory() as s:
        assert svc.accounts_for_phone(s, phone=DEMO_PHONE) == [DEMO_PAID]
        assert svc.accounts_for_phone(s, phone=f"+86 {DEMO_PHONE}") == [DEMO_PAID]
        assert svc.accounts_for_phone(s, phone=DEMO_SHARED_PHONE) == sorted(
            [DEMO_ARREARS, DEMO_NONRES_ARREARS]
        )
        assert svc.accounts_for_phone(s, phone="13900000000") == []
        assert svc.accounts_for_phone(s, phone="") == []


def test_summary_of_unknown_account_is_none(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory() as s:
        assert svc.account_summary(s, account_no="0000000000", today=TODAY, now=NOW) is None


def expected_arrears(s: Session, account_no: str, category: str) -> billing.Arrears:
    bills = s.scalars(select(Bill).where(Bill.account_no == account_no, Bill.paid.is_(False)))
    unpaid = [billing.UnpaidBill(b.period, b.amount, b.due_date) for b in bills]
    return billing.compute_arrears(unpaid, category=category, today=TODAY)


def test_paid_up_account(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory() as s:
        summary = svc.account_summary(s, account_no=DEMO_PAID, today=TODAY, now=NOW)
        assert summary is not None
        assert summary.arrears == summary.late_fee == summary.amount_due == Decimal("0")
        assert summary.balance > 0
        assert summary.latest_bill is not None and summary.latest_bill.paid
        assert summary.latest_bill.period == "2025-05"
        assert summary.region == "呼和浩特市赛罕区" and summary.category == "居民"
        assert summary.outages == []


def test_residential_arrears_with_late_fee(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory() as s:
        summary = svc.account_summary(s, account_no=DEMO_ARREARS, today=TODAY, now=NOW)
        assert summary is not None
        expected = expected_arrears(s, DEMO_ARREARS, "居民")
        assert summary.arrears == expected.arrears > 0
        assert summary.late_fee == expected.late_fee >= Decimal("1.00")
        assert summary.amount_due == expected.amount_due
        overdue = s.scalars(
            select(Bill).where(Bill.account_no == DEMO_ARREARS, Bill.paid.is_(False))
        ).all()
        assert sum(b.amount for b in overdue if b.due_date < TODAY) == summary.arrears


def test_non_residential_arrears_across_two_years(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory() as s:
        summary = svc.account_summary(s, account_no=DEMO_NONRES_ARREARS, today=TODAY, now=NOW)
        assert summary is not None and summary.category == "非居民"
        unpaid = s.scalars(
            select(Bill.period).where(Bill.account_no == DEMO_NONRES_ARREARS, Bill.paid.is_(False))
        ).all()
        assert {p[:4] for p in unpaid} == {"2024", "2025"}
        assert summary.late_fee == expected_arrears(s, DEMO_NONRES_ARREARS, "非居民").late_fee
        assert summary.late_fee > 0


# --- outages ----------------------------------------------------------------------------


def test_demo_outages_cover_their_accounts(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory() as s:
        planned = svc.outages_for_account(s, account_no=DEMO_PLANNED_OUTAGE, at=NOW)
        assert [o.kind for o in planned] == ["planned"]
        assert planned[0].start <= NOW < planned[0].expected_restore
        assert planned[0].transformer_areas
        fault = svc.outages_for_account(s, account_no=DEMO_FAULT_OUTAGE, at=NOW)
        assert [o.kind for o in fault] == ["fault"] and fault[0].feeders
        assert svc.outages_for_account(s, account_no=DEMO_PAID, at=NOW) == []
        summary = svc.account_summary(s, account_no=DEMO_PLANNED_OUTAGE, today=TODAY, now=NOW)
        assert summary is not None and summary.outages == planned


def test_outage_time_window_and_restoration(session_factory: sessionmaker[Session]) -> None:
    from business.demo import load_demo_data

    load_demo_data(session_factory, accounts=0, now=NOW)
    start, restore = NOW, NOW + timedelta(hours=4)
    with session_factory.begin() as s:
        area_id, feeder_id = grid_of(s, DEMO_PAID)
        planned = svc.create_outage_notice(
            s,
            kind="planned",
            start=start,
            expected_restore=restore,
            reason="线路检修",
            area="测试区域",
            transformer_area_ids=[area_id],
        )
        fault = svc.create_outage_notice(
            s,
            kind="fault",
            start=start,
            expected_restore=restore,
            reason="线路故障",
            area="测试线路",
            feeder_ids=[feeder_id],
        )
    with session_factory() as s:

        def kinds(at: datetime) -> list[str]:
            return sorted(o.kind for o in svc.outages_for_account(s, account_no=DEMO_PAID, at=at))

        assert kinds(start - timedelta(seconds=1)) == []
        assert kinds(start) == ["fault", "planned"]
        assert kinds(restore - timedelta(seconds=1)) == ["fault", "planned"]
        # Past the expected restore time: the planned notice ends, the fault stays until restored.
        assert kinds(restore) == ["fault"]
        assert kinds(restore + timedelta(days=1)) == ["fault"]
        assert svc.outages_for_account(s, account_no="0000000000", at=NOW) == []
    with session_factory.begin() as s:
        svc.restore_outage(s, id=fault.id, at=restore + timedelta(hours=1))
    with session_factory() as s:
        assert kinds(restore + timedelta(minutes=30)) == ["fault"]
        assert kinds(restore + timedelta(hours=2)) == []
        assert planned.id in {o.id for o in svc.list_outages(s)}


def test_outage_notice_validation(session: Session) -> None:
    with pytest.raises(InvalidInput, match="至少包含"):
        svc.create_outage_notice(
            session,
            kind="planned",
            start=NOW,
            expected_restore=NOW + timedelta(hours=1),
            reason="x",
            area="x",
        )
    with pytest.raises(InvalidInput, match="晚于"):
        svc.create_outage_notice(
            session,
            kind="planned",
            start=NOW,
            expected_restore=NOW,
            reason="x",
            area="x",
            feeder_ids=[1],
        )
    with pytest.raises(InvalidInput, match="时区"):
        svc.outages_for_account(session, account_no=DEMO_PAID, at=datetime(2025, 1, 1))


# --- work orders ------------------------------------------------------------------------


def new_order(
    s: Session, number: str, account_no: str = DEMO_PAID, **kw: object
) -> svc.WorkOrderInfo:
    return svc.create_work_order(
        s,
        number=number,
        account_no=account_no,
        type="故障报修",
        created_by="ivr",
        created_at=NOW,
        **kw,
    )


def test_open_repair_order(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory() as s:
        order = svc.open_repair_order(s, account_no=DEMO_OPEN_REPAIR)
        assert order is not None and order.number == DEMO_WORK_ORDER and order.status == "派工"
        assert svc.open_repair_order(s, account_no=DEMO_PAID) is None


def test_create_work_order_is_idempotent(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory.begin() as s:
        first = new_order(
            s,
            "250615000001",
            fault_kind="电线落地",
            urgent=True,
            contact_phone="+86 138 0000 1111",
            source_call_id="call-1",
        )
    with demo_factory.begin() as s:
        again = new_order(
            s, "250615000001", fault_kind="电线落地", urgent=True, source_call_id="call-1"
        )
        assert again == first
        with pytest.raises(Conflict):
            new_order(s, "250615000001", account_no=DEMO_ARREARS, source_call_id="call-1")
    with demo_factory() as s:
        detail = svc.get_work_order(s, number="250615000001")
        assert detail is not None
        assert detail.order.urgent and detail.order.contact_phone == "13800001111"
        assert detail.order.status == "受理"
        assert [(t.from_status, t.to_status) for t in detail.transitions] == [(None, "受理")]
        assert svc.list_work_orders(s, account_no=DEMO_PAID).total == 1


def test_arrival_deadline_uses_the_account_area(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory.begin() as s:
        order = new_order(s, "250615000002")
        assert order.arrival_deadline == NOW + timedelta(minutes=45)  # demo account is urban
        rural = s.scalars(select(Account).where(Account.area_type == "remote").limit(1)).first()
        assert rural is not None
        remote = new_order(s, "250615000003", account_no=rural.account_no)
        assert remote.arrival_deadline == NOW + timedelta(minutes=120)
        consult = svc.create_work_order(
            s, number="250615000004", account_no=None, type="咨询", created_by="agent1"
        )
        assert consult.arrival_deadline is None and consult.created_at.tzinfo is not None


def test_create_work_order_bad_input(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory() as s:
        with pytest.raises(NotFound, match="户号不存在"):
            new_order(s, "250615000009", account_no="9999999999")
        with pytest.raises(InvalidInput, match="工单类型"):
            svc.create_work_order(s, number="1", account_no=None, type="表扬", created_by="x")
        with pytest.raises(InvalidInput, match="工单号"):
            new_order(s, "WO-1")


def test_full_status_flow_with_reopen(demo_factory: sessionmaker[Session]) -> None:
    steps = [
        ("派工", None),
        ("到达现场", None),
        ("处理完成", None),
        ("回访", None),
        ("派工", "客户不满意，重新派工"),
        ("到达现场", None),
        ("处理完成", None),
        ("回访", None),
        ("归档", None),
    ]
    with demo_factory.begin() as s:
        new_order(s, "250615000010")
    for status, reason in steps:
        with demo_factory.begin() as s:
            info = svc.transition_work_order(
                s, number="250615000010", to_status=status, actor="班组长", reason=reason
            )
            assert info.status == status
    with demo_factory() as s:
        detail = svc.get_work_order(s, number="250615000010")
        assert detail is not None
        assert [t.to_status for t in detail.transitions] == ["受理"] + [x for x, _ in steps]
        assert all(t.actor for t in detail.transitions)
        assert detail.transitions[5].reason == "客户不满意，重新派工"
        assert all(t.at.tzinfo is not None for t in detail.transitions)
        with pytest.raises(IllegalTransition, match="归档"):
            svc.transition_work_order(s, number="250615000010", to_status="派工", actor="x")


def test_illegal_transition_changes_nothing(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory.begin() as s:
        new_order(s, "250615000011")
    with demo_factory() as s:
        with pytest.raises(IllegalTransition) as info:
            svc.transition_work_order(s, number="250615000011", to_status="归档", actor="x")
        assert "受理" in info.value.reason
        with pytest.raises(IllegalTransition, match="原因"):
            svc.transition_work_order(s, number="250615000011", to_status="撤销", actor="x")
        with pytest.raises(NotFound):
            svc.transition_work_order(s, number="1", to_status="派工", actor="x")
        s.rollback()
    with demo_factory.begin() as s:
        svc.transition_work_order(
            s, number="250615000011", to_status="撤销", actor="坐席", reason="客户已自行修复"
        )
    with demo_factory() as s:
        count = len(
            s.scalars(
                select(WorkOrderTransition)
                .join(WorkOrderTransition.work_order)
                .where(WorkOrderTransition.to_status == "撤销")
            ).all()
        )
        assert count == 1
        assert svc.open_repair_order(s, account_no=DEMO_PAID) is None


def test_list_work_orders_filters_and_paging(demo_factory: sessionmaker[Session]) -> None:
    with demo_factory.begin() as s:
        for i in range(5):
            svc.create_work_order(
                s,
                number=f"25061500010{i}",
                account_no=DEMO_PAID,
                type="投诉" if i % 2 else "故障报修",
                created_by="ivr",
                created_at=NOW + timedelta(minutes=i),
            )
    with demo_factory() as s:
        page = svc.list_work_orders(s, account_no=DEMO_PAID, limit=2)
        assert page.total == 5 and [o.number for o in page.items] == [
            "250615000104",
            "250615000103",
        ]
        page2 = svc.list_work_orders(s, account_no=DEMO_PAID, limit=2, offset=4)
        assert [o.number for o in page2.items] == ["250615000100"]
        assert svc.list_work_orders(s, account_no=DEMO_PAID, type="投诉").total == 2
        assert svc.list_work_orders(s, status="派工").total >= 1  # the demo open order
        with pytest.raises(InvalidInput):
            svc.list_work_orders(s, limit=0)


# --- callbacks, call records, announcements ---------------------------------------------


def test_callback_requests_idempotent(session_factory: sessionmaker[Session]) -> None:
    kwargs = dict(
        id="cb-1",
        phone="13800001111",
        account_no=None,
        reason="人工服务繁忙",
        source_call_id="call-9",
        created_at=NOW.isoformat(),
    )
    with session_factory.begin() as s:
        first = svc.create_callback_request(s, **kwargs)
    with session_factory.begin() as s:
        assert svc.create_callback_request(s, **kwargs) == first
        with pytest.raises(Conflict):
            svc.create_callback_request(s, **{**kwargs, "phone": "13800002222"})
    with session_factory() as s:
        page = svc.list_callback_requests(s)
        assert page.total == 1 and page.items[0].status == "待回拨"
        assert page.items[0].created_at == NOW


def test_call_record_snapshots_replace(session_factory: sessionmaker[Session]) -> None:
    base = {"id": "c1", "caller": "13800001111", "started_at": NOW, "ivr_path": ["greeting"]}
    with session_factory.begin() as s:
        svc.upsert_call_record(s, record=base)
        svc.upsert_call_record(s, record={**base, "id": "c2", "started_at": NOW + timedelta(1)})
    final = {
        **base,
        "ivr_path": ["greeting", "menu", "bill"],
        "keys": ["1", "5010000001#"],
        "prompts": ["您好，这里是95598", "您的余额为五十六元三角"],
        "result": "completed",
        "ended_at": (NOW + timedelta(minutes=2)).isoformat(),
        "hangup_by": "caller",
        "sip_cause": 200,
        "account_no": DEMO_PAID,
    }
    with session_factory.begin() as s:
        svc.upsert_call_record(s, record=final)
    with session_factory() as s:
        rec = svc.get_call_record(s, id="c1")
        assert rec is not None
        assert rec.prompts == final["prompts"] and rec.keys == final["keys"]
        assert rec.ended_at == NOW + timedelta(minutes=2) and rec.sip_cause == 200
        page = svc.list_call_records(s)
        assert [r.id for r in page.items] == ["c2", "c1"] and page.total == 2
        assert [r.id for r in svc.list_call_records(s, active=True).items] == ["c2"]
        with pytest.raises(InvalidInput, match="未知字段"):
            svc.upsert_call_record(s, record={**base, "colour": "red"})
        with pytest.raises(InvalidInput, match="started_at"):
            svc.upsert_call_record(s, record={"id": "c3"})


def test_emergency_announcement(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        assert svc.get_emergency_announcement(s, now=NOW) is None
        svc.set_emergency_announcement(
            s,
            text="因大风天气，部分地区停电，正在抢修。",
            expires_at=NOW + timedelta(hours=2),
            now=NOW,
        )
    with session_factory.begin() as s:
        assert svc.get_emergency_announcement(s, now=NOW + timedelta(hours=1)) == (
            "因大风天气，部分地区停电，正在抢修。"
        )
        assert svc.get_emergency_announcement(s, now=NOW + timedelta(hours=2)) is None
        svc.set_emergency_announcement(s, text="新公告", expires_at=None, now=NOW)
        assert svc.get_emergency_announcement(s, now=NOW + timedelta(days=30)) == "新公告"
        with pytest.raises(InvalidInput):
            svc.set_emergency_announcement(s, text="  ", expires_at=None, now=NOW)
        with pytest.raises(InvalidInput):
            svc.set_emergency_announcement(s, text="x", expires_at=NOW, now=NOW)
    with session_factory.begin() as s:
        svc.clear_emergency_announcement(s)
    with session_factory() as s:
        assert svc.get_emergency_announcement(s, now=NOW) is None


def test_naive_datetimes_are_refused(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, pytest.raises(InvalidInput, match="时区"):
        svc.upsert_call_record(s, record={"id": "c", "started_at": datetime(2025, 1, 1)})


def test_timestamps_round_trip_as_utc(session_factory: sessionmaker[Session]) -> None:
    from datetime import timezone

    beijing = NOW.astimezone(timezone(timedelta(hours=8)))
    with session_factory.begin() as s:
        svc.upsert_call_record(s, record={"id": "tz", "started_at": beijing})
    with session_factory() as s:
        rec = svc.get_call_record(s, id="tz")
        assert rec is not None and rec.started_at == NOW and rec.started_at.tzinfo == UTC
