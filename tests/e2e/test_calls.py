"""Calls from real SIP peers (pjsua2 callers, SIPp) into the running product.

One product (2 media workers x 4 legs, SQLite, demo data) serves every test of this module;
each test calls from its own caller numbers and finds its records by them.
"""

from __future__ import annotations

import threading
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from business import services
from business.demo import (
    DEMO_ACCOUNTS,
    DEMO_ARREARS,
    DEMO_PAID,
    DEMO_PHONE,
    DEMO_PLANNED_OUTAGE,
)
from business.models import Account
from tests.e2e import expected
from tests.e2e.harness import Product, china_now, fresh_caller_number, run_sipp, wait_for
from tests.e2e.journeys import answered, bill_query, key_account, wait_prompt

pytestmark = pytest.mark.sip
# Keys are asserted as the caller sent them, one entry per input, the account number with the
# "#" that ended it (ivr/flow/record.py: keys "1", "1502000001#"). Asserted last in each test.
REPAIR = "故障报修"


@pytest.fixture(scope="module")
def plain_accounts(product: Product) -> list[str]:
    """Generated accounts with no outage and no open repair order, one set per module."""
    now = china_now()
    found: list[str] = []
    with product.session() as s:
        query = (select(Account.account_no).where(Account.account_no.not_in(DEMO_ACCOUNTS))
                 .order_by(Account.account_no).limit(300))
        for account_no in s.scalars(query):
            if services.outages_for_account(s, account_no=account_no, at=now):
                continue
            if services.open_repair_order(s, account_no=account_no):
                continue
            found.append(account_no)
            if len(found) == 12:
                return found
    raise AssertionError(f"only {len(found)} accounts without outage or open order")


def repair_orders(product: Product, account_no: str) -> dict[str, dict]:
    return {o["number"]: o for o in product.work_orders(account_no=account_no, type=REPAIR)}


def assert_recording(product: Product, record: dict) -> None:
    path = Path(record["recording_path"])
    assert path.is_relative_to(product.data_dir.resolve()), path
    wait_for(path.exists, 10, f"recording {path}")
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (8000, 1)
        assert wav.getnframes() > 8000  # more than a second of the call


# ------------------------------------------------------------------------ 1 bill query


def test_bill_query_reads_the_accounts_amounts(product: Product) -> None:
    number = fresh_caller_number(product)
    summary = product.summary(DEMO_ARREARS)
    assert summary is not None and summary.arrears > 0 and summary.late_fee > 0
    caller = product.caller(number)
    record_id = answered(product, caller)
    key_account(product, caller, record_id, "1", DEMO_ARREARS)
    product.wait_node(record_id, "after_service", timeout=90)
    caller.send("wait:0.5", "dtmf:2")  # 结束通话 -> goodbye -> the IVR hangs up
    result = caller.result(timeout=60)
    assert result["connected"] and result["hangup_by"] == "remote", result

    record = product.wait_record(sip_call_id=result["call_id"])
    assert record["caller"] == number
    assert record["result"] == "bill_query"
    assert record["account_no"] == DEMO_ARREARS
    prompts = record["prompts"]
    assert prompts[0] == expected.GREETING
    bill = expected.bill_prompts(summary)
    assert [p for p in prompts if p in bill] == bill, prompts
    assert expected.confirm_account(DEMO_ARREARS) in prompts
    assert prompts[-1] == expected.GOODBYE
    assert record["hangup_by"] == "system" and record["ended_at"]
    assert_recording(product, record)
    assert record["keys"] == ["1", f"{DEMO_ARREARS}#", "1", "2"]


# ------------------------------------------------------------------------ 2 repair


def _report_fault(product: Product, number: str, account_no: str) -> dict:
    caller = product.caller(number)
    record_id = answered(product, caller)
    key_account(product, caller, record_id, "2", account_no)
    return {"caller": caller, "record_id": record_id}


def test_repair_opens_exactly_one_order_and_a_second_call_hears_it(
        product: Product, plain_accounts: list[str]) -> None:
    account_no = plain_accounts[0]
    before = repair_orders(product, account_no)
    number = fresh_caller_number(product)

    call = _report_fault(product, number, account_no)
    caller, record_id = call["caller"], call["record_id"]
    product.wait_node(record_id, "repair_kind")
    caller.dtmf("1")  # 本户停电
    wait_prompt(product, record_id, expected.confirm_contact(number))
    caller.dtmf("1")  # the caller's number is the contact
    product.wait_node(record_id, "after_service")
    result = caller.hangup()
    assert result["connected"], result

    record = product.wait_record(sip_call_id=result["call_id"])
    new = wait_for(lambda: {n: o for n, o in repair_orders(product, account_no).items()
                            if n not in before}, 20, "the new work order")
    assert len(new) == 1, new
    (order_no, order), = new.items()
    assert order["type"] == REPAIR and order["status"] == "受理"
    assert order["fault_kind"] == "本户停电" and order["urgent"] is False
    assert order["contact_phone"] == number
    assert order["source_call_id"] == record["id"]
    assert record["result"] == "repair_created"
    assert expected.repair_created(order_no) in record["prompts"], record["prompts"]

    # A second call for the same account is told about the order; no other one is opened.
    second_number = fresh_caller_number(product)
    call = _report_fault(product, second_number, account_no)
    product.wait_node(call["record_id"], "after_service")
    second = call["caller"].hangup()
    record2 = product.wait_record(sip_call_id=second["call_id"])
    assert record2["result"] == "repair_existing"
    assert expected.repair_existing(order_no, "受理") in record2["prompts"], record2["prompts"]
    assert "repair_kind" not in record2["ivr_path"]
    time.sleep(2)  # give a wrongly journaled second order the time to show
    after = repair_orders(product, account_no)
    assert set(after) - set(before) == {order_no}
    assert record["keys"] == ["2", f"{account_no}#", "1", "1", "1"]


# ------------------------------------------------------------------------ 3 planned outage


def test_repair_in_a_planned_outage_announces_it_and_opens_no_order(product: Product) -> None:
    now = china_now()
    with product.session() as s:
        outages = services.outages_for_account(s, account_no=DEMO_PLANNED_OUTAGE, at=now)
    assert len(outages) == 1 and outages[0].kind == "planned", outages
    outage = outages[0]
    before = repair_orders(product, DEMO_PLANNED_OUTAGE)

    number = fresh_caller_number(product)
    call = _report_fault(product, number, DEMO_PLANNED_OUTAGE)
    product.wait_node(call["record_id"], "after_service")
    result = call["caller"].hangup()
    record = product.wait_record(sip_call_id=result["call_id"])
    announcement = expected.repair_outage("计划停电", outage.reason,
                                          outage.expected_restore.astimezone(now.tzinfo))
    assert announcement in record["prompts"], record["prompts"]
    assert record["result"] == "outage_notified"
    assert "repair_kind" not in record["ivr_path"]
    assert "repair_create" not in record["ivr_path"]
    time.sleep(2)
    assert repair_orders(product, DEMO_PLANNED_OUTAGE) == before


# ------------------------------------------------------------------------ 4 bad input


def _unknown_account(product: Product, number: str, account_no: str) -> dict:
    caller = product.caller(number)
    record_id = answered(product, caller)
    key_account(product, caller, record_id, "1", account_no)
    wait_prompt(product, record_id, expected.ASK_ACCOUNT, count=2)  # asked again
    caller.hangup()
    return product.wait_record(caller=number)


def _no_input(product: Product, number: str) -> dict:
    caller = product.caller(number)
    record_id = answered(product, caller)
    wait_prompt(product, record_id, expected.CALLBACK_OFFER, timeout=90)
    caller.hangup()
    return product.wait_record(caller=number)


def _invalid_key(product: Product, number: str) -> dict:
    caller = product.caller(number)
    record_id = answered(product, caller)
    product.wait_node(record_id, "main_menu")
    caller.dtmf("7")
    wait_prompt(product, record_id, expected.MAIN_MENU, count=2)
    caller.hangup()
    return product.wait_record(caller=number)


def test_unknown_account_no_input_and_invalid_key(product: Product) -> None:
    unknown = "5999999999"
    with product.session() as s:
        assert s.get(Account, unknown) is None
    numbers = [fresh_caller_number(product) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        f_unknown = pool.submit(_unknown_account, product, numbers[0], unknown)
        f_silent = pool.submit(_no_input, product, numbers[1])
        f_invalid = pool.submit(_invalid_key, product, numbers[2])
        unknown_rec, silent_rec, invalid_rec = (f.result() for f in (f_unknown, f_silent,
                                                                     f_invalid))

    # Unknown account: a clear prompt, then the account is asked for again.
    prompts = unknown_rec["prompts"]
    i = prompts.index(expected.ACCOUNT_NOT_FOUND)
    assert prompts[i + 1] == expected.ASK_ACCOUNT, prompts
    assert unknown_rec["hangup_by"] == "caller" and unknown_rec["ended_at"]

    # No input at the menu: re-prompted, then the agent / callback offer.
    assert silent_rec["keys"] == []
    assert silent_rec["prompts"][1:] == [
        expected.MAIN_MENU, expected.NO_INPUT, expected.MAIN_MENU, expected.NO_INPUT,
        expected.MAIN_MENU, expected.AGENTS_BUSY, expected.CALLBACK_OFFER], silent_rec["prompts"]

    # Invalid key: the invalid-input prompt, then the menu again.
    assert invalid_rec["keys"] == ["7"]
    assert invalid_rec["prompts"][1:] == [expected.MAIN_MENU, expected.INVALID_KEY,
                                          expected.MAIN_MENU], invalid_rec["prompts"]
    assert unknown_rec["keys"] == ["1", f"{unknown}#", "1"]


# ------------------------------------------------------------------------ 5 hang-up


def test_hangup_mid_prompt_leaves_a_complete_record_and_no_active_call(
        product: Product) -> None:
    number = fresh_caller_number(product)
    caller = product.caller(number)
    record_id = answered(product, caller)
    wait_prompt(product, record_id, expected.GREETING)
    caller.send("wait:1")
    result = caller.hangup()
    assert result["connected"] and result["hangup_by"] == "caller"

    record = product.wait_record(sip_call_id=result["call_id"])
    assert record["id"] == record_id
    assert record["ended_at"] and record["answered_at"]
    assert record["hangup_by"] == "caller"
    assert record["result"] == "caller_hangup"
    assert record["prompts"] == [expected.GREETING]
    assert_recording(product, record)

    def idle() -> bool:
        health = product.health()
        return (not product.calls()["active"] and health["calls_in_progress"] == 0
                and health["media"]["legs_in_use"] == 0)
    wait_for(idle, 10, "no active call and no leg in use")


# ------------------------------------------------------------------------ 6 SIP INFO


def test_dtmf_by_sip_info_works_like_rfc4733(product: Product,
                                             plain_accounts: list[str]) -> None:
    account_no = plain_accounts[1]
    summary = product.summary(account_no)
    number = fresh_caller_number(product)
    record_id = bill_query(product, product.caller(number), account_no, method="info")
    record = product.wait_record(caller=number)
    assert record["id"] == record_id
    assert record["result"] == "bill_query"
    assert expected.bill_prompts(summary) == [
        p for p in record["prompts"] if p in expected.bill_prompts(summary)]
    assert record["keys"] == ["1", f"{account_no}#", "1"]


# ------------------------------------------------------------------------ 7 caller number


def test_caller_number_offers_its_account(product: Product) -> None:
    with product.session() as s:
        assert services.accounts_for_phone(s, phone=DEMO_PHONE) == [DEMO_PAID]
    summary = product.summary(DEMO_PAID)
    caller = product.caller(DEMO_PHONE)
    record_id = answered(product, caller)
    wait_prompt(product, record_id, expected.caller_account_offer(DEMO_PAID))
    caller.dtmf("1")  # that is my account
    product.wait_node(record_id, "main_menu")
    caller.dtmf("1")  # 电费查询, no account number asked
    product.wait_node(record_id, "bill_latest_check")
    wait_prompt(product, record_id, expected.bill_prompts(summary)[-1])
    result = caller.hangup()
    record = product.wait_record(sip_call_id=result["call_id"])
    assert record["keys"] == ["1", "1"]
    assert "ask_account" not in record["ivr_path"]
    assert "confirm_account" not in record["ivr_path"]
    assert record["result"] == "bill_query" and record["account_no"] == DEMO_PAID
    bill = expected.bill_prompts(summary)
    assert [p for p in record["prompts"] if p in bill] == bill


# ------------------------------------------------------------------------ 8 sipp


def test_sipp_walks_the_menu_with_pcap_rtp_and_dtmf(product: Product,
                                                    tmp_path: Path) -> None:
    number = fresh_caller_number(product)
    summary = product.summary(DEMO_ARREARS)
    run = run_sipp("bill_query.xml", product.ports.sip, tmp_path,
                   keys={"caller": number}, presses=f"1{DEMO_ARREARS}#1")
    assert run.returncode == 0, run.describe()
    record = product.wait_record(caller=number)
    assert record["result"] == "bill_query"
    assert record["hangup_by"] == "caller"
    assert expected.bill_prompts(summary)[0] in record["prompts"], record["prompts"]
    assert record["keys"] == ["1", f"{DEMO_ARREARS}#", "1"]


# ------------------------------------------------------------------------ 9 capacity


def test_more_concurrent_calls_than_one_worker_holds(product: Product,
                                                     plain_accounts: list[str]) -> None:
    accounts = plain_accounts[2:8]
    summaries = {a: product.summary(a) for a in accounts}
    numbers = [fresh_caller_number(product) for _ in accounts]
    callers = [product.caller(n) for n in numbers]
    for caller in callers:
        caller.connected(timeout=20)
    health = product.health()
    legs = [w["legs_in_use"] for w in health["media"]["workers"]]
    assert health["calls_in_progress"] == 6 and sum(legs) == 6, health
    assert max(legs) <= 4 and min(legs) >= 2, legs  # both workers carry calls

    errors: list[BaseException] = []
    lock = threading.Lock()

    def serve(caller, account_no: str) -> None:
        try:
            bill_query(product, caller, account_no)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=serve, args=(c, a)) for c, a in zip(callers, accounts,
                                                                            strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert not errors, errors
    records = [product.wait_record(caller=n) for n in numbers]
    for record, account_no in zip(records, accounts, strict=True):
        assert record["ended_at"] and record["hangup_by"] == "caller"
        assert record["result"] == "bill_query"
        assert expected.bill_prompts(summaries[account_no])[0] in record["prompts"]
    assert {r["media_leg_id"].split(".")[0] for r in records} == {"w0", "w1"}
    wait_for(lambda: product.health()["calls_in_progress"] == 0, 10, "all calls ended")
    assert [r["keys"] for r in records] == [["1", f"{a}#", "1"] for a in accounts]


# ------------------------------------------------------------------------ 10 emergency


def _menu_prompts(product: Product) -> list[str]:
    number = fresh_caller_number(product)
    caller = product.caller(number)
    record_id = answered(product, caller)
    wait_prompt(product, record_id, expected.MAIN_MENU)
    caller.hangup()
    return product.wait_record(caller=number)["prompts"]


def test_emergency_announcement_before_the_menu(product: Product) -> None:
    text = "因暴雪影响，锡林郭勒盟部分地区停电，抢修人员正在全力抢修。"
    reply = product.http.put("/api/announcements/emergency",
                             json={"text": text, "expires_in_minutes": 30})
    assert reply.status_code == 200, reply.text
    try:
        prompts = _menu_prompts(product)
        assert prompts == [expected.GREETING, f"紧急通知：{text}", expected.MAIN_MENU], prompts
    finally:
        deleted = product.http.delete("/api/announcements/emergency")
    assert deleted.status_code == 204, deleted.text
    prompts = _menu_prompts(product)
    assert prompts == [expected.GREETING, expected.MAIN_MENU], prompts
