"""Journal durability: entries reach the database exactly once, across outages and crashes."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from business import services as svc
from business.db import make_session_factory
from business.demo import DEMO_PAID, load_demo_data
from business.errors import InvalidInput
from business.journal import Journal, JournalBusy
from business.models import CallbackRequest, CallRecord, WorkOrder
from tests.business.conftest import NOW, Outage


@pytest.fixture
def loaded(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    load_demo_data(session_factory, accounts=0, now=NOW)  # the fixed demo accounts only
    return session_factory


@pytest.fixture
def journal(tmp_path: Path, loaded: sessionmaker[Session]) -> Iterator[Journal]:
    with Journal(tmp_path / "journal", loaded) as j:
        yield j


def order(number: str, call: str = "call-1") -> dict:
    return {
        "number": number,
        "account_no": DEMO_PAID,
        "type": "故障报修",
        "created_by": "ivr",
        "fault_kind": "本户停电",
        "contact_phone": "13800001111",
        "source_call_id": call,
    }


def callback(id: str) -> dict:
    return {
        "id": id,
        "phone": "13800001111",
        "account_no": DEMO_PAID,
        "reason": "数据库不可用",
        "source_call_id": "call-1",
    }


def call(id: str, **kw: object) -> dict:
    return {"id": id, "caller": "13800001111", "started_at": NOW, **kw}


def counts(factory: sessionmaker[Session]) -> tuple[int, int, int]:
    with factory() as s:
        return tuple(  # type: ignore[return-value]
            s.scalar(select(func.count()).select_from(m)) or 0
            for m in (WorkOrder, CallbackRequest, CallRecord)
        )


def demo_orders(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(WorkOrder)) or 0


def test_append_is_durable_json_lines(journal: Journal) -> None:
    entry_id = journal.append("work_order.create", order("250615000001"))
    lines = [
        json.loads(x)
        for p in journal.directory.glob("segment-*.jsonl")
        for x in p.read_text(encoding="utf-8").splitlines()
    ]
    assert len(lines) == 1 and lines[0]["id"] == entry_id
    assert lines[0]["kind"] == "work_order.create" and lines[0]["payload"]["created_at"]
    assert journal.pending_count() == 1


def test_apply_in_order_and_exactly_once(journal: Journal, loaded: sessionmaker[Session]) -> None:
    base = demo_orders(loaded)
    journal.append("call.upsert", call("c1", ivr_path=["greeting"]))
    journal.append("work_order.create", order("250615000001"))
    journal.append("callback.create", callback("cb-1"))
    journal.append("call.upsert", call("c1", ivr_path=["greeting", "menu"], result="done"))
    assert journal.apply_pending() == 4
    assert journal.apply_pending() == 0 and journal.pending_count() == 0
    assert counts(loaded) == (base + 1, 1, 1)
    with loaded() as s:
        rec = svc.get_call_record(s, id="c1")
        assert rec is not None and rec.ivr_path == ["greeting", "menu"] and rec.result == "done"
        wo = svc.get_work_order(s, number="250615000001")
        assert wo is not None and wo.order.created_at.tzinfo is not None


def test_replay_after_lost_progress_is_a_no_op(
    journal: Journal, loaded: sessionmaker[Session]
) -> None:
    base = demo_orders(loaded)
    journal.append("work_order.create", order("250615000001"))
    journal.append("call.upsert", call("c1", result="first"))
    journal.append("call.upsert", call("c1", result="last"))
    assert journal.apply_pending() == 3
    # A crash between the commits and the progress write: everything replays.
    (journal.directory / "applied.json").unlink()
    assert journal.apply_pending() == 3
    assert counts(loaded) == (base + 1, 0, 1)
    with loaded() as s:
        rec = svc.get_call_record(s, id="c1")
        assert rec is not None and rec.result == "last"


def test_bad_input_is_refused_at_append(journal: Journal) -> None:
    with pytest.raises(InvalidInput, match="未知的日志类型"):
        journal.append("order.delete", {})
    with pytest.raises(InvalidInput, match="缺少字段"):
        journal.append("work_order.create", {"number": "1", "type": "咨询", "account_no": None})
    with pytest.raises(InvalidInput, match="未知字段"):
        journal.append("callback.create", {**callback("x"), "priority": 1})
    with pytest.raises(InvalidInput):
        journal.append("call.upsert", {"id": "c"})
    with pytest.raises(InvalidInput, match="工单号"):
        journal.append("work_order.create", order("WO-1"))
    assert journal.pending_count() == 0


def test_permanent_error_sets_the_entry_aside(
    journal: Journal, loaded: sessionmaker[Session]
) -> None:
    base = demo_orders(loaded)
    bad = order("250615000001")
    bad["account_no"] = "9999999999"  # no such account
    journal.append("work_order.create", bad)
    journal.append("work_order.create", order("250615000002"))
    assert journal.apply_pending() == 1
    assert counts(loaded)[0] == base + 1 and not journal.blocked
    rejected = journal.rejected()
    assert len(rejected) == 1 and "户号不存在" in rejected[0]["error"]
    assert rejected[0]["entry"]["payload"]["number"] == "250615000001"


def test_torn_tail_after_a_crash(tmp_path: Path, loaded: sessionmaker[Session]) -> None:
    directory = tmp_path / "journal"
    with Journal(directory, loaded) as j:
        j.append("callback.create", callback("cb-1"))
    segment = next(directory.glob("segment-*.jsonl"))
    with open(segment, "ab") as f:
        f.write(b'{"id": "torn", "kind": "callback.cre')  # the process died mid-write
    with Journal(directory, loaded) as j:
        j.append("callback.create", callback("cb-2"))
        assert j.apply_pending() == 2
        assert [r["error"][:6] for r in j.rejected()] == ["损坏的日志行"]
    assert counts(loaded)[1] == 2


def test_segments_rotate_and_applied_ones_are_removed(
    tmp_path: Path, loaded: sessionmaker[Session]
) -> None:
    with Journal(tmp_path / "j", loaded, segment_bytes=600) as j:
        for i in range(12):
            j.append("callback.create", callback(f"cb-{i}"))
        assert len(list(j.directory.glob("segment-*.jsonl"))) > 3
        assert j.apply_pending() == 12
        assert len(list(j.directory.glob("segment-*.jsonl"))) == 1
        j.append("callback.create", callback("cb-last"))
        assert j.apply_pending() == 1
    assert counts(loaded)[1] == 13


def test_one_journal_per_directory(journal: Journal, loaded: sessionmaker[Session]) -> None:
    with pytest.raises(JournalBusy):
        Journal(journal.directory, loaded)


def test_work_order_numbers_unique_across_threads_and_restarts(
    tmp_path: Path, loaded: sessionmaker[Session]
) -> None:
    numbers: list[str] = []
    with Journal(tmp_path / "j", loaded) as j:

        def grab() -> None:
            for _ in range(50):
                numbers.append(j.allocate_work_order_number())

        threads = [threading.Thread(target=grab) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    with Journal(tmp_path / "j", loaded) as j:  # a restart
        numbers.append(j.allocate_work_order_number())
    assert len(set(numbers)) == len(numbers) == 201
    assert all(n.isdigit() and len(n) == 12 for n in numbers)
    assert max(numbers) == numbers[-1]


def test_database_outage_then_recovery(
    outage: Outage, tmp_path: Path, loaded: sessionmaker[Session]
) -> None:
    base = demo_orders(loaded)
    engine = outage.engine()
    with Journal(tmp_path / "j", make_session_factory(engine)) as j:
        j.append("work_order.create", order("250615000001"))
        j.append("call.upsert", call("c1", result="in progress"))
        assert j.apply_pending() == 2
        outage.down()
        j.append("work_order.create", order("250615000002", call="call-2"))
        j.append("callback.create", callback("cb-1"))
        j.append("call.upsert", call("c1", result="completed"))
        assert j.apply_pending() == 0
        assert j.blocked and j.last_error and j.pending_count() == 3
        assert j.apply_pending() == 0 and j.pending_count() == 3  # still down: still pending
        outage.up()
        assert j.apply_pending() == 3
        assert not j.blocked and j.pending_count() == 0
        assert j.apply_pending() == 0
    engine.dispose()
    assert counts(loaded) == (base + 2, 1, 1)
    with loaded() as s:
        rec = svc.get_call_record(s, id="c1")
        assert rec is not None and rec.result == "completed"


def test_background_loop_retries_until_the_database_returns(
    outage: Outage, tmp_path: Path, loaded: sessionmaker[Session]
) -> None:
    base = demo_orders(loaded)
    engine = outage.engine()

    async def scenario(j: Journal) -> None:
        stop = asyncio.Event()
        runner = asyncio.create_task(j.run(stop))
        await asyncio.sleep(0.05)
        j.append("callback.create", callback("cb-loop"))  # from the loop thread
        await wait_for(lambda: counts(loaded)[1] == 1, 5)
        outage.down()
        await asyncio.to_thread(j.append, "work_order.create", order("250615000003"))
        await asyncio.to_thread(j.append, "call.upsert", call("c9", result="completed"))
        await asyncio.sleep(1.0)
        assert counts(loaded) == (base, 1, 0) and j.blocked
        outage.up()
        await wait_for(lambda: counts(loaded) == (base + 1, 1, 1), 15)
        stop.set()
        await asyncio.wait_for(runner, 10)

    with Journal(tmp_path / "j", make_session_factory(engine), max_backoff=0.5) as j:
        asyncio.run(scenario(j))
        assert j.pending_count() == 0
    engine.dispose()


async def wait_for(condition, timeout: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def test_created_at_is_the_append_time_not_the_apply_time(
    journal: Journal, loaded: sessionmaker[Session]
) -> None:
    journal.append("work_order.create", {**order("250615000005"), "created_at": NOW})
    time.sleep(0.01)
    journal.apply_pending()
    with loaded() as s:
        wo = svc.get_work_order(s, number="250615000005")
        assert wo is not None and wo.order.created_at == NOW
        assert wo.order.arrival_deadline == NOW + timedelta(minutes=45)
